"""`make demo` in a folder of its own, run twice, and an operator's own configuration
beside it that starts from nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT


def _run(args, cwd, **env):
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **env},
    )


@pytest.mark.slow
def test_make_demo_runs_again_and_again_and_leaves_a_users_own_config_alone(tmp_path):
    demo = tmp_path / "demo"
    make = [
        "make",
        "-s",
        "-C",
        str(ROOT),
        "demo",
        f"DEMO={demo}",
        f"BIN={Path(sys.executable).parent}",
    ]
    make.append(f"STAMP={ROOT / 'pyproject.toml'}")  # the environment is there already
    before = sorted(p.name for p in ROOT.iterdir())
    first = _run(make, ROOT)
    assert first.returncode == 0, first.stderr
    assert "sent 1," in first.stdout
    second = _run(make, ROOT)
    assert second.returncode == 0, second.stderr
    assert "sent 0," in second.stdout and "1 sent before" in second.stdout
    assert sorted(p.name for p in demo.iterdir()) == ["digest.db", "digest.toml", "outbox", "site"]
    assert len(list((demo / "outbox").glob("*.eml"))) == 1
    assert sorted(p.name for p in ROOT.iterdir()) == before  # no store, site or outbox here
    # the operator's own folder: init, then their config starts from nothing
    own = tmp_path / "project"
    own.mkdir()
    digest = str(Path(sys.executable).with_name("digest"))
    assert _run([digest, "init"], own).returncode == 0
    listed = _run([digest, "subscribers", "list"], own)
    assert listed.returncode == 0 and "0 subscribers" in listed.stderr
    papers = _run([digest, "papers"], own)
    assert papers.returncode == 0 and "0 papers" in papers.stderr


@pytest.mark.slow
def test_schedule_list_then_once_on_a_fresh_database_fetches_publishes_delivers(tmp_path):
    digest = str(Path(sys.executable).with_name("digest"))
    env = {"DIGEST_SECRET": "test-secret-0123456789abcdef"}
    assert _run([digest, "init", "--sample", "digest.toml"], tmp_path).returncode == 0
    reader = "subscribers add ada@example.org --topics rl --hour 0 --active".split()
    added = _run([digest, *reader], tmp_path)
    assert added.returncode == 0, added.stderr
    listed = _run([digest, "schedule", "--list"], tmp_path, **env)
    assert listed.returncode == 0 and "fetch:arxiv-sample" in listed.stdout
    once = _run([digest, "schedule", "--once"], tmp_path, **env)
    assert once.returncode == 0, once.stderr
    jobs = [line.split(" ", 3)[3].split(" ")[0].rstrip(":") for line in once.stderr.splitlines()]
    jobs = [job for job in jobs if job != "migrating"]
    assert jobs == ["fetch", "fetch", "publish", "deliver"], once.stderr
    assert "deliver: sent 1," in once.stderr
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
