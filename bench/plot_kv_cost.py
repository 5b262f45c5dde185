#!/usr/bin/env python3
"""Plots `kvik bench --kv-cost --json` output as an SVG (log-log): measured points, fitted theory lines."""
import json
import math
import sys


def main(src, dst):
    data = json.load(open(src))
    rows = data["rows"]
    fit = data["fit"]
    w, h, left, right, top, bottom = 720, 440, 70, 20, 40, 50
    xs = [r["ctx"] for r in rows]
    ys = [r["cached_ms"] for r in rows] + [r["recompute_ms"] for r in rows]
    x0, x1 = math.log10(min(xs) / 1.5), math.log10(max(xs) * 1.5)
    y0, y1 = math.log10(min(ys) / 2), math.log10(max(ys) * 2)

    def px(x):
        return left + (math.log10(x) - x0) / (x1 - x0) * (w - left - right)

    def py(y):
        return h - bottom - (math.log10(y) - y0) / (y1 - y0) * (h - top - bottom)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w/2}" y="22" text-anchor="middle" font-size="14">Decode cost per token vs context '
           f'({data["threads"]} threads, kv {data["kv_dtype"]}, median of {data["reps"]})</text>']
    for e in range(math.ceil(y0), math.floor(y1) + 1):
        y = py(10 ** e)
        out.append(f'<line x1="{left}" x2="{w-right}" y1="{y}" y2="{y}" stroke="#ddd"/>')
        out.append(f'<text x="{left-6}" y="{y+4}" text-anchor="end">{10**e:g} ms</text>')
    for x in xs:
        out.append(f'<line x1="{px(x)}" x2="{px(x)}" y1="{top}" y2="{h-bottom}" stroke="#eee"/>')
        out.append(f'<text x="{px(x)}" y="{h-bottom+16}" text-anchor="middle">{x}</text>')
    out.append(f'<text x="{w/2}" y="{h-10}" text-anchor="middle">context (tokens already generated)</text>')

    def curve(fn, color):
        pts = []
        steps = 60
        for i in range(steps + 1):
            x = 10 ** (x0 + (x1 - x0) * i / steps)
            y = fn(x)
            if y > 0 and y0 <= math.log10(y) <= y1:
                pts.append(f"{px(x):.1f},{py(y):.1f}")
        return f'<polyline fill="none" stroke="{color}" stroke-dasharray="5,4" points="{" ".join(pts)}"/>'

    out.append(curve(lambda x: fit["cached_a_ms"] + fit["cached_b_ms_per_token"] * x, "#1f77b4"))
    out.append(curve(lambda x: fit["recompute_c_ms"] * (x + 1) + fit["recompute_d_ms"] * (x + 1) ** 2, "#d62728"))
    for r in rows:
        out.append(f'<circle cx="{px(r["ctx"])}" cy="{py(r["cached_ms"])}" r="4" fill="#1f77b4"/>')
        out.append(f'<circle cx="{px(r["ctx"])}" cy="{py(r["recompute_ms"])}" r="4" fill="#d62728"/>')
    ly = top + 10
    for color, label in (("#1f77b4", "with KV cache (measured; dashed: a + b·ctx)"),
                         ("#d62728", "recompute, no cache (measured; dashed: c·n + d·n²)")):
        out.append(f'<circle cx="{left+14}" cy="{ly}" r="4" fill="{color}"/>'
                   f'<text x="{left+24}" y="{ly+4}">{label}</text>')
        ly += 18
    out.append("</svg>")
    open(dst, "w").write("\n".join(out))
    print("| ctx | cached ms/token | theory | dev | recompute ms/token | theory | dev | cache speed-up |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        dc = (r["cached_ms"] / r["cached_theory_ms"] - 1) * 100
        dr = (r["recompute_ms"] / r["recompute_theory_ms"] - 1) * 100
        print(f'| {r["ctx"]} | {r["cached_ms"]:.2f} | {r["cached_theory_ms"]:.2f} | {dc:+.1f}% | '
              f'{r["recompute_ms"]:.1f} | {r["recompute_theory_ms"]:.1f} | {dr:+.1f}% | '
              f'{r["recompute_ms"] / r["cached_ms"]:.0f}x |')
    print(f'largest deviation from theory: {data["max_abs_deviation_pct"]:.1f}%')


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
