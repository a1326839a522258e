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

Each configuration runs twice: first on workers just started, their start-up (imports,
the engine, the first shard's warm-up) counted in the run's CPU; then, after the workers
waited DIGEST_BENCH_IDLE seconds (default 20; their idle CPU reported per worker-hour),
the ledger emptied and `digest send` again on the same workers, as a deployment's
long-running workers take each day's run. Inline, each run is a `digest send` process of
its own, start-up included both times.

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
DIGEST_BENCH_PIN=1; DIGEST_BENCH_ROUNDS, default 1; DIGEST_BENCH_IDLE, default 20;
DIGEST_BENCH_ALTERNATE=K: the configurations' runs taken in turn, K each, see _alternating;
DIGEST_BENCH_SYSCALLS=1: the second runs' system calls per message counted by strace;
DIGEST_BENCH_INSTRUCTIONS=1: the workers' instructions counted under valgrind's callgrind,
DIGEST_BENCH_ROUNDS runs on each worker count, see _counted: about an hour at 20,000 with
two rounds)

The CPU seconds of a process move with the host (its other load, its clock, the caches
that other processes evict); instructions do not: the same work counts the same whatever
the host does meanwhile, so the instruction counts can tell apart what the CPU seconds of
two configurations, taken minutes apart, cannot.
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
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import psycopg

from bench.common import save, table
from bench.deliver import CONNECTIONS, SECRET, Sink, _papers, _setup

SERVER = os.environ.get("DIGEST_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
#: DIGEST_BENCH_INSTRUCTIONS=1: the workers run under valgrind's callgrind, which counts
#: the instructions each run costs them (see _counted)
INSTRUCTIONS = os.environ.get("DIGEST_BENCH_INSTRUCTIONS") == "1"
#: DIGEST_BENCH_SYSCALLS=1: the second run of each worker count runs under `strace -c`,
#: which counts the workers' system calls per message
SYSCALLS = os.environ.get("DIGEST_BENCH_SYSCALLS") == "1"
SHARD = int(os.environ.get("DIGEST_BENCH_SHARD", 5000))
#: DIGEST_BENCH_SPLIT_CONNECTIONS=1: N workers share the relay connections one worker has
#: (each gets 1/N of them, rounded up) instead of each opening as many
SPLIT = os.environ.get("DIGEST_BENCH_SPLIT_CONNECTIONS") == "1"
DIGEST = str(Path(sys.executable).with_name("digest"))
#: the worker that the instruction counts run (its timers spaced out: see the module)
COUNTED = "bench.counted_worker"
#: DIGEST_BENCH_PIN=1: the senders run on CPU 0 only, whatever their number
PIN = os.environ.get("DIGEST_BENCH_PIN") == "1"
ROUNDS = int(os.environ.get("DIGEST_BENCH_ROUNDS", 1))
#: Seconds the workers wait between the two runs of a configuration (their idle CPU)
IDLE = float(os.environ.get("DIGEST_BENCH_IDLE", 20))
#: DIGEST_BENCH_ALTERNATE=K: instead of the rounds, 1, 2 and 3 workers running at once on
#: databases of their own, and K runs on each, taken in turn
ALTERNATE = int(os.environ.get("DIGEST_BENCH_ALTERNATE", 0))


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


def _cpu_so_far(process: subprocess.Popen) -> float:
    """CPU seconds (user + system, every thread) that running ``process`` has used so far."""
    fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _callgrind(process: subprocess.Popen, *command: str) -> None:
    subprocess.run(
        ["callgrind_control", *command, str(process.pid)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _totals(dump: Path) -> int:
    """The instructions a callgrind dump counts."""
    for line in dump.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise ValueError(f"{dump}: no totals line")


def _traced_calls(summary: Path) -> dict[str, int]:
    """The system calls an `strace -c` summary counts, by name (and ``total``)."""
    calls = {}
    for line in summary.read_text().splitlines():
        fields = line.split()
        if fields and fields[-1].isidentifier() and len(fields) >= 5 and fields[3].isdigit():
            calls[fields[-1]] = int(fields[3])
    if "total" not in calls:
        raise ValueError(f"{summary}: no total line")
    return calls


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


def _forget_sends(url: str) -> None:
    """Empty the ledger, so that the next `digest send` finds every edition due again: the
    same work as the next day's run (the rankings are made again, under the new run's
    moment), without waiting for the next day."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE deliveries")


class _Run:
    """One configuration's database, settings, sink and worker processes."""

    def __init__(self, workers: int, count: int, papers: list, sink: Sink) -> None:
        self.workers, self.sink = workers, sink
        self.name = f"digest_bench_{secrets.token_hex(4)}"
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        self.workdir = Path(tempfile.mkdtemp(prefix="digest-bench-scale-"))
        self.url = SERVER.rsplit("/", 1)[0] + f"/{self.name}"
        mode = "queue" if workers else "inline"
        extra = f'[deliver]\nmode = "{mode}"\nshard_size = {SHARD}\n'
        database = self.url.replace("://", "+psycopg://")
        self.config = _setup(self.workdir, count, sink.port, papers, database, extra)
        self.env = {**os.environ, "DIGEST_SECRET": SECRET, "PYTHONWARNINGS": "ignore"}
        self.pool: list[subprocess.Popen] = []

    def start_workers(self) -> None:
        shared = self.config  # the workers' settings: the relay connections split among them
        if SPLIT:
            shared = self.workdir / "worker.toml"
            each = -(-CONNECTIONS // self.workers)
            shared.write_text(
                self.config.read_text().replace(
                    f"connections = {CONNECTIONS}\n", f"connections = {each}\n"
                )
            )
        command = [DIGEST]
        env = self.env
        if INSTRUCTIONS:  # instrumented only while counting: see _counted
            out = self.workdir / "callgrind.%p"
            command = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
            command += [f"--callgrind-out-file={out}", sys.executable, "-m", COUNTED]
            env = {**env, "PYTHONHASHSEED": "0"}
        self.pool = [
            subprocess.Popen(
                [*command, "--config", str(shared), "worker", "--name", f"bench-{i}"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_pinned,
            )
            for i in range(self.workers)
        ]

    def send(self, workers_cpu: Callable[[], list[float]]) -> dict:
        """One `digest send` (planning, and sending inline or through the workers); its
        figures, with the workers' CPU as ``workers_cpu`` tells it after the run."""
        commits = _commits(self.name)
        before = self.sink.count()
        start = time.perf_counter()
        planner = subprocess.Popen(
            [DIGEST, "--config", str(self.config), "send"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=None if self.workers else _pinned,  # inline, it is the sender
        )
        planner_cpu = _cpu(planner)
        seconds = time.perf_counter() - start
        spent = workers_cpu()
        cpu = sum(spent) if self.workers else planner_cpu
        sent = self.sink.count() - before
        time.sleep(1.5)  # PostgreSQL publishes its counters about once a second
        commits = _commits(self.name) - commits
        sending = _sending(self.url)
        by_worker = _sent_by(self.url)
        return {
            "sent": sent,
            "seconds": round(seconds, 2),
            "msg_per_s": round(sent / seconds, 1),
            "sending_s": round(sending, 2),
            "sending_msg_per_s": round(sent / sending, 1) if sending else None,
            "cpu_ms_per_msg": round(cpu / max(1, sent) * 1000, 3),
            "planner_cpu_s": round(planner_cpu, 2),
            "total_cpu_ms_per_msg": round(
                (cpu + (planner_cpu if self.workers else 0.0)) / max(1, sent) * 1000, 3
            ),
            "commits_per_msg": round(commits / max(1, sent), 4),
            "send_ok": planner.returncode == 0,
            # per worker: CPU seconds and messages sent, to tell a worker's fixed cost
            # (start-up, first shard's warm-up) from its cost per message
            "per_worker": [
                {"cpu_s": round(c, 2), "sent": by_worker.get(f"bench-{i}", 0)}
                for i, c in enumerate(spent)
            ],
        }

    def so_far(self) -> list[float]:
        return [_cpu_so_far(process) for process in self.pool]

    def again(self) -> dict:
        """The next day's run on the running workers: the ledger emptied, then :meth:`send`,
        the workers' CPU counted from now."""
        _forget_sends(self.url)
        return self.send(partial(self.spent_since, self.so_far()))

    def spent_since(self, before: list[float]) -> list[float]:
        """Each worker's CPU seconds since :meth:`so_far` told ``before``."""
        return [b - a for a, b in zip(before, self.so_far(), strict=True)]

    def count(self, action: Callable[[], dict]) -> tuple[dict, list[int]]:
        """``action``'s result, and the instructions each worker (under callgrind) ran
        meanwhile."""
        for process in self.pool:
            _callgrind(process, "--instr=on")
            _callgrind(process, "--zero")
        result = action()
        counts = []
        for process in self.pool:
            _callgrind(process, "--dump")
            _callgrind(process, "--instr=off")
            dumps = sorted(
                self.workdir.glob(f"callgrind.{process.pid}.*"),
                key=lambda path: int(path.name.rsplit(".", 1)[1]),
            )
            counts.append(_totals(dumps[-1]))
        return result, counts

    def trace(self, action: Callable[[], dict]) -> dict:
        """``action``'s result, with the system calls per message that the workers (every
        thread) made meanwhile, counted by `strace -c` (the kernel's side of their CPU; the
        tracing slows the calls, so this run's CPU is not comparable)."""
        tracers = []
        for process in self.pool:
            summary = self.workdir / f"strace.{process.pid}"
            tracer = subprocess.Popen(
                ["strace", "-c", "-f", "-o", str(summary), "-p", str(process.pid)],
                stderr=subprocess.PIPE,
                text=True,
            )
            assert tracer.stderr is not None
            tracer.stderr.readline()  # "Process N attached": counting from here
            tracers.append((tracer, summary))
        result = action()
        calls: dict[str, int] = {}
        for tracer, summary in tracers:
            tracer.send_signal(signal.SIGINT)
            tracer.communicate()
            for name, count in _traced_calls(summary).items():
                calls[name] = calls.get(name, 0) + count
        sent = max(1, result["sent"])
        return {
            **result,
            "syscalls_per_msg": round(calls["total"] / sent, 2),
            # futex: threads handing over the interpreter's lock and waiting on each
            # other, as many as the timing makes; the rest is the work's
            "syscalls_per_msg_without_futex": round(
                (calls["total"] - calls.get("futex", 0)) / sent, 2
            ),
            "syscalls": calls,
        }

    def stop_workers(self) -> list[float]:
        for process in self.pool:
            process.send_signal(signal.SIGTERM)
        return [_cpu(process) for process in self.pool]

    def close(self) -> None:
        for process in self.pool:
            if process.returncode is None:
                process.kill()
                process.wait()
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        shutil.rmtree(self.workdir, ignore_errors=True)


def _one(workers: int, count: int, papers: list, sink: Sink) -> dict:
    """``workers`` worker processes and `digest send` in queue mode; with 0 workers, the
    inline path (`digest send` sending itself) on the same kind of database: the baseline.

    Two runs: the first on workers just started (their start-up counted in its CPU), then,
    after :data:`IDLE` seconds of the workers waiting (their idle CPU measured), the ledger
    emptied and a second run on the same workers, as a deployment's long-running workers
    take each day's run. Inline, each run is a `digest send` process of its own."""
    run = _Run(workers, count, papers, sink)
    try:
        run.start_workers()
        cold = run.send(run.so_far)
        idle_from = run.so_far()
        time.sleep(IDLE if workers else 0)
        idle = run.spent_since(idle_from)
        warm = run.trace(run.again) if SYSCALLS and workers else run.again()
        total = run.stop_workers()
        return {
            "workers": workers,
            **cold,
            "warm": warm,
            "idle_cpu_s_per_worker_hour": round(sum(idle) / max(1, workers) / IDLE * 3600, 1)
            if workers
            else None,
            "workers_cpu_s_at_exit": [round(c, 2) for c in total],
            "commit_latency_ms": round(_commit_latency(run.url), 3),
        }
    finally:
        run.close()


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _ratios(rows: list[dict], pick: Callable[[dict], dict]) -> tuple[dict, list, list]:
    """Medians per worker count of the runs ``pick`` takes from each row, the CPU ratio of
    N workers to one worker (of the medians), and the same ratio per round."""
    medians = {
        w: {
            key: round(_median([pick(r)[key] for r in rows if r["workers"] == w]), 4)
            for key in ("msg_per_s", "cpu_ms_per_msg", "commits_per_msg")
        }
        for w in (0, 1, 2, 3)
    }
    one = medians[1]["cpu_ms_per_msg"]
    per_round = [
        [
            round(pick(r)["cpu_ms_per_msg"] / pick(alone)["cpu_ms_per_msg"], 3)
            for r in rows
            if r["round"] == alone["round"] and r["workers"] > 1
        ]
        for alone in rows
        if alone["workers"] == 1
    ]
    return medians, [round(medians[w]["cpu_ms_per_msg"] / one, 3) for w in (1, 2, 3)], per_round


def _print(rows: list[dict], figures: dict) -> None:
    header = ["round", "workers", "run", "sent", "s", "msg/s", "sending msg/s", "CPU ms/msg"]
    header += ["planner CPU s", "commits/msg", "syscalls/msg", "without futex"]
    lines = [
        [
            r["round"],
            r["workers"] or "inline",
            which,
            run["sent"],
            run["seconds"],
            run["msg_per_s"],
            run["sending_msg_per_s"],
            run["cpu_ms_per_msg"],
            run["planner_cpu_s"],
            run["commits_per_msg"],
            run.get("syscalls_per_msg", ""),
            run.get("syscalls_per_msg_without_futex", ""),
        ]
        for r in rows
        for which, run in (("first", r), ("second", r["warm"]))
    ]
    print(table(header, lines))
    for which in ("first", "second"):
        part = figures[which]
        if ROUNDS > 1:
            print(
                f"{which} runs, medians (workers: msg/s, CPU ms/msg, commits/msg): "
                + "; ".join(
                    f"{w or 'inline'}: {m['msg_per_s']}, {m['cpu_ms_per_msg']}, "
                    f"{m['commits_per_msg']}"
                    for w, m in part["medians"].items()
                )
            )
            print(f"{which} runs, CPU of 2 and 3 workers / one's, per round: {part['per_round']}")
        print(
            f"{which} runs, CPU of N workers / one worker's"
            + (" (medians)" if ROUNDS > 1 else "")
            + f": {part['cpu_ratio_to_one_worker']}"
        )
    latency = [r["commit_latency_ms"] for r in rows]
    print(f"commit latency (one small autocommit insert): {min(latency)}-{max(latency)} ms")
    for r in rows:
        if r["workers"]:
            print(
                f"round {r['round']}, {r['workers']} worker(s), CPU s / messages each, "
                "first run (start-up included) | second run: "
                + ", ".join(f"{w['cpu_s']} / {w['sent']}" for w in r["per_worker"])
                + " | "
                + ", ".join(f"{w['cpu_s']} / {w['sent']}" for w in r["warm"]["per_worker"])
                + f"; idle: {r['idle_cpu_s_per_worker_hour']} CPU s per worker-hour"
            )


def _alternating(count: int, papers: list, sink: Sink) -> dict:
    """1, 2 and 3 workers started at once, each on a database of its own; a first round of
    one `digest send` on each, not counted (the workers' start-up and first shards), then
    :data:`ALTERNATE` rounds of one `digest send` on each in turn (the order reversed every
    other round): the running workers of every configuration take their runs a minute or
    two apart, not a quarter of an hour, so that the host's drift weighs on them alike."""
    runs = {w: _Run(w, count, papers, sink) for w in (1, 2, 3)}
    found: dict[int, list[dict]] = {w: [] for w in runs}
    try:
        for run in runs.values():
            run.start_workers()
        order = list(runs)
        for n in range(ALTERNATE + 1):  # round 0 warms the workers up and is not counted
            for w in order if n % 2 else order[::-1]:
                found[w].append(runs[w].again())
        for run in runs.values():
            run.stop_workers()
    finally:
        for run in runs.values():
            run.close()
    warm_up = {w: found[w].pop(0) for w in found}
    per_round = [
        [round(found[w][n]["cpu_ms_per_msg"] / found[1][n]["cpu_ms_per_msg"], 3) for w in (2, 3)]
        for n in range(ALTERNATE)
    ]
    return {
        "warm_up": warm_up,
        "runs": found,
        "cpu_ratio_per_round": per_round,
        "cpu_ratio_median": [round(_median([r[i] for r in per_round]), 3) for i in (0, 1)],
    }


def _report_alternating(count: int, papers: list, sink: Sink) -> dict:
    part = _alternating(count, papers, sink)
    figures = {"when": datetime.now(UTC).isoformat(), "subscribers": count, "pinned": PIN}
    for w, found in part["runs"].items():
        print(
            f"{w} worker(s), CPU ms/msg per round: {[r['cpu_ms_per_msg'] for r in found]}, "
            f"sent {[r['sent'] for r in found]}, "
            f"commits/msg {[r['commits_per_msg'] for r in found]}"
        )
    print(f"CPU of 2 and 3 workers / one's, per round: {part['cpu_ratio_per_round']}")
    print(f"medians: {part['cpu_ratio_median']}")
    print(f"saved {save('scale_alternating', {**figures, 'alternating': part})}")
    return {**figures, "alternating": part}


def _counted(count: int, papers: list, sink: Sink) -> dict:
    """Instructions per message, summed over the workers, for 1, 2 and 3 running workers
    under valgrind's callgrind: a count of the work, not of seconds, so the same for the
    same work whatever else the host does. For each worker count: the workers started
    (not instrumented), one `digest send` not counted (their start-up and first shards),
    then :data:`ROUNDS` runs counted, each after the ledger is emptied (the next day's
    run on long-running workers). The workers' timers are spaced out (bench.counted_worker):
    their cost is the idle CPU per worker-hour of the plain benchmark."""
    found: dict[int, list[dict]] = {}
    for workers in (1, 2, 3):
        run = _Run(workers, count, papers, sink)
        try:
            run.start_workers()
            run.send(run.so_far)
            found[workers] = []
            for _ in range(ROUNDS):
                figures, counts = run.count(run.again)
                sent = max(1, figures["sent"])
                figures["instructions"] = counts
                figures["instructions_per_msg"] = round(sum(counts) / sent)
                found[workers].append(figures)
            run.stop_workers()
        finally:
            run.close()
    one = _median([r["instructions_per_msg"] for r in found[1]])
    ratios = [
        round(_median([r["instructions_per_msg"] for r in found[w]]) / one, 4) for w in (1, 2, 3)
    ]
    for workers, rows in found.items():
        print(
            f"{workers} worker(s): instructions per message per run "
            f"{[r['instructions_per_msg'] for r in rows]}, sent {[r['sent'] for r in rows]}, "
            f"each worker's instructions / messages "
            + "; ".join(
                ", ".join(
                    f"{n / 1e9:.2f}G / {w['sent']}"
                    for n, w in zip(r["instructions"], r["per_worker"], strict=True)
                )
                for r in rows
            )
            + f", commits/msg {[r['commits_per_msg'] for r in rows]}"
        )
    print(f"instructions per message of N workers / one worker's (medians): {ratios}")
    figures = {
        "when": datetime.now(UTC).isoformat(),
        "subscribers": count,
        "shard_size": SHARD,
        "rounds": ROUNDS,
        "runs": found,
        "instruction_ratio_to_one_worker": ratios,
    }
    print(f"saved {save('scale_instructions', figures)}")
    return figures


def run(quick: bool = False) -> dict:
    count = int(os.environ.get("DIGEST_BENCH_SUBSCRIBERS") or (3000 if quick else 20000))
    papers = _papers()
    sink = Sink()
    rows: list[dict] = []
    try:
        if INSTRUCTIONS:
            return _counted(count, papers, sink)
        if ALTERNATE:
            return _report_alternating(count, papers, sink)
        for n in range(ROUNDS):
            rows += [{"round": n + 1, **_one(w, count, papers, sink)} for w in (0, 1, 2, 3)]
    finally:
        sink.close()
    figures: dict = {
        "when": datetime.now(UTC).isoformat(),
        "load": os.getloadavg(),
        "subscribers": count,
        "shard_size": SHARD,
        "connections_per_worker": "split" if SPLIT else CONNECTIONS,
        "senders_pinned_to_cpu0": PIN,
        "rounds": ROUNDS,
        "idle_s_between_runs": IDLE,
        "runs": rows,
    }
    for which, pick in (("first", lambda r: r), ("second", lambda r: r["warm"])):
        medians, ratios, per_round = _ratios(rows, pick)
        figures[which] = {
            "medians": medians,
            "cpu_ratio_to_one_worker": ratios,
            "per_round": per_round,
        }
    _print(rows, figures)
    print(f"saved {save('scale', figures)}")
    return figures
