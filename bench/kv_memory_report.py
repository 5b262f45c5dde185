#!/usr/bin/env python3
"""Collects bench/kv_memory.sh's raw outputs into docs/kv-memory.json, an SVG plot of process
memory vs context (measured peak RSS against weights + the KV formula), and prints the markdown
tables docs/kv-memory.md quotes."""
import glob
import json
import os
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def main(raw, model, out_json, out_svg):
    bench = load(os.path.join(raw, "bench.json"))["benchmarks"]
    waste = [{"label": b["label"], "waste_pct": b["waste_pct"], "bytes_used": b["bytes_used"],
              "bytes_holding_tokens": b["bytes_holding_tokens"]}
             for b in bench if b["name"].startswith("BM_Waste")]
    sharing = [{"label": b["label"], "wall_ms": b["real_time"], "prompt_tokens": b["prompt_tokens"],
                "computed_tokens": b["computed_tokens"], "peak_kv_bytes": b["peak_kv_bytes"]}
               for b in bench if b["name"].startswith("BM_SharedPrefix")]
    dtypes = []
    for dtype in ["f32", "f16", "bf16", "q8_0", "q4_0"]:
        rows = load(os.path.join(raw, f"tg-{dtype}.json"))
        size = load(os.path.join(raw, f"size-{dtype}.json"))
        tg = [r for r in rows if r["test"].startswith("tg")][0]
        pp = [r for r in rows if r["test"].startswith("pp")][0]
        dtypes.append({"dtype": dtype, "bytes_per_token": size["bytes_per_token"],
                       "tg_tokens_per_second": tg["tokens_per_second_median"],
                       "pp_tokens_per_second": pp["tokens_per_second_median"], "test": tg["test"]})
    memory = []
    for path in sorted(glob.glob(os.path.join(raw, "memory-*.json")),
                       key=lambda p: int(p.rsplit("-", 1)[1].split(".")[0])):
        row = load(path)[0]
        ctx = int(path.rsplit("-", 1)[1].split(".")[0])
        kv = row["kv_bytes_per_token"] * ctx
        memory.append({"ctx": ctx, "peak_rss_bytes": row["peak_rss_bytes"],
                       "weight_bytes": row["weight_bytes"], "kv_formula_bytes": kv})
    data = {"model": os.path.basename(model), "waste": waste, "prefix_sharing": sharing,
            "kv_dtypes": dtypes, "memory_vs_context": memory}
    with open(out_json, "w") as f:
        json.dump(data, f, indent=1)
    plot(memory, out_svg, os.path.basename(model))

    mib = 1024 * 1024
    print("| layout | KV bytes in use | bytes holding tokens | waste |\n|---|---:|---:|---:|")
    for w in waste:
        print(f"| {w['label']} | {w['bytes_used']/mib:.1f} MiB | {w['bytes_holding_tokens']/mib:.1f} MiB "
              f"| {w['waste_pct']:.2f}% |")
    print("\n| 32 requests | wall time | prompt tokens | computed | peak KV in use |\n|---|---:|---:|---:|---:|")
    for s in sharing:
        print(f"| {s['label']} | {s['wall_ms']/1000:.2f} s | {s['prompt_tokens']:.0f} | "
              f"{s['computed_tokens']:.0f} | {s['peak_kv_bytes']/mib:.1f} MiB |")
    if len(sharing) == 2:
        a, b = sharing
        print(f"\nsharing: {a['wall_ms']/b['wall_ms']:.1f}x less wall time, "
              f"{a['computed_tokens']/b['computed_tokens']:.1f}x fewer computed tokens, "
              f"{a['peak_kv_bytes']/b['peak_kv_bytes']:.1f}x less peak KV")
    print("\n| KV type | bytes/token | tg64 @ d1024 (t/s) | pp512 @ d1024 (t/s) |\n|---|---:|---:|---:|")
    for d in dtypes:
        print(f"| {d['dtype']} | {d['bytes_per_token']} | {d['tg_tokens_per_second']:.1f} | "
              f"{d['pp_tokens_per_second']:.1f} |")
    print("\n| context | peak RSS | weights + KV formula | difference |\n|---:|---:|---:|---:|")
    for m in memory:
        expected = m["weight_bytes"] + m["kv_formula_bytes"]
        print(f"| {m['ctx']} | {m['peak_rss_bytes']/mib:.1f} MiB | {expected/mib:.1f} MiB | "
              f"{(m['peak_rss_bytes']-expected)/mib:+.1f} MiB |")


def plot(memory, dst, model):
    w, h, left, right, top, bottom = 720, 420, 80, 20, 40, 50
    mib = 1024 * 1024
    xs = [m["ctx"] for m in memory]
    ys = [m["peak_rss_bytes"] / mib for m in memory] + \
         [(m["weight_bytes"] + m["kv_formula_bytes"]) / mib for m in memory]
    x1, y0, y1 = max(xs) * 1.05, 0, max(ys) * 1.1

    def px(x):
        return left + x / x1 * (w - left - right)

    def py(y):
        return h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w/2}" y="22" text-anchor="middle" font-size="14">Process memory vs context ({model})</text>',
           f'<line x1="{left}" x2="{w-right}" y1="{py(0)}" y2="{py(0)}" stroke="black"/>',
           f'<line x1="{left}" x2="{left}" y1="{top}" y2="{py(0)}" stroke="black"/>',
           f'<text x="{w/2}" y="{h-12}" text-anchor="middle">context (tokens)</text>',
           f'<text x="18" y="{h/2}" transform="rotate(-90 18 {h/2})" text-anchor="middle">MiB</text>']
    for x in xs:
        out.append(f'<text x="{px(x)}" y="{py(0)+16}" text-anchor="middle">{x}</text>')
    step = max(1, round(y1 / 6 / 50) * 50)
    for y in range(0, int(y1), step):
        out.append(f'<line x1="{left}" x2="{w-right}" y1="{py(y)}" y2="{py(y)}" stroke="#eee"/>')
        out.append(f'<text x="{left-6}" y="{py(y)+4}" text-anchor="end">{y}</text>')
    series = [("measured peak RSS", "#d62728", [m["peak_rss_bytes"] / mib for m in memory]),
              ("weights + 2·L·H_kv·d_h·S·s", "#1f77b4",
               [(m["weight_bytes"] + m["kv_formula_bytes"]) / mib for m in memory])]
    for i, (name, color, vals) in enumerate(series):
        pts = " ".join(f"{px(x)},{py(v)}" for x, v in zip(xs, vals))
        out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, v in zip(xs, vals):
            out.append(f'<circle cx="{px(x)}" cy="{py(v)}" r="3" fill="{color}"/>')
        out.append(f'<text x="{left+12}" y="{top+16+16*i}" fill="{color}">{name}</text>')
    out.append("</svg>")
    with open(dst, "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main(*sys.argv[1:5])
