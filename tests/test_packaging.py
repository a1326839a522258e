"""The wheel ships the templates, the migrations and the sample listing, and works installed."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    return next(out.glob("paper_digest-*.whl"))


def test_wheel_holds_every_template_migration_and_sample_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = [
        "digest/templates/" + p.relative_to(ROOT / "templates").as_posix()
        for p in (ROOT / "templates").rglob("*")
        if p.is_file()
    ]
    expected += [
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "digest").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    expected += [p.relative_to(ROOT).as_posix() for p in (ROOT / "scheduler").rglob("*.py")]
    missing = sorted(set(expected) - names)
    assert not missing
    assert "digest/sample/digest.toml" in names  # the built-in settings
    assert any(n.startswith("digest/store/migrations/versions/") for n in names)
    assert any(n.endswith("entry_points.txt") for n in names)


def test_installed_wheel_finds_its_templates_and_runs(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = (
        "import digest.resources as r, digest.config as c; "
        "print(r.templates_dir()); print(c.SAMPLE_DIR); "
        "print(c.sample_settings().sources[0].path)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    ).stdout.split()
    assert out[0] == str(target / "digest" / "templates")
    assert out[1] == str(target / "digest" / "sample")
    assert out[2] == str(target / "digest" / "sample" / "arxiv-listing.xml")
    assert (target / "digest" / "templates").is_dir()
    result = subprocess.run(
        [sys.executable, "-m", "digest", "fetch"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("arxiv-sample: 36 new")
