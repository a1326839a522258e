"""The daemon against a broken world: a job that runs long, a database damaged under it."""

from __future__ import annotations

import queue
import signal
import threading
from datetime import UTC, datetime, timedelta

import pytest
from conftest import SAMPLE, make_settings
from postgres import ON_POSTGRES
from processes import prepare, start_daemon

from digest.errors import StoreError
from digest.tokens import Tokens
from scheduler.daemon import Daemon
from scheduler.lock import DaemonLock, LockHeld

TOKENS = Tokens("test-secret-0123456789abcdef")
START = datetime(2026, 11, 27, 12, tzinfo=UTC)
GARBAGE = b"this is not a database, whatever its name says\n" * 200


def damage(folder):
    """Garbage over the database and its write-ahead log, as a broken disk or a stray copy
    leaves them."""
    for name in ("digest.db", "digest.db-wal"):
        (folder / name).write_bytes(GARBAGE)


def settings_for(tmp_path):
    return make_settings(
        tmp_path,
        [{"name": "arxiv", "kind": "arxiv-rss", "path": str(SAMPLE / "arxiv-listing.xml")}],
        topics=[{"slug": "rl", "name": "RL", "keywords": ["reinforcement learning"]}],
        mail={"outbox_dir": str(tmp_path / "outbox")},
        schedule={"lock_timeout": 5},
    )


ON_SQLITE_ONLY = pytest.mark.skipif(ON_POSTGRES, reason="damages the SQLite store file")
ROW_LOCK_ONLY = pytest.mark.skipif(
    ON_POSTGRES,
    reason="on PostgreSQL leadership is a session advisory lock, held while its connection "
    "lives (tests/test_leader_processes.py), with no heartbeat row to renew",
)


@ROW_LOCK_ONLY
def test_a_long_job_keeps_the_lock_so_a_second_daemon_cannot_take_over(tmp_path, monkeypatch):
    """#9.9: the heartbeat renews the lock while the only job thread is busy."""
    settings = settings_for(tmp_path)
    clock = [START]
    in_job, release = threading.Event(), threading.Event()
    beats: queue.Queue[datetime] = queue.Queue()
    real_beat = DaemonLock.beat

    def beat(self, now):
        held = real_beat(self, now)
        beats.put(now)
        return held

    def long_delivery(self):
        in_job.set()
        release.wait(60)

    monkeypatch.setattr(DaemonLock, "beat", beat)
    monkeypatch.setattr(Daemon, "deliver", long_delivery)
    first = Daemon(settings, tokens=TOKENS, clock=lambda: clock[0])
    first.start(paused=True)
    try:
        first.scheduler.get_job("deliver").modify(next_run_time=datetime.now(UTC))
        first.scheduler.resume()
        assert in_job.wait(30), "the delivery job never started"
        clock[0] = START + timedelta(seconds=4)  # 4 s into a job that goes on
        while beats.get(timeout=30) < clock[0]:
            pass  # a beat from before the clock moved
        second = Daemon(settings, tokens=TOKENS, clock=lambda: START + timedelta(seconds=7))
        with pytest.raises(LockHeld, match="another digest daemon runs on this database"):
            second.start(paused=True)
    finally:
        release.set()
        first.shutdown()


@ON_SQLITE_ONLY
def test_a_database_damaged_under_the_daemon_stops_it_with_one_error(tmp_path):
    """#9.12: no traceback at every tick; the daemon stops and says why."""
    settings = settings_for(tmp_path)
    running = Daemon(settings, tokens=TOKENS)
    running.start(paused=True)
    try:
        running.scheduler.get_job("deliver").modify(next_run_time=datetime.now(UTC))
        damage(tmp_path)
        running.scheduler.resume()
        assert running.stopping.wait(30), "the daemon goes on with a damaged database"
    finally:
        running.shutdown()
    assert isinstance(running.fatal, StoreError)
    message = str(running.fatal)
    assert "cannot be used any more" in message and "\n" not in message


def test_a_store_error_inside_a_job_stops_the_daemon(tmp_path, monkeypatch):
    settings = settings_for(tmp_path)

    def refused(*args, **kwargs):
        raise StoreError("the store at x is not a Paper Digest database")

    monkeypatch.setattr("digest.pipeline.deliver", refused)
    with pytest.raises(StoreError, match="not a Paper Digest database"):
        Daemon(settings, tokens=TOKENS).run_once()


@pytest.mark.slow
@ON_SQLITE_ONLY
def test_the_daemon_process_exits_non_zero_with_one_line_on_a_damaged_database(tmp_path, smtp_sink):
    _, port = smtp_sink
    config, _ = prepare(tmp_path, port, daemon=True, readers=1)
    daemon = start_daemon(config)
    try:
        assert "daemon started" in daemon.stderr.readline()
        damage(tmp_path)
        _, err = daemon.communicate(timeout=60)
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(30)
    assert daemon.returncode == 1, err
    assert "Traceback" not in err
    last = err.splitlines()[-1]
    assert last.startswith("Error: the database sqlite:///") and "cannot be used any more" in last
