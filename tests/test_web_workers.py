"""`digest serve --workers N`: the subscribe rate limit holds across the worker processes
when it counts in Redis, and `memory://` is refused for more than one worker."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time

import httpx
import pytest
from conftest import free_port
from processes import DIGEST, ENV

pytestmark = pytest.mark.slow

REDIS = "redis://127.0.0.1:6379"


def _redis_or_skip() -> None:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            return
    except OSError as exc:
        reason = f"Redis is not reachable at {REDIS}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def _config(tmp_path, storage: str, limit: int) -> str:
    config = tmp_path / "digest.toml"
    host = f"papers-{secrets.token_hex(4)}.example.org"  # a count of its own in Redis
    config.write_text(f'''
[store]
url = "sqlite:///{tmp_path / "digest.db"}"
[site]
base_url = "https://{host}"
out_dir = "{tmp_path / "site"}"
[mail]
outbox_dir = "{tmp_path / "outbox"}"
[web]
subscribe_limit = {limit}
subscribe_window = 600
rate_limit_storage = "{storage}"
[[topics]]
slug = "rl"
name = "Reinforcement learning"
keywords = ["reinforcement learning"]
''')
    return str(config)


def _until_listening(port: int, process: subprocess.Popen[bytes], within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert process.poll() is None, "digest serve exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {within} s")


def test_four_workers_on_redis_accept_exactly_the_limit(tmp_path):
    _redis_or_skip()
    limit = 5
    config = _config(tmp_path, REDIS, limit)
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [DIGEST, "--config", config, "serve", "--port", str(port), "--workers", "4"],
        env=ENV,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _until_listening(port, server)
        answers = []
        for i in range(4 * limit):  # a new connection each time: any worker may answer
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                answer = client.post(
                    "/subscribe", data={"email": f"r{i}@example.org", "topics": ["rl"]}
                )
            answers.append(answer.status_code)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    assert answers.count(200) == limit, answers
    assert answers.count(429) == 3 * limit, answers


def test_several_workers_refuse_an_in_memory_rate_limit(tmp_path):
    config = _config(tmp_path, "memory://", 5)
    result = subprocess.run(
        [DIGEST, "--config", config, "serve", "--workers", "2"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
    assert "--workers 2 needs a shared [web] rate_limit_storage" in result.stderr
