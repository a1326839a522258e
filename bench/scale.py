"""Scale-out benchmark: delivery through the job queue with 1, 2 and 3 `digest worker`
processes against PostgreSQL on this machine.

For each worker count, a fresh database with N subscribers over 300 topics and 2,000 new
papers (as `bench deliver`), `[deliver] mode = "queue"`, a local SMTP sink in its own
process, and `digest send` planning the run (each topic ranked once, the rankings kept in
the store), deferring the shards and waiting for them. First the baseline: the same
`digest send` inline (`mode = "inline"`, no workers) on a database of its own. Reported,
in one run: messages per second end to end (planning included) and while sending (first
ledger claim to last message recorded), CPU per message summed over every worker (user +
system, from wait4) and the planner's CPU, PostgreSQL commits per message
(pg_stat_database), and the commit latency of one small autocommit insert.

Two cores cannot show the speed-up of more machines: bench/README.md turns the CPU per
message, commits per message and relay rate into the projection for 1,000,000 digests.

Two cores shared by the workers, PostgreSQL and the sink are oversubscribed from two
workers on, and a process's CPU seconds then stretch with the contention: with
DIGEST_BENCH_PIN=1 every sender (the workers, or the inline `digest send`) runs on CPU 0
only, so each worker count gets the same one core and the ratio of CPU per message tells
what more workers cost the software, not the machine. DIGEST_BENCH_ROUNDS=N runs the four
configurations N times, interleaved, and reports the median of each: one round is at the
mercy of whatever else the host runs meanwhile.

Run: python -m bench scale [--quick]   (DIGEST_BENCH_SUBSCRIBERS: default 20,000, quick 3,000;
DIGEST_BENCH_SHARD: subscribers per send job, default 5,000; DIGEST_BENCH_SPLIT_CONNECTIONS=1:
the workers share one worker's relay connections instead of opening as many each;
DIGEST_BENCH_PIN=1; DIGEST_BENCH_ROUNDS, default 1)
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
from bench.deliver import CONNECTIONS, SECRET, Sink, _papers, _setup

SERVER = os.environ.get("DIGEST_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
SHARD = int(os.environ.get("DIGEST_BENCH_SHARD", 5000))
#: DIGEST_BENCH_SPLIT_CONNECTIONS=1: N workers share the relay connections one worker has
#: (each gets 1/N of them, rounded up) instead of each opening as many
SPLIT = os.environ.get("DIGEST_BENCH_SPLIT_CONNECTIONS") == "1"
DIGEST = str(Path(sys.executable).with_name("digest"))
#: DIGEST_BENCH_PIN=1: the senders run on CPU 0 only, whatever their number
PIN = os.environ.get("DIGEST_BENCH_PIN") == "1"
ROUNDS = int(os.environ.get("DIGEST_BENCH_ROUNDS", 1))


def _pinned() -> None:
    """In a sender's child process before it runs: CPU 0 only, if the run pins."""
    if PIN:
        os.sched_setaffinity(0, {0})


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


def _cpu(process: subprocess.Popen) -> float:
    """Wait for ``process``; its CPU seconds (user + system)."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def _sent_by(url: str) -> dict[str, int]:
    """Messages recorded sent per worker name (the last part of a worker's claim)."""
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT split_part(claimed_by, ':', 3), count(*) FROM deliveries "
            "WHERE status = 'sent' GROUP BY 1"
        ).fetchall()
    return {str(name): int(count) for name, count in found}


def _sending(url: str) -> float:
    """Seconds from the first ledger claim to the last message recorded sent."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM max(sent_at) - min(claimed_at)) FROM deliveries"
        ).fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


def _one(workers: int, count: int, papers: list, sink: Sink) -> dict:
    """``workers`` worker processes and `digest send` in queue mode; with 0 workers, the
    inline path (`digest send` sending itself) on the same kind of database: the baseline."""
    name = f"digest_bench_{secrets.token_hex(4)}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    workdir = Path(tempfile.mkdtemp(prefix="digest-bench-scale-"))
    url = SERVER.rsplit("/", 1)[0] + f"/{name}"
    try:
        mode = "queue" if workers else "inline"
        extra = f'[deliver]\nmode = "{mode}"\nshard_size = {SHARD}\n'
        config = _setup(workdir, count, sink.port, papers, url.replace("://", "+psycopg://"), extra)
        env = {**os.environ, "DIGEST_SECRET": SECRET, "PYTHONWARNINGS": "ignore"}
        command = [DIGEST, "--config", str(config)]
        shared = config  # the workers' settings: the relay connections split among them
        if SPLIT and workers:
            shared = workdir / "worker.toml"
            each = -(-CONNECTIONS // workers)
            shared.write_text(
                config.read_text().replace(
                    f"connections = {CONNECTIONS}\n", f"connections = {each}\n"
                )
            )
        commits = _commits(name)
        before = sink.count()
        start = time.perf_counter()
        pool = [
            subprocess.Popen(
                [DIGEST, "--config", str(shared), "worker", "--name", f"bench-{i}"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_pinned,
            )
            for i in range(workers)
        ]
        planner = subprocess.Popen(
            [*command, "send"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=None if workers else _pinned,  # inline, it is the sender
        )
        planner_cpu = _cpu(planner)
        seconds = time.perf_counter() - start
        for process in pool:
            process.send_signal(signal.SIGTERM)
        spent = [_cpu(process) for process in pool]
        cpu = sum(spent) if pool else planner_cpu
        sent = sink.count() - before
        time.sleep(1.5)  # PostgreSQL publishes its counters about once a second
        commits = _commits(name) - commits
        sending = _sending(url)
        by_worker = _sent_by(url)
        latency = _commit_latency(url)
        return {
            "workers": workers,
            "sent": sent,
            "seconds": round(seconds, 2),
            "msg_per_s": round(sent / seconds, 1),
            "sending_s": round(sending, 2),
            "sending_msg_per_s": round(sent / sending, 1) if sending else None,
            "cpu_ms_per_msg": round(cpu / max(1, sent) * 1000, 3),
            "planner_cpu_s": round(planner_cpu, 2),
            "total_cpu_ms_per_msg": round(
                (cpu + (planner_cpu if pool else 0.0)) / max(1, sent) * 1000, 3
            ),
            "commits_per_msg": round(commits / max(1, sent), 4),
            "commit_latency_ms": round(latency, 3),
            "send_ok": planner.returncode == 0,
            # per worker: CPU seconds and messages sent, to tell a worker's fixed cost
            # (start-up, first shard's warm-up) from its cost per message
            "per_worker": [
                {"cpu_s": round(c, 2), "sent": by_worker.get(f"bench-{i}", 0)}
                for i, c in enumerate(spent)
            ],
        }
    finally:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def run(quick: bool = False) -> dict:
    count = int(os.environ.get("DIGEST_BENCH_SUBSCRIBERS") or (3000 if quick else 20000))
    papers = _papers()
    sink = Sink()
    rows: list[dict] = []
    try:
        for n in range(ROUNDS):
            rows += [{"round": n + 1, **_one(w, count, papers, sink)} for w in (0, 1, 2, 3)]
    finally:
        sink.close()
    per_round = [
        [
            round(r["cpu_ms_per_msg"] / one["cpu_ms_per_msg"], 3)
            for r in rows
            if r["round"] == one["round"] and r["workers"] > 1
        ]
        for one in rows
        if one["workers"] == 1
    ]
    medians = {
        w: {
            key: round(_median([r[key] for r in rows if r["workers"] == w]), 4)
            for key in ("msg_per_s", "cpu_ms_per_msg", "commits_per_msg")
        }
        for w in (0, 1, 2, 3)
    }
    one = medians[1]["cpu_ms_per_msg"]
    figures = {
        "when": datetime.now(UTC).isoformat(),
        "load": os.getloadavg(),
        "subscribers": count,
        "shard_size": SHARD,
        "connections_per_worker": "split" if SPLIT else CONNECTIONS,
        "senders_pinned_to_cpu0": PIN,
        "rounds": ROUNDS,
        "runs": rows,
        "medians": medians,
        "cpu_ratio_to_one_worker": [
            round(medians[w]["cpu_ms_per_msg"] / one, 3) for w in (1, 2, 3)
        ],
        "cpu_ratio_per_round": per_round,
    }
    print(
        table(
            [
                "round",
                "workers",
                "sent",
                "s",
                "msg/s",
                "sending msg/s",
                "CPU ms/msg",
                "planner CPU s",
                "commits/msg",
                "commit ms",
            ],
            [
                [
                    r["round"],
                    r["workers"] or "inline",
                    r["sent"],
                    r["seconds"],
                    r["msg_per_s"],
                    r["sending_msg_per_s"],
                    r["cpu_ms_per_msg"],
                    r["planner_cpu_s"],
                    r["commits_per_msg"],
                    r["commit_latency_ms"],
                ]
                for r in rows
            ],
        )
    )
    if ROUNDS > 1:
        print(
            "medians (workers: msg/s, CPU ms/msg, commits/msg): "
            + "; ".join(
                f"{w or 'inline'}: {m['msg_per_s']}, {m['cpu_ms_per_msg']}, {m['commits_per_msg']}"
                for w, m in medians.items()
            )
        )
        print(f"CPU of 2 and 3 workers / one worker's, per round: {per_round}")
    print(
        "CPU of N workers / one worker's"
        + (" (medians)" if ROUNDS > 1 else "")
        + f": {figures['cpu_ratio_to_one_worker']}"
    )
    for r in rows:
        if r["workers"]:
            print(
                f"round {r['round']}, {r['workers']} worker(s), CPU s / messages each: "
                + ", ".join(f"{w['cpu_s']} / {w['sent']}" for w in r["per_worker"])
            )
    print(f"saved {save('scale', figures)}")
    return figures
