"""The job queue's parts in process: shards, the settings it needs, worker claims and
their liveness on PostgreSQL, the publish job's stage."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.utils import parsedate_to_datetime
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from conftest import SAMPLE_NOW, fetched_store, free_port, sample_config
from postgres import fresh_database
from procrastinate.exceptions import ConnectorException

import digest.compose.personal
from digest import pipeline
from digest.config import load_settings
from digest.deliver.claims import Liveness, claimant, worker_claimant
from digest.deliver.prepare import prepare
from digest.deliver.shared import share_run
from digest.errors import ConfigError, StoreError
from digest.queue import connector, conninfo, defer, ensure_schema
from digest.queue.defer import shards
from digest.queue.worker import ShardStop
from digest.store import Delivery, Store
from digest.subscribers import subscription
from digest.tokens import Tokens


def test_shards_are_consecutive_id_ranges_of_the_size_given():
    assert shards([9, 1, 2, 5, 7], 2) == [(1, 2), (5, 7), (9, 9)]
    assert shards([], 5000) == []
    assert shards(list(range(1, 10_001)), 5000) == [(1, 5000), (5001, 10_000)]


def test_a_shard_that_stops_leaves_its_worker_running():
    worker = threading.Event()
    shard, other = ShardStop(worker), ShardStop(worker)
    shard.set()  # the relay took nothing, or the ledger was lost: this shard ends
    assert shard.is_set() and not other.is_set() and not worker.is_set()
    worker.set()  # SIGTERM: every shard ends
    assert other.is_set()


def test_queue_mode_needs_postgresql(tmp_path):
    config = tmp_path / "digest.toml"
    config.write_text('[deliver]\nmode = "queue"\n')
    with pytest.raises(ConfigError, match=r'mode = "queue" needs a PostgreSQL \[store\] url'):
        load_settings(config)
    pg = {"DIGEST_STORE_URL": "postgresql+psycopg://postgres@127.0.0.1/digest"}
    assert load_settings(config, environ=pg).deliver.mode == "queue"
    with pytest.raises(ConfigError, match="the job queue needs PostgreSQL"):
        conninfo("sqlite:///digest.db")
    assert conninfo("postgresql+psycopg://u@h:5433/db") == "postgresql://u@h:5433/db"


def test_rate_limit_storage_must_be_one_the_limits_library_knows(tmp_path):
    config = tmp_path / "digest.toml"
    config.write_text('[web]\nrate_limit_storage = "redis://127.0.0.1:6379"\n')
    assert load_settings(config).web.rate_limit_storage == "redis://127.0.0.1:6379"
    config.write_text('[web]\nrate_limit_storage = "nowhere"\n')
    with pytest.raises(ConfigError, match="is not a storage URI the limits library knows"):
        load_settings(config)


def _claim(by: str, at: datetime) -> Delivery:
    return Delivery(1, "2026-11-26", "pending", 0, None, "m", (), at, at, by, at)


@pytest.mark.postgres
def test_a_worker_claim_is_abandoned_once_its_worker_stops_beating_or_its_job_moves():
    now = datetime.now(UTC)
    with fresh_database() as url:
        store = Store.open(url)
        try:
            ensure_schema(store.engine)
            ensure_schema(store.engine)  # once is enough, twice is harmless
            with store.engine.begin() as conn:
                ids = conn.execute(
                    sa.text(
                        "INSERT INTO procrastinate_workers (last_heartbeat) VALUES "
                        "(now()), (now() - interval '5 minutes') RETURNING id"
                    )
                ).scalars()
                alive, silent = list(ids)
            liveness = Liveness(store.engine, timeout=900)
            assert not liveness.abandoned(_claim(worker_claimant(alive, "a"), now), now)
            assert liveness.abandoned(_claim(worker_claimant(silent, "b"), now), now)
            assert liveness.abandoned(_claim(worker_claimant(alive + 99, "gone"), now), now)
            # a shard's claim lives while its worker runs that shard's job; once the job went
            # back to the queue (the database restarted under it), whoever runs it takes over
            with store.engine.begin() as conn:
                job = conn.execute(
                    sa.text(
                        "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, "
                        "worker_id) VALUES ('digest', 'digest.send', '{}', 'doing', :w) "
                        "RETURNING id"
                    ),
                    {"w": alive},
                ).scalar_one()
            mine = _claim(worker_claimant(alive, "a", job), now)
            assert not Liveness(store.engine, timeout=900).abandoned(mine, now)
            with store.engine.begin() as conn:
                conn.execute(sa.text("UPDATE procrastinate_jobs SET status = 'todo'"))
            assert Liveness(store.engine, timeout=900).abandoned(mine, now)
            # a sender that is not a worker keeps the claim_timeout rule, from any host
            other = "elsewhere:123:1"
            assert not liveness.abandoned(_claim(other, now - timedelta(seconds=60)), now)
            assert liveness.abandoned(_claim(other, now - timedelta(seconds=901)), now)
            assert liveness.abandoned(_claim(claimant(), now), now)  # this very sender
        finally:
            store.close()


def test_the_publish_job_rebuilds_one_day(tmp_path):
    settings = sample_config(tmp_path)
    store = fetched_store(settings)
    try:
        composition = pipeline.publish_day(settings, store, date(2026, 11, 26), now=SAMPLE_NOW)
    finally:
        store.close()
    assert composition.period.key == "2026-11-26"
    assert (tmp_path / "site" / "index.html").exists()


RUN_AT = SAMPLE_NOW + timedelta(hours=1)


def _readers(settings, store, count: int, **options) -> None:
    topics = ["rl", "nlp", "vision", "rl,vision"]
    for i in range(count):
        request = subscription(
            settings, email=f"r{i}@example.org", topics=topics[i % len(topics)], **options
        )
        store.add_subscriber(request, status="active", now=SAMPLE_NOW - timedelta(days=1))


def _editions(settings, store, shard, saved):
    jobs = prepare(settings, store, now=RUN_AT, shard=shard, saved=saved).jobs
    return {j.due.subscriber.email: j.papers for j in jobs}


def test_a_shard_composes_from_the_rankings_its_run_kept_without_ranking(tmp_path, monkeypatch):
    settings = sample_config(tmp_path, deliver={"shard_size": 3})
    store = fetched_store(settings)
    try:
        _readers(settings, store, 7, hour=0)
        ranges = share_run(settings, store, RUN_AT)
        assert ranges == [(1, 3), (4, 6), (7, 7)]
        assert store.rankings(RUN_AT)  # kept for the shards, under the run's moment
        ranked_here = {r: _editions(settings, store, r, saved=False) for r in ranges}
        assert all(ranked_here.values())

        def no_ranking(*args, **kwargs):
            raise AssertionError("a shard ranked although its run kept the rankings")

        monkeypatch.setattr(digest.compose.personal, "rank_topic", no_ranking)
        for shard, editions in ranked_here.items():
            assert _editions(settings, store, shard, saved=True) == editions
    finally:
        store.close()


def test_a_shard_whose_rankings_are_gone_ranks_itself(tmp_path):
    settings = sample_config(tmp_path, deliver={"shard_size": 5})
    store = fetched_store(settings)
    try:
        _readers(settings, store, 4, hour=0)
        assert share_run(settings, store, RUN_AT) == [(1, 4)]
        expected = _editions(settings, store, (1, 4), saved=True)
        assert store.prune_rankings(RUN_AT + timedelta(seconds=1)) > 0
        assert store.rankings(RUN_AT) == []
        assert _editions(settings, store, (1, 4), saved=True) == expected
        assert len(expected) == 4 and all(expected.values())
    finally:
        store.close()


def test_the_planner_defers_no_shard_when_nobody_is_due(tmp_path):
    settings = sample_config(tmp_path, deliver={"shard_size": 2})
    store = fetched_store(settings)
    try:
        _readers(settings, store, 3, hour=23)  # their send hour has not come at RUN_AT
        assert share_run(settings, store, RUN_AT) == []
        assert store.rankings(RUN_AT) == []
    finally:
        store.close()


def test_a_shard_sent_after_its_run_stamps_the_ledger_with_the_time_it_sent(tmp_path):
    """The run's moment sets what is due and where the window ends; the claims, the sends
    and the messages' Date carry the time they happened, however long the shard waited in
    the queue."""
    settings = sample_config(tmp_path, deliver={"shard_size": 5})
    store = fetched_store(settings)
    try:
        _readers(settings, store, 2, hour=0)
        assert share_run(settings, store, RUN_AT) == [(1, 2)]
        before = datetime.now(UTC)
        report = pipeline.send_shard(
            settings, store, 1, 2, now=RUN_AT, claimant="w1", tokens=Tokens("s" * 32)
        )
        rows = store.deliveries()
    finally:
        store.close()
    assert report.sent == 2 and len(rows) == 2
    assert all(r.window_end == RUN_AT for r in rows)
    assert all(r.sent_at is not None and r.sent_at >= before for r in rows)
    assert all(r.claimed_at is not None and r.claimed_at >= before for r in rows)
    mails = sorted(Path(settings.mail.outbox_dir).glob("*.eml"))
    dates = [message_from_bytes(m.read_bytes())["Date"] for m in mails]
    assert len(dates) == 2
    assert all(parsedate_to_datetime(d) >= before.replace(microsecond=0) for d in dates), dates


def _gone_database() -> str:
    """The address of a PostgreSQL server that is not there (nothing listens on the port)."""
    return f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"


def test_a_worker_waits_out_a_lost_database_then_lets_the_error_stand(monkeypatch):
    """The engine's query is tried again every RETRY_EVERY while the database is away, and
    after RECONNECT_FOR the error stands: the worker stops, and `digest worker` exits 1 for
    its supervisor to start it again."""
    monkeypatch.setattr(connector, "RECONNECT_FOR", 0.3)
    monkeypatch.setattr(connector, "RETRY_EVERY", 0.05)
    gone = _gone_database()
    tries = 0

    async def query() -> None:
        nonlocal tries
        tries += 1
        if tries > 200:  # 10 s of tries: it would wait forever
            raise RuntimeError("never gave up")
        try:
            await psycopg.AsyncConnection.connect(gone, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise ConnectorException("the query failed") from exc

    with pytest.raises(ConnectorException) as lost:
        asyncio.run(connector.Connector(conninfo=gone)._again(query))
    assert isinstance(lost.value.__cause__, psycopg.OperationalError)
    assert tries >= 3, "given up without waiting for the database"


def test_a_query_error_that_is_not_a_lost_database_is_not_tried_again(monkeypatch):
    monkeypatch.setattr(connector, "RETRY_EVERY", 0.05)
    tries = 0

    async def query() -> None:
        nonlocal tries
        tries += 1
        raise ConnectorException("a bad query") from psycopg.errors.SyntaxError("near SELEC")

    with pytest.raises(ConnectorException):
        asyncio.run(connector.Connector(conninfo=_gone_database())._again(query))
    assert tries == 1


def test_send_waiting_for_its_shards_gives_up_on_a_database_gone_too_long(monkeypatch):
    monkeypatch.setattr(defer, "RECONNECT_FOR", 0.3)
    engine = sa.create_engine(_gone_database().replace("://", "+psycopg://"))
    asked = 0

    class Gone:
        """What `Queue.wait` asks: the jobs' progress, from a database that is not there."""

        def progress(self, job_ids: list[int]) -> defer.Progress:
            nonlocal asked
            asked += 1
            if asked > 200:  # 10 s of tries: it would wait forever
                raise RuntimeError("never gave up")
            with engine.connect():
                raise AssertionError("the database answered")

    try:
        with pytest.raises(StoreError, match="lost the database for 0 s while waiting"):
            defer.Queue.wait(Gone(), [1, 2], every=0.05)  # type: ignore[arg-type]
    finally:
        engine.dispose()
    assert asked >= 3, "given up without waiting for the database"


@pytest.mark.postgres
def test_an_idle_worker_waiting_on_listen_wakes_for_its_socket_not_ten_times_a_second():
    """An idle worker waits on its LISTEN connection all day: woken every 0.1 s, as psycopg
    does by default, that was most of its CPU."""

    async def wakes(url: str) -> int:
        queue = connector.Connector(conninfo=conninfo(url))
        await queue.open_async()
        try:
            listening = await queue.pool.connection_class.connect(conninfo(url), autocommit=True)
            async with listening:
                await listening.execute("LISTEN digest_test_nothing_comes")
                loop = asyncio.get_running_loop()
                watched = loop.add_reader
                woken = 0

                def add_reader(*args: object) -> None:
                    nonlocal woken
                    woken += 1
                    watched(*args)  # type: ignore[arg-type]

                loop.add_reader = add_reader  # type: ignore[method-assign]
                async for _ in listening.notifies(timeout=1.0):
                    raise AssertionError("nothing was notified")
                return woken
        finally:
            await queue.close_async()

    with fresh_database() as url:
        assert asyncio.run(wakes(url)) <= 2
