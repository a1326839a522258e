"""Two `digest schedule` processes on one PostgreSQL database: one leads, the other stands
by; SIGKILL the leader and the standby takes over; every due edition goes out once."""

from __future__ import annotations

import signal
import subprocess
import threading
from pathlib import Path

import pytest
from postgres import fresh_database
from processes import DIGEST, ENV, ledger, prepare

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


class Daemon:
    """`digest schedule` with its log lines read as they come."""

    def __init__(self, config: Path) -> None:
        self.process = subprocess.Popen(
            [DIGEST, "--config", str(config), "schedule"],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()

    def says(self, text: str, timeout: float = 60, times: int = 1) -> bool:
        """Whether a line with ``text`` came (``times`` of them) before ``timeout`` seconds."""
        with self.changed:
            return self.changed.wait_for(
                lambda: sum(text in x for x in self.lines) >= times, timeout
            )


def test_one_schedule_leads_and_the_standby_takes_over_when_it_dies(tmp_path, smtp_sink):
    sink, port = smtp_sink
    with fresh_database() as url:
        config, addresses = prepare(tmp_path, port, readers=3, daemon=True, url=url)
        first = Daemon(config)
        assert first.says("daemon started"), first.lines
        second = Daemon(config)
        try:
            assert second.says("standby: another digest schedule leads"), second.lines
            assert sink.wait_for(3, timeout=60), "the leader delivered nothing"
            assert not any("leading:" in line for line in second.lines), second.lines
            first.process.send_signal(signal.SIGKILL)
            first.process.wait(30)
            # the standby leads only once the leader is gone (how soon, against lock_timeout,
            # is a figure for the benchmark: the deadline here only bounds a hang)
            assert second.says("leading: the previous leader is gone", timeout=120), second.lines
            assert second.says("daemon started"), second.lines
            assert second.says("deliver: sent 0,"), second.lines  # a tick of its own
            assert second.says("deliver: sent 0,", times=3), second.lines  # and more ticks
        finally:
            second.process.send_signal(signal.SIGTERM)
            second.process.wait(60)
        assert second.process.returncode == 0, "".join(second.lines)
        assert [sink.count(a) for a in addresses] == [1, 1, 1]
        assert [r["status"] for r in ledger(config)] == ["sent"] * 3


def test_a_standby_stopped_before_it_leads_exits_cleanly(tmp_path, smtp_sink):
    _, port = smtp_sink
    with fresh_database() as url:
        config, _ = prepare(tmp_path, port, readers=0, daemon=True, url=url)
        leader = Daemon(config)
        try:
            assert leader.says("daemon started"), leader.lines
            standby = Daemon(config)
            assert standby.says("standby:"), standby.lines
            standby.process.send_signal(signal.SIGTERM)
            assert standby.process.wait(60) == 0, standby.lines
            listed = subprocess.run(
                [DIGEST, "--config", str(config), "schedule", "--list"],
                env=ENV,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert listed.returncode == 1
            assert listed.stderr.startswith("Error: another digest daemon leads")
        finally:
            leader.process.send_signal(signal.SIGTERM)
            leader.process.wait(60)
        assert leader.process.returncode == 0


def test_in_queue_mode_the_leader_defers_and_a_worker_sends(tmp_path, smtp_sink):
    sink, port = smtp_sink
    with fresh_database() as url:
        extra = '[deliver]\nmode = "queue"\nshard_size = 2\n'
        config, addresses = prepare(tmp_path, port, readers=5, daemon=True, url=url, extra=extra)
        leader = Daemon(config)
        worker = subprocess.Popen(
            [DIGEST, "--config", str(config), "worker", "--name", "w"],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert leader.says("deliver: deferred 3 send jobs"), leader.lines
            assert sink.wait_for(5, timeout=60), "the worker sent nothing"
            assert leader.says("deliver: deferred 3 send jobs"), leader.lines
        finally:
            for process in (leader.process, worker):
                process.send_signal(signal.SIGTERM)
            for process in (leader.process, worker):
                process.wait(60)
        assert leader.process.returncode == worker.returncode == 0
        assert [sink.count(a) for a in addresses] == [1] * 5
        assert [r["status"] for r in ledger(config)] == ["sent"] * 5
