"""Exactly once across processes: `digest send` killed mid-run, and two at the same time."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess

import pytest
from processes import DIGEST, ENV, hold_message, ledger, prepare

pytestmark = pytest.mark.slow


def test_killed_mid_run_then_rerun_sends_the_rest_and_at_most_the_one_in_flight_twice(
    tmp_path, smtp_sink
):
    sink, port = smtp_sink
    config, addresses = prepare(tmp_path, port, readers=8, connections=1)
    in_flight, release = hold_message(sink, 4)
    process = subprocess.Popen(
        [DIGEST, "--config", str(config), "send"],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert in_flight.wait(60), "the fourth message never arrived"
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        release.set()
    assert sink.wait_for(3)
    rows = ledger(config)
    assert sorted(r["status"] for r in rows) == ["pending", "sent", "sent", "sent"]
    pending = next(r for r in rows if r["status"] == "pending")

    sink.data_hook = None
    rerun = subprocess.run(
        [DIGEST, "--config", str(config), "send"], capture_output=True, text=True, env=ENV
    )
    assert rerun.returncode == 0, rerun.stderr
    assert "sent 5," in rerun.stdout
    counts = {a: sink.count(a) for a in addresses}
    # the one in flight when the process died: the server may or may not have kept it
    assert counts[pending["email"]] in (1, 2)
    assert all(n == 1 for a, n in counts.items() if a != pending["email"])
    rows = ledger(config)
    assert [r["status"] for r in rows] == ["sent"] * 8
    resent = [m for _, rcpts, m in sink.messages if pending["email"] in rcpts]
    ids = {line for m in resent for line in m.split(b"\r\n") if line.startswith(b"Message-ID")}
    assert len(ids) == 1  # sent again with the same Message-ID, so clients show it once


def test_two_senders_at_once_send_each_edition_once(tmp_path, smtp_sink):
    sink, port = smtp_sink
    config, addresses = prepare(tmp_path, port, readers=16, connections=2)

    async def slow(number: int) -> None:
        await asyncio.sleep(0.02)

    sink.data_hook = slow
    command = [DIGEST, "--config", str(config), "send", "--format", "json"]
    first = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    second = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    outputs = [json.loads(p.communicate(timeout=120)[0]) for p in (first, second)]
    assert first.returncode == second.returncode == 0
    assert [sink.count(a) for a in addresses] == [1] * 16
    assert sum(o["sent"] for o in outputs) == 16
    assert [r["status"] for r in ledger(config)] == ["sent"] * 16
