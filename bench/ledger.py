"""The delivery ledger on SQLite and on PostgreSQL: commits per message and commit latency
of the sender's ledger writes (no mail is sent: the ledger alone), and on PostgreSQL
``last_window_ends`` over a large ledger.

`python -m bench ledger` (`--quick`: 100,000 subscribers instead of 1,000,000). PostgreSQL is
found at DIGEST_BENCH_POSTGRES (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres);
a database `digest_bench_ledger` is created there and dropped at the end.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.common import save
from digest.store import Delivery, Outcome, Store
from digest.store.schema import deliveries
from digest.subscribers import Subscription

SERVER = os.environ.get(
    "DIGEST_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
NAME = "digest_bench_ledger"
T0 = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
PERIODS = 30


def run(quick: bool = False) -> dict[str, Any]:
    messages = 500 if quick else 3000
    figures: dict[str, Any] = {"messages": messages}
    with tempfile.TemporaryDirectory() as tmp:
        figures["sqlite"] = _writes(f"sqlite:///{Path(tmp) / 'digest.db'}", messages)
    _show("sqlite", figures["sqlite"])
    admin = _admin()
    if admin is None:
        print(f"  postgresql: no server at {SERVER}, skipped")
        return figures
    try:
        url = _fresh(admin)
        figures["postgresql"] = _writes(url, messages, admin)
        _show("postgresql", figures["postgresql"])
        subscribers = 100_000 if quick else 1_000_000
        figures["last_window_ends"] = _window_ends(_fresh(admin), subscribers)
        for key, value in figures["last_window_ends"].items():
            print(f"  last_window_ends {key}: {value}")
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)")
        admin.close()
    save("ledger", figures)
    return figures


def _show(name: str, found: dict[str, Any]) -> None:
    print(
        f"  {name}: {found['commits_per_message']:.2f} commits/message "
        f"({found.get('server_commits_per_message', '-')} counted by the server), "
        f"commit latency median {found['latency_ms_median']:.3f} ms, "
        f"p99 {found['latency_ms_p99']:.3f} ms, "
        f"CPU {found['cpu_ms_per_message']:.3f} ms/message"
    )


def _admin() -> Any:
    import psycopg

    parsed = make_url(SERVER)
    try:
        return psycopg.connect(
            host=parsed.host,
            port=parsed.port or 5432,
            user=parsed.username,
            password=parsed.password,
            dbname=parsed.database or "postgres",
            autocommit=True,
            connect_timeout=5,
        )
    except psycopg.OperationalError:
        return None


def _fresh(admin: Any) -> str:
    admin.execute(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)")
    admin.execute(f"CREATE DATABASE {NAME}")
    return make_url(SERVER).set(database=NAME).render_as_string(hide_password=False)


def _server_commits(admin: Any) -> int:
    """The database's committed transactions, once every closed session's count is in."""
    last = -1
    for _ in range(50):
        found = admin.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (NAME,)
        ).fetchone()[0]
        if found == last:
            return int(found)
        last = found
        time.sleep(0.2)
    return int(last)


def _writes(url: str, messages: int, admin: Any = None) -> dict[str, Any]:
    """One sender's ledger writes, as dispatch makes them: each step records the outcome of
    the message before and claims the next."""
    with Store.open(url) as store:
        ids = [
            store.add_subscriber(
                Subscription(f"r{n}@example.org", ("rl",)), status="active", now=T0
            )[0].id
            for n in range(messages)
        ]
    before = _server_commits(admin) if admin is not None else 0
    store = Store.open(url)
    writer = store.ledger_writer()
    latencies: list[float] = []
    steps = 0
    outcome: Outcome | None = None
    cpu = time.process_time()
    for sid in ids:
        claim = Delivery(
            sid,
            "2026-11-27",
            "pending",
            0,
            None,
            f"m{sid}",
            (("rl", "arxiv:1"),),
            T0,
            T0 + timedelta(days=1),
            "bench",
            T0,
        )
        start = time.perf_counter()
        writer.step(outcome, claim=claim)
        latencies.append(time.perf_counter() - start)
        steps += 1
        outcome = Outcome(sid, "2026-11-27", "sent", T0)
    start = time.perf_counter()
    writer.step(outcome)
    latencies.append(time.perf_counter() - start)
    steps += 1
    cpu = time.process_time() - cpu
    writer.close()
    store.close()
    found: dict[str, Any] = {
        "commits_per_message": steps / messages,
        "latency_ms_median": statistics.median(latencies) * 1000,
        "latency_ms_p99": sorted(latencies)[int(len(latencies) * 0.99)] * 1000,
        "cpu_ms_per_message": cpu * 1000 / messages,
    }
    if admin is not None:
        after = _server_commits(admin)
        found["server_commits_per_message"] = round((after - before) / messages, 3)
    return found


def _window_ends(url: str, subscribers: int) -> dict[str, Any]:
    """A ledger of PERIODS daily editions for each subscriber, written period by period
    as delivery writes it; then each subscriber's latest window end, whole and by shard."""
    with Store.open(url) as store, store.engine.begin() as conn:
        start = time.perf_counter()
        conn.execute(
            sa.text(
                "INSERT INTO subscribers (id, email, status, topics, frequency, timezone, hour, "
                "created_at, bounces) SELECT g, 'r' || g || '@example.org', 'active', "
                "'[\"rl\"]', 'daily', 'UTC', 7, now(), 0 FROM generate_series(1, :n) g"
            ),
            {"n": subscribers},
        )
        for index in deliveries.indexes:  # built again after the bulk insert
            conn.execute(sa.text(f"DROP INDEX {index.name}"))
        conn.execute(sa.text("ALTER TABLE deliveries DROP CONSTRAINT deliveries_pkey"))
        conn.execute(
            sa.text(
                "INSERT INTO deliveries (subscriber_id, period, status, attempts, message_id, "
                "papers, window_start, window_end) SELECT s, to_char(day, 'YYYY-MM-DD'), "
                "CASE WHEN s % 17 = 0 THEN 'failed' ELSE 'sent' END, 1, 'm', '[]', "
                "day - interval '1 day', day FROM generate_series(0, :p - 1) p "
                "CROSS JOIN LATERAL (SELECT timestamp '2026-10-01 06:00' + p * interval '1 day' "
                "AS day) d CROSS JOIN generate_series(1, :n) s"
            ),
            {"n": subscribers, "p": PERIODS},
        )
        conn.execute(sa.text("ALTER TABLE deliveries ADD PRIMARY KEY (subscriber_id, period)"))
        for index in deliveries.indexes:  # every index the store has, as it has them
            index.create(conn)
        built = time.perf_counter() - start
    with Store.open(url) as store:
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE deliveries"))
            conn.execute(sa.text("VACUUM ANALYZE subscribers"))
        from digest.store.ledger import last_window_ends_query

        store.last_window_ends((1, 10))  # warm the connection
        whole = []
        for _ in range(3):
            start = time.perf_counter()
            ends = store.last_window_ends()
            whole.append(time.perf_counter() - start)
        assert len(ends) == subscribers - subscribers // 17  # the rest only ever failed
        shard = []  # one call per shard of 5,000, over every subscriber: a planner's tick
        for first in range(1, subscribers + 1, 5000):
            start = time.perf_counter()
            store.last_window_ends((first, first + 4999))
            shard.append(time.perf_counter() - start)
        with store.engine.connect() as conn:
            sql = last_window_ends_query().compile(conn, compile_kwargs={"literal_binds": True})
            plan = [r[0] for r in conn.execute(sa.text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"))]
        # during a run: the next period's rows claimed (pending) and not yet analyzed, the
        # statistics still those of the ledger before the run
        with store.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO deliveries (subscriber_id, period, status, attempts, "
                    "message_id, papers, window_start, window_end) SELECT s, '2026-10-31', "
                    "'pending', 0, 'm', '[]', timestamp '2026-10-30 06:00', "
                    "timestamp '2026-10-31 06:00' FROM generate_series(1, :n) s"
                ),
                {"n": subscribers},
            )
        running = []
        for first in range(1, subscribers + 1, 5000):
            start = time.perf_counter()
            store.last_window_ends((first, first + 4999))
            running.append(time.perf_counter() - start)
        with store.engine.connect() as conn:
            sql = last_window_ends_query((1, 5000)).compile(
                conn, compile_kwargs={"literal_binds": True}
            )
            running_plan = [r[0] for r in conn.execute(sa.text(f"EXPLAIN ANALYZE {sql}"))]
    return {
        "subscribers": subscribers,
        "rows": subscribers * PERIODS,
        "build_s": round(built, 1),
        "whole_s_best": round(min(whole), 3),
        # the figure (under 100 ms): one call, for one shard of 5,000 subscribers
        "shard_5000_ms_median": round(statistics.median(shard) * 1000, 1),
        "shard_5000_ms_p95": round(sorted(shard)[int(0.95 * (len(shard) - 1))] * 1000, 1),
        "shard_5000_ms_max": round(max(shard) * 1000, 1),
        "shards_over_100_ms": sum(1 for t in shard if t >= 0.1),
        "shards": len(shard),
        "shard_5000_under_100_ms": max(shard) < 0.1,
        # a whole tick as the planner makes it: every shard's call in turn
        "tick_by_shards_s": round(sum(shard), 2),
        # the same calls while a run's new rows are not yet in the statistics
        "running_shard_5000_ms_median": round(statistics.median(running) * 1000, 1),
        "running_shard_5000_ms_max": round(max(running) * 1000, 1),
        "running_shards_over_100_ms": sum(1 for t in running if t >= 0.1),
        "plan": plan,
        "running_plan": running_plan,
    }
