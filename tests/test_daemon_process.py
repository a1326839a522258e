"""The real daemon as a subprocess against an in-process SMTP server."""

from __future__ import annotations

import signal
import subprocess
import threading

import pytest
from processes import DIGEST, ENV, hold_message, ledger, prepare, start_daemon

from digest.config import load_settings

pytestmark = pytest.mark.slow


def test_the_daemon_delivers_each_edition_once_over_its_ticks(tmp_path, smtp_sink):
    sink, port = smtp_sink
    config, addresses = prepare(tmp_path, port, daemon=True, readers=3)
    daemon = start_daemon(config)
    try:
        assert sink.wait_for(3, timeout=60), "the daemon delivered nothing"
        # a second daemon on the same database refuses to start (on PostgreSQL a plain
        # `digest schedule` stands by instead: test_leader_processes; --once refuses)
        once = ["--once"] if load_settings(config).store.url.startswith("postgresql") else []
        second = subprocess.run(
            [DIGEST, "--config", str(config), "schedule", *once],
            env=ENV,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert "another digest daemon" in second.stderr and "on this database" in second.stderr
        assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err
    assert [sink.count(a) for a in addresses] == [1, 1, 1]
    assert "deliver: sent 3," in err and "stopping" in err
    assert [r["status"] for r in ledger(config)] == ["sent"] * 3


def test_sigterm_during_a_send_finishes_the_message_in_flight_and_exits(tmp_path, smtp_sink):
    sink, port = smtp_sink
    config, addresses = prepare(tmp_path, port, daemon=True, readers=5)
    in_flight, release = hold_message(sink, 2)
    daemon = start_daemon(config)
    lines: list[str] = []
    stopping = threading.Event()

    def read_log() -> None:
        for line in daemon.stderr:
            lines.append(line)
            if "stopping" in line:
                stopping.set()

    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    try:
        assert in_flight.wait(60), "the second message never arrived"
        daemon.send_signal(signal.SIGTERM)
        # the signal lands asynchronously: release the message only once the daemon took it
        assert stopping.wait(30), "the daemon did not take the signal"
    finally:
        release.set()
    daemon.wait(30)
    reader.join(30)
    daemon.stdout.close()
    daemon.stderr.close()
    err = "".join(lines)
    assert daemon.returncode == 0, err
    rows = ledger(config)
    assert [r["status"] for r in rows] == ["sent", "sent"]  # nothing left claimed
    assert len(sink.messages) == 2
    # what was not sent goes out on the next run, once
    rerun = subprocess.run(
        [DIGEST, "--config", str(config), "send"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "sent 3," in rerun.stdout
    assert [sink.count(a) for a in addresses] == [1] * 5
