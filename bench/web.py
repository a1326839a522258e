"""Web load check: requests per second and latency percentiles for GET / and
POST /subscribe, from a separate load-generating process, against `digest serve` on
127.0.0.1 (uvicorn, one worker) with the sample listing published.

Run: python -m bench web [--quick]
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.common import save, table

LOADER = r"""
import http.client, json, statistics, sys, threading, time, urllib.parse
port, path, method = int(sys.argv[1]), sys.argv[2], sys.argv[3]
total, workers = int(sys.argv[4]), int(sys.argv[5])
latencies, errors, lock = [], [], threading.Lock()
counter = iter(range(total))
def work(worker):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    local = []
    for n in counter:
        body = None
        headers = {}
        if method == "POST":
            email = f"load{worker}-{n}@example.org"
            body = urllib.parse.urlencode({"email": email, "topics": "rl"})
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        start = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        local.append(time.perf_counter() - start)
        if response.status != 200:
            with lock:
                errors.append(response.status)
    with lock:
        latencies.extend(local)
threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
start = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.perf_counter() - start
latencies.sort()
print(json.dumps({"requests": len(latencies), "seconds": elapsed, "rps": len(latencies) / elapsed,
                  "p50_ms": latencies[len(latencies) // 2] * 1e3,
                  "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3, "errors": len(errors)}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(quick: bool = False) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="digest-bench-web-"))
    port = _free_port()
    config = workdir / "digest.toml"
    sample = Path(__file__).resolve().parents[1] / "digest" / "sample"
    config.write_text(f'''
[store]
url = "sqlite:///{workdir / "digest.db"}"
[site]
base_url = "http://127.0.0.1:{port}"
[web]
subscribe_limit = 1000000
[mail]
outbox_dir = "{workdir / "outbox"}"
[[sources]]
name = "arxiv-sample"
kind = "arxiv-rss"
path = "{sample / "arxiv-listing.xml"}"
[[topics]]
slug = "rl"
name = "Reinforcement learning"
keywords = ["reinforcement learning", "reward model"]
[[topics]]
slug = "nlp"
name = "Language models"
keywords = ["language model", "LLM"]
''')
    digest = str(Path(sys.executable).with_name("digest"))
    env = {**os.environ, "DIGEST_SECRET": "bench-secret-0123456789abcdef"}
    subprocess.run([digest, "--config", str(config), "fetch"], check=True, capture_output=True)
    subprocess.run(
        [digest, "--config", str(config), "preview", "--out", str(workdir / "site")],
        check=True,
        capture_output=True,
        env=env,
    )
    server = subprocess.Popen(
        [digest, "--config", str(config), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stderr is not None
    try:
        for line in server.stderr:  # uvicorn says when it listens
            if "Uvicorn running" in line:
                break
        counts = {"GET /": 500 if quick else 3000, "POST /subscribe": 300 if quick else 1500}
        results = {}
        for name, total in counts.items():
            method, path = name.split(" ")
            out = subprocess.run(
                [sys.executable, "-c", LOADER, str(port), path, method, str(total), "8"],
                capture_output=True,
                text=True,
            )
            if out.returncode:
                raise RuntimeError(f"load for {name} failed: {out.stderr[-800:]}")
            results[name] = json.loads(out.stdout)
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
    rows = [
        [
            name,
            r["requests"],
            f"{r['rps']:,.0f}",
            f"{r['p50_ms']:.1f}",
            f"{r['p99_ms']:.1f}",
            r["errors"],
        ]
        for name, r in results.items()
    ]
    print(table(["request", "n", "requests/s", "p50 ms", "p99 ms", "non-200"], rows))
    figures = {"when": datetime.now(UTC).isoformat(), "concurrency": 8, "results": results}
    print(f"results: {save('web', figures)}")
    return figures
