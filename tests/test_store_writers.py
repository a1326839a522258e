"""Two writers on one store file at the same moment (two processes' worth: each with its
own engine, so only SQLite's own locking keeps them apart)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import RSS_ALL

from digest.sources import SOURCE_PRIORITY, arxiv_rss
from digest.store import Store
from digest.subscribers import Subscription

T0 = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def at_once(tasks: list[Callable[[], Any]]) -> list[Any]:
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


@pytest.mark.realdata
def test_two_ingests_of_one_listing_at_once_store_each_paper_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    papers = arxiv_rss.parse(RSS_ALL.read_bytes()).papers
    stores = [Store.open(url) for _ in range(2)]
    try:
        priority = SOURCE_PRIORITY["arxiv-rss"]
        counts = at_once(
            [
                lambda s=s, n=n: s.ingest(f"rss{n}", priority, papers, T0)
                for n, s in enumerate(stores)
            ]
        )
        assert not any(isinstance(c, BaseException) for c in counts), counts
        assert sorted(c.new for c in counts) == [0, 1504]
        assert len(stores[0].papers()) == 1504
        assert {p.sources for p in stores[1].papers()} == {("rss0", "rss1")}
    finally:
        for store in stores:
            store.close()


def test_two_writers_adding_the_same_addresses_at_once_add_each_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    stores = [Store.open(url) for _ in range(2)]
    emails = [f"r{n}@example.org" for n in range(40)]

    def add_all(store: Store, status: str) -> list[bool]:
        return [
            store.add_subscriber(Subscription(e, ("rl",)), status=status, now=T0)[1] for e in emails
        ]

    try:
        results = at_once(
            [lambda: add_all(stores[0], "pending"), lambda: add_all(stores[1], "active")]
        )
        assert not any(isinstance(r, BaseException) for r in results), results
        assert [a + b for a, b in zip(*results, strict=True)] == [1] * len(emails)
        found = stores[0].subscribers()
        assert sorted(s.email for s in found) == sorted(emails)
        assert {s.status for s in found} == {"active"}  # an active add always wins
    finally:
        for store in stores:
            store.close()
