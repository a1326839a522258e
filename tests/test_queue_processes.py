"""Delivery through the job queue with real processes: three `digest worker` processes on
PostgreSQL, `digest send` deferring the shards and waiting, an SMTP sink counting the
messages per recipient, one worker killed (or stopped) about a third of the way in, or
the PostgreSQL server restarted (a server of the test's own).

20,000 subscribers, the issue's figure (35-45 s a test on the two cores here, now that a
run ranks once); DIGEST_TEST_QUEUE_SUBSCRIBERS sets another count (the deadlines grow with
the count; they only bound a hang).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import free_port
from postgres import fresh_database, own_server
from processes import DIGEST, ENV, prepare

pytestmark = pytest.mark.slow

READERS = int(os.environ.get("DIGEST_TEST_QUEUE_SUBSCRIBERS", "20000"))
#: Generous bounds for a hang: seconds to the first third, and to the end of the run.
A_THIRD_IN, ALL_DONE = 120 + READERS / 30, 240 + READERS / 10
SHARD = 250
CONNECTIONS = 2  # per send job, and each worker runs one job at a time


def queue_config(tmp_path: Path, url: str, port: int, readers: int) -> tuple[Path, list[str]]:
    extra = f'[deliver]\nmode = "queue"\nshard_size = {SHARD}\n'
    return prepare(tmp_path, port, readers, connections=CONNECTIONS, url=url, extra=extra)


def log_path(tmp_path: Path, *args: str) -> Path:
    """Where `start` writes the output of `digest *args`."""
    return tmp_path / f"{'-'.join(args)}.log"


def start(config: Path, tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    log = log_path(tmp_path, *args).open("wb")
    return subprocess.Popen(
        [DIGEST, "--config", str(config), *args], env=ENV, stdout=log, stderr=subprocess.STDOUT
    )


def ledger_statuses(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT status, count(*) FROM deliveries GROUP BY status"))
            return {str(status): int(n) for status, n in rows}
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_three_workers_send_each_edition_once_when_one_goes_away(tmp_path, smtp_sink, stop):
    sink, port = smtp_sink
    with fresh_database() as url:
        config, addresses = queue_config(tmp_path, url, port, READERS)
        workers = [start(config, tmp_path, "worker", "--name", f"w{i}") for i in range(3)]
        try:
            send = subprocess.Popen(
                [DIGEST, "--config", str(config), "send"],
                env=ENV,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert sink.wait_for(READERS // 3, timeout=A_THIRD_IN), "a third never arrived"
            victim = workers[0]
            victim.send_signal(stop)
            assert victim.wait(60) == (0 if stop == signal.SIGTERM else -signal.SIGKILL)
            out, err = send.communicate(timeout=ALL_DONE)
            assert send.returncode == 0, err
            shards = READERS // SHARD
            assert f"Deferred {shards} send jobs" in out
            assert f"{shards} shards done, 0 failed." in out
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(60)
        assert all(w.returncode in (0, -signal.SIGKILL) for w in workers)
        got = sink.per_recipient()
        counts = {a: got[a] for a in addresses}
        assert all(counts.values()), [a for a, n in counts.items() if not n][:5]
        twice = [a for a, n in counts.items() if n > 1]
        if stop == signal.SIGTERM:
            assert twice == []
        else:  # at most the messages the killed worker had in flight
            assert len(twice) <= CONNECTIONS and all(counts[a] == 2 for a in twice)
        assert ledger_statuses(url) == {"sent": READERS}


def test_queue_mode_on_sqlite_is_one_line_config_error(tmp_path):
    config = tmp_path / "digest.toml"
    config.write_text('[deliver]\nmode = "queue"\n')
    result = subprocess.run(
        [DIGEST, "--config", str(config), "send"], env=ENV, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("Error: ") and 'mode = "queue" needs a PostgreSQL' in (
        result.stderr
    )


@pytest.mark.postgres
def test_workers_finish_the_run_when_postgresql_restarts_mid_run(tmp_path, smtp_sink):
    sink, port = smtp_sink
    with own_server(free_port()) as server:
        config, addresses = queue_config(tmp_path, server.url, port, READERS)
        workers = [start(config, tmp_path, "worker", "--name", f"w{i}") for i in range(3)]
        try:
            send = subprocess.Popen(
                [DIGEST, "--config", str(config), "send"],
                env=ENV,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert sink.wait_for(READERS // 3, timeout=A_THIRD_IN), "a third never arrived"
            server.restart()
            out, err = send.communicate(timeout=ALL_DONE)
            assert send.returncode == 0, err
            assert f"{READERS // SHARD} shards done, 0 failed." in out
            assert [w.poll() for w in workers] == [None] * 3, "a worker did not survive"
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(60)
        logs = [log_path(tmp_path, "worker", "--name", f"w{i}").read_text() for i in range(3)]
        assert [w.returncode for w in workers] == [0] * 3, logs
        got = sink.per_recipient()
        counts = {a: got[a] for a in addresses}
        assert all(counts.values()), [a for a, n in counts.items() if not n][:5]
        twice = [a for a, n in counts.items() if n > 1]
        # at most the messages in flight when the connections dropped: each worker's
        assert len(twice) <= CONNECTIONS * len(workers) and all(counts[a] == 2 for a in twice)
        assert ledger_statuses(server.url) == {"sent": READERS}
