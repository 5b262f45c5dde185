#!/usr/bin/env python3
"""End-to-end tests of `kvik serve`: a real server process on a free loopback port, real HTTP.

usage: serve_e2e_test.py KVIK_BINARY CASE
Each CASE starts its own server on a tiny synthetic model and stops it with SIGTERM.
"""
import atexit
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

KVIK = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="kvik-serve-")
MODEL = os.path.join(WORK, "tiny.gguf")


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


class Server:
    # slow=True serves the ~100M-parameter `small` preset (Q4_0), so a long generation is still
    # running when the test acts on it; the tiny model would finish 2,000 tokens in a blink.
    def __init__(self, *args, slow=False):
        preset = ["--preset", "small", "--dtype", "q4_0"] if slow else ["--preset", "tiny"]
        subprocess.run([KVIK, "make-model", *preset, "-o", MODEL], check=True,
                       stdout=subprocess.DEVNULL)
        self.log = open(os.path.join(WORK, "serve.log"), "w+")
        self.proc = subprocess.Popen([KVIK, "serve", "-m", MODEL, "--port", "0", "-t", "2", *args],
                                     stderr=self.log, stdout=self.log)
        # A failed check exits at once; never leave the server behind.
        atexit.register(lambda: self.proc.poll() is None and self.proc.kill())
        deadline = time.time() + 30
        self.port = None
        while time.time() < deadline and self.port is None:
            time.sleep(0.05)
            self.log.seek(0)
            m = re.search(r"on http://127\.0\.0\.1:(\d+)", self.log.read())
            if m:
                self.port = int(m.group(1))
            if self.proc.poll() is not None:
                self.log.seek(0)
                fail("server exited early: " + self.log.read())
        if self.port is None:
            fail("server did not start")

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        conn.request(method, path, body=data, headers=headers or {"Content-Type": "application/json"})
        response = conn.getresponse()
        text = response.read().decode()
        conn.close()
        return response.status, text

    def metric(self, name):
        _, text = self.request("GET", "/metrics")
        m = re.search(r"^" + re.escape(name) + r" ([0-9.e+-]+)$", text, re.M)
        if not m:
            fail(f"metric {name} missing from /metrics")
        return float(m.group(1))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("server did not stop on SIGTERM")
        if code != 0:
            self.log.seek(0)
            fail(f"server exited {code} after SIGTERM: {self.log.read()}")


def expect(condition, message):
    if not condition:
        fail(message)


def generate_text(prompt, n):
    out = subprocess.run([KVIK, "generate", "-m", MODEL, "-p", prompt, "-n", str(n), "--temp", "0"],
                         capture_output=True, check=True).stdout
    # The synthetic vocabulary can emit byte sequences that are not UTF-8; JSON carries them as U+FFFD.
    return out.rstrip(b"\n")[len(prompt):].decode("utf-8", "replace")


def case_completions():
    s = Server()
    status, text = s.request("POST", "/v1/completions",
                             {"prompt": "once upon a time", "max_tokens": 24, "temperature": 0})
    expect(status == 200, f"status {status}: {text}")
    body = json.loads(text)
    expect(body["object"] == "text_completion", text)
    choice = body["choices"][0]
    expect(choice["finish_reason"] == "length", text)
    expect(body["usage"]["completion_tokens"] == 24, text)
    # The server's greedy text is exactly what `kvik generate` prints for the same prompt.
    expect(choice["text"] == generate_text("once upon a time", 24),
           f"server text {choice['text']!r} != generate")
    # A repeated prompt is served from the prefix cache.
    _, text = s.request("POST", "/v1/completions",
                        {"prompt": "once upon a time", "max_tokens": 4, "temperature": 0})
    expect(json.loads(text)["usage"]["prompt_tokens_details"]["cached_tokens"] > 0, text)
    status, text = s.request("GET", "/v1/models")
    expect(status == 200 and json.loads(text)["data"][0]["object"] == "model", text)
    s.stop()


def case_streaming():
    s = Server()
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
    conn.request("POST", "/v1/chat/completions", body=json.dumps(
        {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 16, "stream": True,
         "temperature": 0}), headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    expect(response.status == 200, f"status {response.status}")
    expect(response.getheader("Content-Type", "").startswith("text/event-stream"),
           response.getheader("Content-Type"))
    events = [line[6:] for line in response.read().decode().split("\n") if line.startswith("data: ")]
    expect(events[-1] == "[DONE]", events[-3:])
    chunks = [json.loads(e) for e in events[:-1]]
    expect(chunks[0]["choices"][0]["delta"].get("role") == "assistant", chunks[0])
    expect(chunks[-1]["choices"][0]["finish_reason"] == "length", chunks[-1])
    expect(sum(1 for c in chunks if c["choices"][0]["delta"].get("content")) >= 1, "no content")
    s.stop()


def case_errors():
    s = Server("--ctx", "64", "--max-body", "4K")
    cases = [
        (b"{not json", 400, "malformed JSON"),
        ({"prompt": 5, "max_tokens": 4}, 400, "prompt of the wrong type"),
        ({"prompt": "x", "max_tokens": "many"}, 400, "max_tokens of the wrong type"),
        ({"prompt": "x", "max_tokens": -1}, 400, "negative max_tokens"),
        ({"prompt": "x", "max_tokens": 10 ** 9}, 400, "huge max_tokens"),
        ({"prompt": "x", "temperature": -1}, 400, "negative temperature"),
        ({"prompt": "x", "model": "no-such-model"}, 404, "unknown model"),
        ({"prompt": "the cat " * 100, "max_tokens": 4}, 400, "prompt longer than the context"),
        ({"prompt": "y" * 8000}, 413, "body over --max-body"),
    ]
    for body, expected, what in cases:
        status, text = s.request("POST", "/v1/completions", body)
        expect(status == expected, f"{what}: status {status}, expected {expected}: {text}")
        error = json.loads(text).get("error", {})
        expect(error.get("message") and error.get("type"), f"{what}: not an OpenAI error: {text}")
    # The server keeps serving.
    status, text = s.request("POST", "/v1/completions", {"prompt": "x", "max_tokens": 2})
    expect(status == 200, f"after errors: {status} {text}")
    expect(s.request("GET", "/health")[0] == 200, "health")
    s.stop()


def open_stream(s, max_tokens):
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=60)
    body = json.dumps({"prompt": "a long story", "max_tokens": max_tokens, "stream": True,
                       "temperature": 0.9, "seed": 1, "ignore_eos": True}).encode()
    sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    first = sock.recv(4096)
    expect(b"200" in first.split(b"\r\n")[0], first[:200])
    return sock


def case_disconnect_frees_blocks():
    s = Server("--ctx", "2048", "--parallel", "2", slow=True)
    sock = open_stream(s, 2000)
    sock.close()  # the client goes away mid-stream
    deadline = time.time() + 20
    while time.time() < deadline:
        if (s.metric("kvik_engine_requests_cancelled_total") >= 1 and
                s.metric("kvik_engine_running") == 0 and s.metric("kvik_engine_kv_blocks_used") == 0):
            break
        time.sleep(0.1)
    expect(s.metric("kvik_engine_requests_cancelled_total") >= 1, "the request was not cancelled")
    expect(s.metric("kvik_engine_kv_blocks_used") == 0, "blocks still used after disconnect")
    expect(s.metric("kvik_engine_generated_tokens_total") < 2000, "generation ran to the end")
    s.stop()


def case_queue_full():
    s = Server("--ctx", "2048", "--max-queue", "2", slow=True)
    held = [open_stream(s, 2000), open_stream(s, 2000)]  # not read: both stay in progress
    status, text = s.request("POST", "/v1/completions", {"prompt": "x", "max_tokens": 2})
    expect(status == 429, f"third request: {status} {text}")
    for sock in held:
        sock.close()
    deadline = time.time() + 20
    while time.time() < deadline:
        status, _ = s.request("POST", "/v1/completions", {"prompt": "x", "max_tokens": 2})
        if status == 200:
            break
        time.sleep(0.1)
    expect(status == 200, "the server did not recover after the queue drained")
    s.stop()


def case_semantic_cache():
    """--semantic-cache: a near-duplicate greedy prompt is answered from the stored completion."""
    log, index, members = (os.path.join(WORK, n) for n in ("log.tsv", "index.kvlsh", "members.tsv"))
    subprocess.run([KVIK, "lsh", "gen-log", "--seed", "3", "--queries", "2000", "--out", log],
                   check=True, capture_output=True)
    subprocess.run([KVIK, "lsh", "build", "--log", log, "--out", index, "--members", members],
                   check=True, capture_output=True)
    # Two different spellings of one query that the index puts in the same cluster.
    clusters = {}
    for line in open(members, encoding="utf-8"):
        query, cluster = line.rstrip("\n").split("\t")
        clusters.setdefault(cluster, []).append(query)
    first, second = next(q for q in clusters.values() if len(q) >= 2 and q[0] != q[1])[:2]
    s = Server("--semantic-cache", index)

    def ask(prompt, **extra):
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
        conn.request("POST", "/v1/completions", body=json.dumps(
            {"prompt": prompt, "max_tokens": 12, "temperature": 0, **extra}),
            headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        body = json.loads(response.read())
        return response.getheader("X-Kvik-Cache"), body["choices"][0]["text"]

    header, text = ask(first)
    expect(header == "miss", f"first request: {header}")
    header, cached = ask(second)
    expect(header == "semantic-hit", f"near-duplicate {second!r} of {first!r}: {header}")
    expect(cached == text, f"cached text {cached!r} != {text!r}")
    header, _ = ask(second, temperature=0.7)
    expect(header is None, "sampled requests must not use the cache")
    expect(s.metric("kvik_semantic_cache_hits_total") == 1, "hit not counted")
    s.stop()


def case_kv_page_in_headless_chromium():
    """Loads GET / in headless Chromium while a request runs: the page must draw used blocks."""
    chromium = "/usr/bin/chromium"
    if not os.path.exists(chromium):
        # bootstrap.sh installs it; say so loudly instead of passing silently.
        print("SKIPPED: /usr/bin/chromium is missing (scripts/bootstrap.sh installs it)")
        sys.exit(77)
    s = Server("--ctx", "2048", slow=True)
    sock = open_stream(s, 2000)
    deadline = time.time() + 20
    while time.time() < deadline and s.metric("kvik_engine_kv_blocks_used") == 0:
        time.sleep(0.05)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--user-data-dir=" + os.path.join(WORK, "chromium"), "--virtual-time-budget=3000"]
    url = f"http://127.0.0.1:{s.port}/"
    dom = subprocess.run([chromium, *flags, "--dump-dom", url], capture_output=True, text=True,
                         timeout=90).stdout
    m = re.search(r'data-used-blocks="(\d+)"', dom)
    expect(m and int(m.group(1)) > 0, "the page shows no used block: " + dom[:500])
    screenshot = os.path.join(os.environ.get("KVIK_ARTIFACTS", WORK), "kv-page.png")
    subprocess.run([chromium, *flags, "--window-size=1000,700", "--screenshot=" + screenshot, url],
                   capture_output=True, timeout=90)
    expect(os.path.getsize(screenshot) > 1000, "no screenshot")
    print("screenshot:", screenshot, "used blocks on the page:", m.group(1))
    sock.close()
    s.stop()


if __name__ == "__main__":
    globals()["case_" + sys.argv[2]]()
    print("ok")
