"""Two writers meeting where they can, made to happen: each on its own connection (two
processes' worth), released together by a barrier. On PostgreSQL the barrier stands right
before the statement where they meet, with both transactions open; SQLite runs one write
transaction at a time, so there the writers only start together. Each race ends with one
winner, and the loser is told so or waits its turn: never a database error."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import SAMPLE

from digest import subscriptions
from digest.config import sample_settings
from digest.sources import SOURCE_PRIORITY, arxiv_rss
from digest.store import EditionItem, EditionRecord, Store
from digest.store import confirmations as queue
from digest.store.database import HEAD
from digest.store.schema import daemon_lock
from digest.subscribers import Subscription, subscription
from scheduler.lock import DaemonLock, LockHeld

T0 = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def at_once(tasks: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run the tasks in threads released together; their results (or exceptions)."""
    start = threading.Barrier(len(tasks))
    results: list[Any] = [None] * len(tasks)

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = tasks[i]()
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(tasks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@contextmanager
def meeting_before(stores: Sequence[Store], statement: str) -> Iterator[threading.Barrier]:
    """On PostgreSQL, hold each store's first statement starting with ``statement`` until
    every store reached its own: the writers' transactions are open together there."""
    barrier = threading.Barrier(len(stores), timeout=60)
    if stores[0].engine.dialect.name != "postgresql":
        yield barrier
        return
    hooks = []
    for store in stores:
        met = threading.Event()

        def hold(conn, cursor, sql, params, context, many, met=met):  # type: ignore[no-untyped-def]
            if not met.is_set() and sql.lstrip().upper().startswith(statement.upper()):
                met.set()
                barrier.wait()

        sa.event.listen(store.engine, "before_cursor_execute", hold)
        hooks.append((store.engine, hold))
    try:
        yield barrier
    finally:
        for engine, hold in hooks:
            sa.event.remove(engine, "before_cursor_execute", hold)


@pytest.fixture
def two_stores(new_store_url: Callable[[], str]) -> Iterator[list[Store]]:
    """One store, opened twice: two engines, so two connections that share nothing."""
    url = new_store_url()
    stores = [Store.open(url), Store.open(url)]
    yield stores
    for store in stores:
        store.close()


def no_errors(results: list[Any], *allowed: type[BaseException]) -> None:
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, allowed)]
    assert not unexpected, unexpected


def race_for_the_lock(stores: list[Store]) -> tuple[DaemonLock, DaemonLock, Any]:
    """Two daemons start at once: the winner's lock, the loser's, and what the loser got."""
    locks = [DaemonLock(store, timeout=120) for store in stores]
    with meeting_before(stores, "INSERT INTO daemon_lock"):
        results = at_once([lambda lock=lock: lock.acquire(T0) for lock in locks])
    no_errors(results, LockHeld)
    assert sum(r is None for r in results) == 1
    won = results.index(None)
    assert holders(stores[0]) == [locks[won].holder]
    return locks[won], locks[1 - won], results[1 - won]


def test_two_daemons_starting_on_an_empty_lock_table_one_gets_the_lock(two_stores):
    winner, _, refused = race_for_the_lock(two_stores)
    assert isinstance(refused, LockHeld) and winner.holder in str(refused)


def test_two_daemons_taking_over_a_stale_lock_one_gets_it(two_stores):
    DaemonLock(two_stores[0], timeout=120).acquire(T0 - timedelta(hours=1))
    winner, loser, refused = race_for_the_lock(two_stores)
    assert isinstance(refused, LockHeld)
    assert winner.beat(T0) and not loser.beat(T0)


def holders(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(daemon_lock.c.holder)).scalars())


def test_many_addresses_added_by_two_writers_at_once_are_each_added_once(two_stores):
    emails = [f"r{n}@example.org" for n in range(40)]

    def add_all(store: Store, status: str) -> list[bool]:
        return [
            store.add_subscriber(Subscription(e, ("rl",)), status=status, now=T0)[1] for e in emails
        ]

    results = at_once(
        [lambda: add_all(two_stores[0], "pending"), lambda: add_all(two_stores[1], "active")]
    )
    no_errors(results)
    assert [a + b for a, b in zip(*results, strict=True)] == [1] * len(emails)
    found = two_stores[0].subscribers()
    assert sorted(s.email for s in found) == sorted(emails)
    assert {s.status for s in found} == {"active"}  # an active add always wins


def test_the_same_address_subscribed_twice_at_once_is_one_subscriber(two_stores):
    settings = sample_settings()
    request = subscription(settings, email="twice@example.org", topics="rl")
    with meeting_before(two_stores, "INSERT INTO subscribers"):
        results = at_once([lambda s=s: subscriptions.subscribe(s, request, T0) for s in two_stores])
    no_errors(results)
    assert sorted(r.created for r in results) == [False, True]
    assert sum(r.queued for r in results) == 1  # one confirmation mail, not two
    found = two_stores[0].subscribers()
    assert [(s.email, s.status) for s in found] == [("twice@example.org", "pending")]
    with two_stores[0].engine.connect() as conn:
        row = queue.get(conn, found[0].id)
    assert row is not None and row.queued_at is not None


def test_two_operators_adding_one_address_at_once_leave_one_opt_in(two_stores):
    settings = sample_settings()
    requests = [subscription(settings, email="op@example.org", topics=t) for t in ("rl", "nlp")]
    with meeting_before(two_stores, "INSERT INTO subscribers"):
        results = at_once(
            [
                lambda s=s, r=r: subscriptions.add(s, r, T0, active=False)
                for s, r in zip(two_stores, requests, strict=True)
            ]
        )
    no_errors(results)
    assert sorted(r.created for r in results) == [False, True]
    (found,) = two_stores[0].subscribers()
    assert found.status == "pending" and found.topics in (("rl",), ("nlp",))


def test_two_sources_storing_the_same_papers_at_once_store_each_once(two_stores):
    papers = arxiv_rss.parse((SAMPLE / "arxiv-listing.xml").read_bytes()).papers
    assert papers
    priority = SOURCE_PRIORITY["arxiv-rss"]
    with meeting_before(two_stores, "SELECT pg_advisory_xact_lock"):  # their first statement
        counts = at_once(
            [
                lambda s=s, n=n: s.ingest(f"feed{n}", priority, papers, T0)
                for n, s in enumerate(two_stores)
            ]
        )
    no_errors(counts)
    unique = len({p.id for p in papers})
    assert sorted(c.new for c in counts) == [0, unique]
    stored = two_stores[1].papers()
    assert len(stored) == unique
    assert {p.sources for p in stored} == {("feed0", "feed1")}


def edition(topic: str, period: str, papers: list[str], built: datetime) -> tuple:
    record = EditionRecord(topic, period, "daily", built, T0, T0 + timedelta(days=1), 9, 5, 3)
    items = [
        EditionItem(topic, period, paper, n + 1, 1.0 / (n + 1), ("keyword",))
        for n, paper in enumerate(papers)
    ]
    return record, items


def test_one_edition_saved_twice_at_once_keeps_one_build_whole(two_stores):
    papers = arxiv_rss.parse((SAMPLE / "arxiv-listing.xml").read_bytes()).papers
    two_stores[0].ingest("feed", SOURCE_PRIORITY["arxiv-rss"], papers, T0)
    ids = sorted(p.id for p in papers)
    builds = [
        edition("rl", "2026-11-27", ids[:3], T0),
        edition("rl", "2026-11-27", ids[3:7], T0 + timedelta(minutes=1)),
    ]
    with meeting_before(two_stores, "INSERT INTO editions"):
        results = at_once(
            [lambda s=s, b=b: s.save_edition(*b) for s, b in zip(two_stores, builds, strict=True)]
        )
    no_errors(results)
    (saved,) = two_stores[0].editions("rl")
    items = [i.paper_id for i in two_stores[0].edition_items("rl", "2026-11-27")]
    winner = next(b for b in builds if b[0].built_at == saved.built_at)
    assert items == [i.paper_id for i in winner[1]]  # that build's items, and only those


def test_a_pin_set_twice_at_once_is_one_pin(two_stores):
    papers = arxiv_rss.parse((SAMPLE / "arxiv-listing.xml").read_bytes()).papers
    two_stores[0].ingest("feed", SOURCE_PRIORITY["arxiv-rss"], papers, T0)
    paper = papers[0].id
    with meeting_before(two_stores, "INSERT INTO pins"):
        results = at_once(
            [
                lambda s=s, a=a: s.set_pin("rl", paper, a, T0)
                for s, a in zip(two_stores, ("pin", "hide"), strict=True)
            ]
        )
    no_errors(results)
    assert list(two_stores[0].pins("rl")) == [paper]


OPEN = """
import sys
from digest.store import Store
sys.stdin.readline()  # everyone is ready: open together
with Store.open(sys.argv[1]) as store:
    print(len(store.papers()))
"""


@pytest.mark.slow
def test_three_processes_opening_a_new_store_at_once_all_open_it(new_store_url):
    url = new_store_url()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for proc in procs:  # the barrier: each waits for this line, imports done
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], [err for _, err in outputs]
    assert [out.strip() for out, _ in outputs] == ["0", "0", "0"]
    with Store.open(url) as store, store.engine.connect() as conn:
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == HEAD


def test_a_paper_id_and_a_holder_of_any_length_are_stored(new_store_url):
    """A feed's id longer than any declared length: SQLite keeps it, and so must PostgreSQL
    (a refused id would lose the feed's whole listing)."""
    long_id = "https://example.org/" + "x" * 400
    paper = arxiv_rss.parse((SAMPLE / "arxiv-listing.xml").read_bytes()).papers[0]
    with Store.open(new_store_url()) as store:
        store.ingest("feed", 1, [replace(paper, id=long_id, announce_type="a" * 50)], T0)
        assert [p.id for p in store.papers()] == [long_id]
        lock = DaemonLock(store, timeout=120)
        lock.holder = "h" * 300
        lock.acquire(T0)
        assert holders(store) == [lock.holder]
