#!/usr/bin/env python3
"""A closed-loop load generator for `kvik serve` (stdlib only, loopback): N client threads each send
streaming completion requests back to back for a fixed time, and the run reports output tokens/s,
time-to-first-token and inter-token latency percentiles, errors, and the server's KV blocks in use
afterwards (read from /metrics — a leak shows up there).

usage: serving_client.py --port P [--concurrency 1,4,16,64] [--duration S] [--max-tokens N]
                         [--system-prompt-words W] [--json OUT]
"""
import argparse
import http.client
import json
import random
import re
import statistics
import threading
import time


def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[k]


def one_request(port, prompt, max_tokens, seed):
    """Streams one chat completion; returns (ttft_s, [inter-token gaps], completion_tokens, cached)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    body = {"messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
            "stream": True, "stream_options": {"include_usage": True}, "temperature": 0.8,
            "seed": seed}
    start = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body=json.dumps(body),
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"status {response.status}: {response.read()[:200]!r}")
    ttft, last, gaps, usage = None, None, [], None
    for raw in response:
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data: "):
            continue
        data = line[6:]
        if data == "[DONE]":
            break
        chunk = json.loads(data)
        if "error" in chunk:
            raise RuntimeError(chunk["error"].get("message"))
        if chunk.get("usage"):
            usage = chunk["usage"]
        if chunk.get("choices") and chunk["choices"][0]["delta"].get("content"):
            now = time.perf_counter()
            if ttft is None:
                ttft = now - start
            else:
                gaps.append(now - last)
            last = now
    conn.close()
    if usage is None:
        raise RuntimeError("no usage chunk")
    cached = usage.get("prompt_tokens_details", {}).get("cached_tokens", 0)
    return ttft, gaps, usage["completion_tokens"], cached, usage["prompt_tokens"]


def run_level(port, concurrency, duration, max_tokens, system_words, seed):
    rng = random.Random(seed)
    words = "the cat dog sat ran on a mat big small red blue happy sad tree house sun moon".split()
    system = " ".join(rng.choice(words) for _ in range(system_words))
    lock = threading.Lock()
    results = {"ttft": [], "gaps": [], "tokens": 0, "errors": [], "requests": 0, "cached": 0,
               "prompt": 0}
    stop_at = time.perf_counter() + duration

    def worker(index):
        local = random.Random(seed * 1000 + index)
        while time.perf_counter() < stop_at:
            question = " ".join(local.choice(words) for _ in range(8))
            prompt = (system + " " + question) if system else question
            try:
                ttft, gaps, tokens, cached, prompt_tokens = one_request(
                    port, prompt, max_tokens, local.randrange(1 << 30))
                with lock:
                    results["requests"] += 1
                    results["tokens"] += tokens
                    results["cached"] += cached
                    results["prompt"] += prompt_tokens
                    if ttft is not None:
                        results["ttft"].append(ttft)
                    results["gaps"].extend(gaps)
            except Exception as e:  # counted, reported, and fails the load test
                with lock:
                    results["errors"].append(str(e))

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return {
        "concurrency": concurrency, "seconds": elapsed, "requests": results["requests"],
        "errors": len(results["errors"]), "error_samples": results["errors"][:3],
        "output_tokens": results["tokens"], "output_tokens_per_s": results["tokens"] / elapsed,
        "ttft_p50_ms": 1000 * percentile(results["ttft"], 50),
        "ttft_p99_ms": 1000 * percentile(results["ttft"], 99),
        "itl_p50_ms": 1000 * percentile(results["gaps"], 50),
        "itl_p99_ms": 1000 * percentile(results["gaps"], 99),
        "prefix_hit_rate": results["cached"] / results["prompt"] if results["prompt"] else 0.0,
    }


def metric(port, name):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    m = re.search(r"^" + re.escape(name) + r" ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--concurrency", default="1,4,16,64")
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--system-prompt-words", type=int, default=0)
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = []
    for level in [int(c) for c in args.concurrency.split(",")]:
        row = run_level(args.port, level, args.duration, args.max_tokens, args.system_prompt_words, level)
        # Settled server: nothing running, no block owned (a leak would stay here).
        deadline = time.time() + 30
        while time.time() < deadline and metric(args.port, "kvik_engine_running") > 0:
            time.sleep(0.2)
        row["kv_blocks_used_after"] = metric(args.port, "kvik_engine_kv_blocks_used")
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    bad = [r for r in rows if r["errors"] or r["kv_blocks_used_after"] != 0]
    if bad:
        print("FAIL: errors or leaked KV blocks:", json.dumps(bad))
        raise SystemExit(1)


if __name__ == "__main__":
    main()
