"""The daemon: the due rule in every time zone and across daylight saving, catch-up,
the lock, the persisted plan, and what a job's failure does. Time is given, never slept."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from conftest import SAMPLE, make_settings

from digest.deliver import send_due
from digest.models import Paper
from digest.sources import SOURCE_PRIORITY
from digest.store import Store
from digest.subscribers import subscription
from digest.tokens import Tokens
from scheduler.daemon import Daemon
from scheduler.lock import DaemonLock, LockHeld

TOKENS = Tokens("test-secret-0123456789abcdef")
TOPIC = {"slug": "rl", "name": "RL", "keywords": ["reinforcement learning"]}


def settings_for(tmp_path, **mail):
    return make_settings(
        tmp_path,
        [{"name": "arxiv", "kind": "arxiv-rss", "path": str(SAMPLE / "arxiv-listing.xml")}],
        topics=[TOPIC],
        mail={"outbox_dir": str(tmp_path / "outbox"), "send_empty": True, **mail},
    )


def add(store, settings, address, **kw):
    request = subscription(settings, email=address, topics="rl", **kw)
    return store.add_subscriber(request, status="active", now=datetime(2026, 1, 1, tzinfo=UTC))[0]


def ticks(start: datetime, end: datetime, every: timedelta):
    moment = start
    while moment < end:
        yield moment
        moment += every


@pytest.mark.parametrize(
    ("zone", "hour", "day", "expected_utc"),
    [
        # spring forward: 02:00 does not exist in Berlin that day; reached when clocks jump
        ("Europe/Berlin", 2, "2026-03-29", datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        # fall back: 02:00 happens twice in Berlin; the first one counts, once
        ("Europe/Berlin", 2, "2026-10-25", datetime(2026, 10, 25, 0, 0, tzinfo=UTC)),
        ("Europe/Berlin", 8, "2026-10-25", datetime(2026, 10, 25, 7, 0, tzinfo=UTC)),
        ("America/New_York", 2, "2026-03-08", datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
        ("America/New_York", 1, "2026-11-01", datetime(2026, 11, 1, 5, 0, tzinfo=UTC)),
        ("America/New_York", 8, "2026-11-01", datetime(2026, 11, 1, 13, 0, tzinfo=UTC)),
    ],
)
def test_one_edition_per_local_day_across_daylight_saving(
    tmp_path, open_store, zone, hour, day, expected_utc
):
    settings = settings_for(tmp_path)
    store = open_store(settings)
    add(store, settings, "reader@example.org", timezone=zone, hour=hour)
    start = expected_utc - timedelta(hours=12)
    every = timedelta(minutes=15)
    for now in ticks(start, expected_utc + timedelta(hours=11), every):
        send_due(settings, store, now=now, tokens=TOKENS)
    editions = [d for d in store.deliveries() if d.period == day]
    assert len(editions) == 1  # neither skipped nor doubled
    first_tick = next(t for t in ticks(start, expected_utc + every, every) if t >= expected_utc)
    assert first_tick <= editions[0].claimed_at < first_tick + timedelta(minutes=1)


def test_a_week_of_ticks_gives_one_edition_a_day_and_one_a_week(tmp_path, open_store):
    settings = settings_for(tmp_path)
    store = open_store(settings)
    add(store, settings, "daily@example.org", timezone="Europe/Berlin", hour=7)
    add(
        store,
        settings,
        "weekly@example.org",
        timezone="America/New_York",
        hour=9,
        frequency="weekly",
        weekday="wed",
    )
    start = datetime(2026, 10, 19, 12, 0, tzinfo=UTC)  # the week Berlin changes clocks
    for now in ticks(start, start + timedelta(days=7), timedelta(minutes=30)):
        send_due(settings, store, now=now, tokens=TOKENS)
    periods = {}
    for delivery in store.deliveries():
        periods.setdefault(store.subscriber_by_id(delivery.subscriber_id).email, []).append(
            delivery.period
        )
    assert periods["daily@example.org"] == [f"2026-10-{d}" for d in range(19, 27)]
    assert periods["weekly@example.org"] == ["2026-W43"]


def test_after_days_of_downtime_one_edition_covers_the_gap(tmp_path, open_store):
    settings = settings_for(tmp_path, send_empty=False)
    store = open_store(settings)
    add(store, settings, "reader@example.org", hour=6)
    day = datetime(2026, 11, 23, tzinfo=UTC)
    subjects = ["robots", "markets", "proteins", "compilers"]
    for offset, number in ((0, 1), (1, 2), (2, 3), (3, 4)):  # papers arrive every day
        subject = subjects[number - 1]
        store.ingest(
            "arxiv",
            SOURCE_PRIORITY["arxiv-rss"],
            [
                Paper(
                    id=f"arxiv:2611.0000{number}",
                    title=f"Reinforcement learning for {subject}",
                    abstract=f"We apply reinforcement learning to {subject} and {subject} only.",
                    version=1,
                )
            ],
            day + timedelta(days=offset, hours=2),
        )
    assert send_due(settings, store, now=day + timedelta(hours=7), tokens=TOKENS).sent == 1
    # the daemon is down for three days; it comes back on the 27th at noon
    report = send_due(settings, store, now=day + timedelta(days=4, hours=12), tokens=TOKENS)
    assert report.sent == 1
    first, second = store.deliveries()
    assert (first.period, second.period) == ("2026-11-23", "2026-11-27")
    assert second.window_start == first.window_end
    assert sorted(p for _, p in second.papers) == [
        "arxiv:2611.00002",
        "arxiv:2611.00003",
        "arxiv:2611.00004",
    ]


def test_one_daemon_per_database_and_a_dead_ones_lock_is_taken_over(tmp_path, open_store):
    settings = settings_for(tmp_path)
    store = open_store(settings)
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    first = DaemonLock(store, timeout=120)
    first.acquire(now)
    second = DaemonLock(store, timeout=120)
    second.holder = "elsewhere:4242"
    with pytest.raises(LockHeld, match="another digest daemon runs on this database"):
        second.acquire(now + timedelta(seconds=60))
    assert first.beat(now + timedelta(seconds=90))
    with pytest.raises(LockHeld):
        second.acquire(now + timedelta(seconds=200))
    second.acquire(now + timedelta(seconds=211))  # no heartbeat for 121 s: taken over
    assert not first.beat(now + timedelta(seconds=212))
    second.release()
    first.acquire(now + timedelta(seconds=213))


def daemon(settings, **kw) -> Daemon:
    return Daemon(settings, tokens=TOKENS, **kw)


def test_two_daemons_and_the_persisted_plan(tmp_path):
    settings = settings_for(tmp_path)
    one = daemon(settings)
    added = one.start(paused=True)
    assert sorted(added) == ["deliver", "fetch:arxiv"]
    plan = one.listing()
    with pytest.raises(LockHeld):
        daemon(settings).start(paused=True)
    one.shutdown()
    # restarted a while later: the interval jobs keep their next run times
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=90)):
        again = daemon(settings)
        assert again.start(paused=True) == []  # the kept plan, not a new one
        assert again.listing() == plan
        again.shutdown()
    changed = settings.model_copy(
        update={
            "sources": [
                settings.sources[0].model_copy(
                    update={"schedule": "30 0 * * mon-fri", "schedule_timezone": "America/New_York"}
                )
            ]
        }
    )
    third = daemon(changed)
    third.start(paused=True)
    fetch = next(when for job_id, _, when in third.listing() if job_id == "fetch:arxiv")
    assert (
        fetch.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York")).strftime("%H:%M")
        == "00:30"
    )
    third.shutdown()


def test_a_run_missed_while_down_is_made_up_once(tmp_path, monkeypatch):
    settings = settings_for(tmp_path)
    first = daemon(settings)
    first.start(paused=True)
    first.scheduler.get_job("deliver").modify(
        next_run_time=datetime.now(UTC) - timedelta(hours=2)
    )  # down for two hours: 24 runs
    first.shutdown()
    ran = threading.Event()
    calls = []

    def deliver(self):
        calls.append(datetime.now(UTC))
        ran.set()

    monkeypatch.setattr(Daemon, "deliver", deliver)
    second = daemon(settings)
    second.start()
    try:
        assert ran.wait(30)
        job = second.scheduler.get_job("deliver")
        assert job.next_run_time > datetime.now(UTC)  # coalesced: nothing left to replay
        assert len(calls) == 1
    finally:
        second.shutdown()


def test_a_failing_job_is_logged_and_the_daemon_goes_on(tmp_path, monkeypatch, caplog):
    settings = settings_for(tmp_path)
    errors = threading.Event()
    delivered = threading.Event()

    def broken_fetch(self, source):
        raise RuntimeError("the source adapter broke")

    monkeypatch.setattr(Daemon, "fetch", broken_fetch)
    monkeypatch.setattr(Daemon, "deliver", lambda self: delivered.set())
    running = daemon(settings)
    from apscheduler.events import EVENT_JOB_ERROR

    running.scheduler.add_listener(lambda event: errors.set(), EVENT_JOB_ERROR)
    running.start(paused=True)
    now = datetime.now(UTC)
    running.scheduler.get_job("fetch:arxiv").modify(next_run_time=now)
    running.scheduler.get_job("deliver").modify(next_run_time=now + timedelta(seconds=0.5))
    caplog.set_level(logging.ERROR, logger="apscheduler")
    running.scheduler.resume()
    try:
        assert errors.wait(30) and delivered.wait(30)
        assert "the source adapter broke" in caplog.text and "Traceback" in caplog.text
        assert running.scheduler.get_job("fetch:arxiv").next_run_time > now
    finally:
        running.shutdown()


def test_a_source_that_keeps_failing_is_reported_once_a_day(tmp_path, caplog):
    settings = make_settings(
        tmp_path, [{"name": "gone", "kind": "feed", "path": str(tmp_path / "missing.xml")}]
    )
    clock = [datetime(2026, 11, 27, 8, tzinfo=UTC)]
    running = daemon(settings, clock=lambda: clock[0])
    caplog.set_level(logging.INFO, logger="digest.daemon")
    for hours in (0, 1, 2, 25):
        clock[0] = datetime(2026, 11, 27, 8, tzinfo=UTC) + timedelta(hours=hours)
        running.fetch("gone")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "fetch gone failed: no such file" in warnings[0].getMessage()
    running.store.close()


def test_once_runs_new_and_due_jobs_then_only_what_is_due(tmp_path, monkeypatch):
    settings = settings_for(tmp_path)
    runs = []
    monkeypatch.setattr(Daemon, "fetch", lambda self, *names: runs.append(f"fetch {names}"))
    monkeypatch.setattr(Daemon, "deliver", lambda self: runs.append("deliver"))
    daemon(settings).run_once()
    assert runs == ["fetch ('arxiv',)", "deliver"]  # fetched first: new editions go out now
    runs.clear()
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=1)):
        daemon(settings).run_once()  # the fetch is planned for later, and the source has run
    assert runs == ["fetch ('arxiv',)", "deliver"]  # (the patched fetch recorded nothing)


def test_once_after_list_on_a_fresh_database_fetches_then_publishes_then_delivers(tmp_path, caplog):
    settings = settings_for(tmp_path).model_copy(
        update={
            "site": settings_for(tmp_path).site.model_copy(update={"out_dir": tmp_path / "site"})
        }
    )
    listed = daemon(settings)
    listed.start(paused=True)  # what `digest schedule --list` does
    listed.shutdown()
    add_store = Store.open(settings.store.url)
    try:
        add(add_store, settings, "ada@example.org", hour=0)
    finally:
        add_store.close()
    caplog.set_level(logging.INFO, logger="digest.daemon")
    daemon(settings).run_once()
    lines = [r.getMessage().split(" ")[0].rstrip(":") for r in caplog.records]
    assert lines == ["fetch", "publish", "deliver"]
    assert caplog.records[-1].getMessage().startswith("deliver: sent 1,")
    assert list((tmp_path / "outbox").glob("*.eml"))


def test_the_fetch_job_publishes_only_when_something_new_arrived(tmp_path, caplog):
    settings = settings_for(tmp_path).model_copy(
        update={
            "site": settings_for(tmp_path).site.model_copy(update={"out_dir": tmp_path / "site"})
        }
    )
    running = daemon(settings, clock=lambda: datetime(2026, 11, 26, 14, tzinfo=UTC))
    caplog.set_level(logging.INFO, logger="digest.daemon")
    try:
        running.fetch("arxiv")
        running.fetch("arxiv")  # nothing new the second time
    finally:
        running.store.close()
    published = [r.getMessage() for r in caplog.records if r.getMessage().startswith("publish")]
    assert published == ["publish 2026-11-26: 1 topic editions, 5 highlights"]
    assert (tmp_path / "site" / "feeds" / "rl.rss").is_file()
