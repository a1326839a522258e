"""Scale-out benchmark: delivery through the job queue with 1, 2 and 3 `digest worker`
processes against PostgreSQL on this machine.

For each worker count, a fresh database with N subscribers over 300 topics and 2,000 new
papers (as `bench deliver`), `[deliver] mode = "queue"`, a local SMTP sink in its own
process, and `digest send` deferring the shards and waiting for them. Reported, in one
run: messages per second end to end (shards composed and sent by the workers), CPU per
message summed over every worker (user + system, from wait4), PostgreSQL commits per
message (pg_stat_database), and the commit latency of one small autocommit insert.

Two cores cannot show the speed-up of more machines: bench/README.md turns the CPU per
message, commits per message and relay rate into the projection for 1,000,000 digests.

Run: python -m bench scale [--quick]   (DIGEST_BENCH_SUBSCRIBERS: default 20,000, quick 3,000;
DIGEST_BENCH_SHARD: subscribers per send job, default 5,000)
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bench.common import save, table
from bench.deliver import SECRET, Sink, _papers, _setup

SERVER = os.environ.get("DIGEST_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
SHARD = int(os.environ.get("DIGEST_BENCH_SHARD", 5000))
DIGEST = str(Path(sys.executable).with_name("digest"))


def _commits(name: str) -> int:
    with psycopg.connect(SERVER, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (name,)
        ).fetchone()
    return int(row[0]) if row else 0


def _commit_latency(url: str, count: int = 300) -> float:
    """Milliseconds per autocommit insert of one small row (the ledger's kind of write)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE bench_commit (n int)")
        start = time.perf_counter()
        for n in range(count):
            conn.execute("INSERT INTO bench_commit VALUES (%s)", (n,))
        return (time.perf_counter() - start) / count * 1000


def _one(workers: int, count: int, papers: list, sink: Sink) -> dict:
    name = f"digest_bench_{secrets.token_hex(4)}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    workdir = Path(tempfile.mkdtemp(prefix="digest-bench-scale-"))
    url = SERVER.rsplit("/", 1)[0] + f"/{name}"
    try:
        extra = f'[deliver]\nmode = "queue"\nshard_size = {SHARD}\n'
        config = _setup(workdir, count, sink.port, papers, url.replace("://", "+psycopg://"), extra)
        env = {**os.environ, "DIGEST_SECRET": SECRET, "PYTHONWARNINGS": "ignore"}
        command = [DIGEST, "--config", str(config)]
        commits = _commits(name)
        before = sink.count()
        start = time.perf_counter()
        pool = [
            subprocess.Popen(
                [*command, "worker", "--name", f"bench-{i}"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for i in range(workers)
        ]
        waited = subprocess.run([*command, "send"], env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        cpu = 0.0
        for process in pool:
            process.send_signal(signal.SIGTERM)
        for process in pool:
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            cpu += usage.ru_utime + usage.ru_stime
        sent = sink.count() - before
        time.sleep(1.5)  # PostgreSQL publishes its counters about once a second
        commits = _commits(name) - commits
        latency = _commit_latency(url)
        return {
            "workers": workers,
            "sent": sent,
            "seconds": round(seconds, 2),
            "msg_per_s": round(sent / seconds, 1),
            "cpu_ms_per_msg": round(cpu / max(1, sent) * 1000, 3),
            "commits_per_msg": round(commits / max(1, sent), 3),
            "commit_latency_ms": round(latency, 3),
            "send_ok": waited.returncode == 0,
        }
    finally:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)


def run(quick: bool = False) -> dict:
    count = int(os.environ.get("DIGEST_BENCH_SUBSCRIBERS") or (3000 if quick else 20000))
    papers = _papers()
    sink = Sink()
    try:
        rows = [_one(n, count, papers, sink) for n in (1, 2, 3)]
    finally:
        sink.close()
    one = rows[0]["cpu_ms_per_msg"]
    figures = {
        "when": datetime.now(UTC).isoformat(),
        "subscribers": count,
        "shard_size": SHARD,
        "runs": rows,
        "cpu_ratio_to_one_worker": [round(r["cpu_ms_per_msg"] / one, 3) for r in rows],
    }
    print(
        table(
            ["workers", "sent", "s", "msg/s", "CPU ms/msg", "commits/msg", "commit ms"],
            [
                [
                    r["workers"],
                    r["sent"],
                    r["seconds"],
                    r["msg_per_s"],
                    r["cpu_ms_per_msg"],
                    r["commits_per_msg"],
                    r["commit_latency_ms"],
                ]
                for r in rows
            ],
        )
    )
    print(f"saved {save('scale', figures)}")
    return figures
