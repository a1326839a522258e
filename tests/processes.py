"""What the subprocess tests share: the `digest` command, a seeded SMTP setup, the ledger."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from conftest import SAMPLE, store_url

from digest.config import load_settings
from digest.fetch import fetch_sources
from digest.store import Store
from digest.store.database import write_transaction
from digest.store.schema import subscribers
from digest.subscribers import subscription

DIGEST = str(Path(sys.executable).with_name("digest"))
ENV = {**os.environ, "DIGEST_SECRET": "test-secret-0123456789abcdef", "PYTHONWARNINGS": "ignore"}

DAEMON = """
[schedule]
deliver_every = 0.5
lock_timeout = 8
"""


def prepare(
    tmp_path: Path,
    port: int,
    readers: int,
    *,
    connections: int = 1,
    daemon: bool = False,
    url: str | None = None,
    extra: str = "",
) -> tuple[Path, list[str]]:
    """A config sending over SMTP to `port`, the sample listing fetched, `readers` active
    (the store at `url`, default a SQLite file in tmp_path; `extra`: more sections)."""
    config = tmp_path / "digest.toml"
    config.write_text(f'''
[store]
url = "{url or store_url(tmp_path / "digest.db")}"
[site]
base_url = "https://papers.example.org"
{DAEMON if daemon else ""}
{extra}
[mail]
transport = "smtp"
retry_delays = [0.0]
[mail.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
connections = {connections}
[[sources]]
name = "arxiv-sample"
kind = "arxiv-rss"
path = "{SAMPLE / "arxiv-listing.xml"}"
{'schedule = "0 3 * * *"' if daemon else ""}
[[topics]]
slug = "rl"
name = "Reinforcement learning"
keywords = ["reinforcement learning", "reward model"]
''')
    settings = load_settings(config)
    store = Store.open(settings.store.url)
    try:
        fetch_sources(settings, store)
        addresses = [f"reader{i:02d}@example.org" for i in range(readers)]
        now = datetime.now(UTC)
        if addresses:  # the first the usual way, the rest like it in one statement
            request = subscription(settings, email=addresses[0], topics="rl", hour=0)
            first, _ = store.add_subscriber(request, status="active", now=now)
            columns = {c.name for c in subscribers.c} - {"id", "email"}
            row = {k: v for k, v in dataclasses.asdict(first).items() if k in columns}
            if addresses[1:]:
                with write_transaction(store.engine) as conn:
                    conn.execute(subscribers.insert(), [{**row, "email": a} for a in addresses[1:]])
    finally:
        store.close()
    return config, addresses


def start_daemon(config: Path) -> subprocess.Popen[str]:
    """`digest schedule` on this configuration, its output piped."""
    return subprocess.Popen(
        [DIGEST, "--config", str(config), "schedule"],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def ledger(config: Path) -> list[dict]:
    out = subprocess.run(
        [DIGEST, "--config", str(config), "deliveries", "--format", "jsonl"],
        capture_output=True,
        text=True,
        env=ENV,
        check=True,
    ).stdout
    return [json.loads(line) for line in out.splitlines()]


def hold_message(sink, number: int) -> tuple[threading.Event, threading.Event]:
    """Make the sink stall inside DATA of its `number`th message until `release` is set."""
    in_flight = threading.Event()
    release = threading.Event()

    async def hold(n: int) -> None:
        if n == number:
            in_flight.set()
            await asyncio.get_running_loop().run_in_executor(None, release.wait)

    sink.data_hook = hold
    return in_flight, release
