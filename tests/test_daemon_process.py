"""The real daemon as a subprocess against an in-process SMTP server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import SAMPLE

from digest.config import load_settings
from digest.fetch import fetch_sources
from digest.store import Store
from digest.subscribers import subscription

pytestmark = pytest.mark.slow
DIGEST = str(Path(sys.executable).with_name("digest"))
ENV = {**os.environ, "DIGEST_SECRET": "test-secret-0123456789abcdef", "PYTHONWARNINGS": "ignore"}


def prepare(tmp_path: Path, port: int, readers: int) -> tuple[Path, list[str]]:
    config = tmp_path / "digest.toml"
    config.write_text(f'''
[store]
url = "sqlite:///{tmp_path / "digest.db"}"
[site]
base_url = "https://papers.example.org"
[schedule]
deliver_every = 0.5
lock_timeout = 8
[mail]
transport = "smtp"
retry_delays = [0.0]
[mail.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
connections = 1
[[sources]]
name = "arxiv-sample"
kind = "arxiv-rss"
path = "{SAMPLE / "arxiv-listing.xml"}"
schedule = "0 3 * * *"
[[topics]]
slug = "rl"
name = "Reinforcement learning"
keywords = ["reinforcement learning", "reward model"]
''')
    settings = load_settings(config)
    store = Store.open(settings.store.url)
    fetch_sources(settings, store)
    addresses = [f"reader{i}@example.org" for i in range(readers)]
    from datetime import UTC, datetime

    for address in addresses:
        store.add_subscriber(
            subscription(settings, email=address, topics="rl", hour=0),
            status="active",
            now=datetime.now(UTC),
        )
    store.close()
    return config, addresses


def ledger(config: Path) -> list[dict]:
    out = subprocess.run(
        [DIGEST, "--config", str(config), "deliveries", "--format", "jsonl"],
        capture_output=True,
        text=True,
        env=ENV,
        check=True,
    ).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_the_daemon_delivers_each_edition_once_over_its_ticks(tmp_path, smtp_sink):
    sink, port = smtp_sink
    config, addresses = prepare(tmp_path, port, readers=3)
    daemon = subprocess.Popen(
        [DIGEST, "--config", str(config), "schedule"],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert sink.wait_for(3, timeout=60), "the daemon delivered nothing"
        # a second daemon on the same database refuses to start
        second = subprocess.run(
            [DIGEST, "--config", str(config), "schedule"],
            env=ENV,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert "another digest daemon runs on this database" in second.stderr
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
    config, addresses = prepare(tmp_path, port, readers=5)
    in_flight = threading.Event()
    release = threading.Event()

    async def hold_the_second(number: int) -> None:
        if number == 2:
            in_flight.set()
            await asyncio.get_running_loop().run_in_executor(None, release.wait)

    sink.data_hook = hold_the_second
    daemon = subprocess.Popen(
        [DIGEST, "--config", str(config), "schedule"],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert in_flight.wait(60), "the second message never arrived"
        daemon.send_signal(signal.SIGTERM)
    finally:
        release.set()
    _, err = daemon.communicate(timeout=30)
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
