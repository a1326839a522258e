"""The ledger's group commit on PostgreSQL: the steps of a run's sender threads that arrive
while a commit is under way are committed together in the next one, each thread told
whether its claim won, and a commit that fails fails every step it held."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest
import sqlalchemy as sa
from postgres import fresh_database

from digest.store import Delivery, Outcome, Store
from digest.subscribers import Subscription

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
PERIOD = "2026-12-03"


def _claim(subscriber_id: int) -> Delivery:
    return Delivery(
        subscriber_id, PERIOD, "pending", 0, None, f"m{subscriber_id}", (), T0, T0, "me", T0
    )


def _readers(store: Store, count: int) -> list[int]:
    return [
        store.add_subscriber(Subscription(f"g{n}@example.org", ("rl",)), status="active", now=T0)[
            0
        ].id
        for n in range(count)
    ]


def _until(condition, what: str) -> None:
    """Wait for ``condition`` (a state other threads reach), failing after 30 s."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def _held_then_released(group, steps, blocker) -> list:
    """Run each step in a thread of its own: the first while ``blocker``'s transaction holds
    its commit up, the others once they all queued behind it; then release the first. The
    steps' results (or exceptions), in order."""
    results: list = [None] * len(steps)

    def run(i: int) -> None:
        try:
            results[i] = group.step(*steps[i])
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(steps))]
    threads[0].start()
    _until(lambda: group._busy, "the first commit to start")
    for thread in threads[1:]:
        thread.start()
    _until(lambda: len(group._waiting) == len(steps) - 1, "the other steps to queue")
    blocker.rollback()  # the first step goes through; the queued steps follow it together
    blocker.close()
    for thread in threads:
        thread.join()
    return results


def test_steps_arriving_during_a_commit_are_committed_together_in_the_next():
    with fresh_database() as url:
        store = Store.open(url)
        group = store.ledger_group()
        try:
            assert group is not None
            first, *others, taken = _readers(store, 5)
            other_run = store.ledger_writer()
            other_run.step(claim=_claim(taken))  # another run has this one
            other_run.close()
            # another transaction holds the first claim's key: its commit waits on it
            blocker = store.engine.connect()
            blocker.execute(
                sa.text(
                    "INSERT INTO deliveries (subscriber_id, period, status, attempts, "
                    "message_id, papers, window_start, window_end) VALUES "
                    "(:s, :p, 'pending', 0, 'other', '[]', :t, :t)"
                ),
                {"s": first, "p": PERIOD, "t": T0.replace(tzinfo=None)},
            )
            steps = [(None, _claim(first))]
            steps += [(None, _claim(s)) for s in others] + [(None, _claim(taken))]
            results = _held_then_released(group, steps, blocker)
            assert results == [True, True, True, True, False]
            assert (group.commits, group.steps) == (2, 5)
            mine = {d.subscriber_id: d.message_id for d in store.deliveries()}
            assert mine == {first: f"m{first}", **{s: f"m{s}" for s in others}, taken: f"m{taken}"}
        finally:
            if group is not None:
                group.close()
            store.close()


def test_a_commit_that_fails_fails_every_step_it_held_and_none_of_its_claims_stands():
    with fresh_database() as url:
        store = Store.open(url)
        group = store.ledger_group()
        try:
            assert group is not None
            ids = _readers(store, 4)
            assert group.step(claim=_claim(ids[0]))
            blocker = store.engine.connect()
            blocker.execute(
                sa.text("SELECT 1 FROM deliveries WHERE subscriber_id = :s FOR UPDATE"),
                {"s": ids[0]},
            )
            sent = Outcome(ids[0], PERIOD, "sent", T0)
            gone = 10**9  # no such reader: its claim breaks the commit it is in
            steps = [(sent, _claim(ids[1])), (None, _claim(ids[2])), (None, _claim(gone))]
            results = _held_then_released(group, steps, blocker)
            assert results[0] is True
            assert isinstance(results[2], psycopg.errors.ForeignKeyViolation)
            assert results[1] is results[2]  # one failure, told to each step it held
            rows = {d.subscriber_id: d.status for d in store.deliveries()}
            assert rows == {ids[0]: "sent", ids[1]: "pending"}
            # the group goes on after a failed commit
            assert group.step(claim=_claim(ids[3]))
            assert {d.subscriber_id for d in store.deliveries()} == {ids[0], ids[1], ids[3]}
        finally:
            if group is not None:
                group.close()
            store.close()
