"""A broken world around the store: bad paths, damaged or foreign database files, huge CSV
fields. Each ends in one ``Error: …`` line and a non-zero exit, never a traceback, and a
file that is not a store of ours is left as it was."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from test_cli import digest
from test_store_interleavings import at_once

from digest.errors import StoreError, StoreUnusableError
from digest.store import Store

SAMPLE_CSV = "email,topics\n"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working folder, with no settings or store named by the environment."""
    for name in ("DIGEST_CONFIG", "DIGEST_STORE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_on(monkeypatch, capsys, url: str, *args: str) -> tuple[int, str]:
    """Run a command on the store at ``url``; its exit code and its one error line."""
    monkeypatch.setenv("DIGEST_STORE_URL", url)
    capsys.readouterr()
    code = digest(*args)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith("No digest.toml")]
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    return code, lines[0]


@pytest.fixture
def full_store(workdir) -> Path:
    """A real store with papers and a subscriber in it."""
    path = workdir / "full.db"
    url = f"sqlite:///{path}"
    with Store.open(url):
        pass
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIGEST_STORE_URL", url)
        assert digest("fetch") == 0
        assert digest("subscribers", "add", "ada@example.org", "--topics", "rl", "--active") == 0
    return path


# 9.11: the store's path


def test_a_store_path_under_a_regular_file_is_one_error_line(workdir, monkeypatch, capsys):
    (workdir / "some_file").write_text("not a folder")
    for url in ("sqlite:///some_file/x.db", "sqlite:///some_file/deeper/x.db"):
        code, line = run_on(monkeypatch, capsys, url, "subscribers", "list")
        assert code == 1
        assert "some_file is a file, not a folder" in line and "DIGEST_STORE_URL" in line


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
@pytest.mark.parametrize("path", ["/proc/x.db", "/proc/self/no-such-folder/x.db"])
def test_a_store_path_under_proc_is_one_error_line(workdir, monkeypatch, capsys, path):
    code, line = run_on(monkeypatch, capsys, f"sqlite:///{path}", "papers")
    assert code == 1 and path in line


# 9.11: damaged database files


def test_a_garbage_database_file_is_one_error_line_and_left_as_it_was(workdir, monkeypatch, capsys):
    garbage = workdir / "garbage.db"
    body = bytes(range(256)) * 40
    garbage.write_bytes(body)
    code, line = run_on(monkeypatch, capsys, f"sqlite:///{garbage}", "papers")
    assert code == 1 and "garbage.db is damaged or is not a database" in line
    assert garbage.read_bytes() == body
    assert sorted(p.name for p in workdir.iterdir()) == ["garbage.db"]


@pytest.mark.parametrize("command", [("papers",), ("subscribers", "list")])
def test_a_truncated_database_file_is_one_error_line(full_store, monkeypatch, capsys, command):
    cut = full_store.with_name("cut.db")
    shutil.copy(full_store, cut)
    with cut.open("r+b") as f:
        f.truncate(cut.stat().st_size // 2)
    code, line = run_on(monkeypatch, capsys, f"sqlite:///{cut}", *command)
    assert code == 1 and "cut.db is damaged" in line


def test_a_page_damaged_behind_a_sound_schema_is_one_error_line_when_read(
    full_store, monkeypatch, capsys
):
    """The store opens (its schema pages are sound); reading the damaged table fails."""
    _damage_table(full_store, "papers")
    url = f"sqlite:///{full_store}"
    with Store.open(url) as store:
        assert [s.email for s in store.subscribers()] == ["ada@example.org"]
        with pytest.raises(StoreUnusableError, match="full.db is damaged"):
            store.papers()
    code, line = run_on(monkeypatch, capsys, url, "papers")
    assert code == 1 and "database disk image is malformed" in line


def _damage_table(path: Path, table: str) -> None:
    conn = sqlite3.connect(path)
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    (size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.close()
    with path.open("r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\x5a" * size)


# 9.12: a file that is not a store of ours is refused, never recreated


def test_an_empty_database_file_is_refused_not_recreated(workdir, monkeypatch, capsys):
    empty = workdir / "digest.db"
    empty.touch()
    with pytest.raises(StoreUnusableError) as caught:
        Store.open(f"sqlite:///{empty}")
    assert isinstance(caught.value, StoreError)
    assert "\n" not in str(caught.value)
    code, line = run_on(monkeypatch, capsys, f"sqlite:///{empty}", "subscribers", "list")
    assert code == 1
    assert f"{empty} is an empty file, not a Paper Digest store" in line
    assert "move the file away to start a new store" in line
    assert empty.stat().st_size == 0
    assert sorted(p.name for p in workdir.iterdir()) == ["digest.db"]


def _foreign(path: Path, *statements: str) -> bytes:
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return path.read_bytes()


@pytest.mark.parametrize(
    ("statements", "message"),
    [
        (
            ["CREATE TABLE notes (body TEXT)"],
            "not a Paper Digest store (no schema version; tables: notes)",
        ),
        (["PRAGMA user_version = 3"], "is an empty database, not a Paper Digest store"),
        (
            [
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)",
                "INSERT INTO alembic_version VALUES ('ae1027a6acf')",
                "CREATE TABLE users (id INTEGER)",
            ],
            "has schema version 'ae1027a6acf', unknown to this version",
        ),
        (
            [
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)",
                "INSERT INTO alembic_version VALUES ('0002')",
                "CREATE TABLE users (id INTEGER)",
            ],
            "not a Paper Digest store (schema version '0002' but no papers table)",
        ),
    ],
)
def test_another_applications_database_is_refused_and_left_as_it_was(
    workdir, monkeypatch, capsys, statements, message
):
    other = workdir / "other.db"
    before = _foreign(other, *statements)
    code, line = run_on(monkeypatch, capsys, f"sqlite:///{other}", "papers")
    assert code == 1 and message in line
    assert other.read_bytes() == before
    assert sorted(p.name for p in workdir.iterdir()) == ["other.db"]


def test_stores_opened_at_once_on_a_new_path_all_open_the_one_store(tmp_path):
    """A new store is built aside and moved into place whole: a second opener never sees
    a half-made one (and never takes it for a file that is not ours)."""
    url = f"sqlite:///{tmp_path / 'new' / 'digest.db'}"
    results = at_once([lambda: Store.open(url).close() for _ in range(6)])
    assert results == [None] * 6
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["digest.db"]
    with Store.open(url) as store:
        assert store.papers() == []


# 9.11: a CSV field longer than the csv module reads


def test_a_huge_csv_field_is_one_skipped_line_and_the_other_rows_are_imported(
    workdir, monkeypatch, capsys
):
    monkeypatch.setenv("DIGEST_STORE_URL", f"sqlite:///{workdir / 'digest.db'}")
    huge = "x" * 140_000
    people = workdir / "people.csv"
    people.write_text(
        SAMPLE_CSV
        + "ada@example.org,rl\n"
        + f"bob@example.org,{huge}\n"
        + "cy@example.org,rl\n"
        + f'dee@example.org,"nlp,{huge}\nrl"\n'
        + "eve@example.org,nlp\n",
        encoding="utf-8",
    )
    capsys.readouterr()
    assert digest("subscribers", "import", str(people)) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    skipped = [line for line in err.splitlines() if ": skipped: " in line]
    assert skipped[:2] == [
        f"{people}:3: skipped: a field is longer than 131,072 characters",
        f"{people}:5: skipped: a field is longer than 131,072 characters",
    ]
    assert all(len(line) < 400 for line in err.splitlines())
    with Store.open(f"sqlite:///{workdir / 'digest.db'}") as store:
        emails = [s.email for s in store.subscribers()]
    assert emails == ["ada@example.org", "cy@example.org", "eve@example.org"]
    assert "3 added" in out


def test_the_ledgers_fast_path_on_a_damaged_store_raises_the_one_line_error(tmp_path):
    from datetime import UTC, datetime

    from digest.store import Delivery
    from digest.subscribers import Subscription

    path = tmp_path / "digest.db"
    now = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    with Store.open(f"sqlite:///{path}") as store:
        sub, _ = store.add_subscriber(
            Subscription("a@example.org", ("rl",)), status="active", now=now
        )
        writer = store.ledger_writer()
        row = Delivery(sub.id, "2026-11-27", "pending", 0, None, "m", (("rl", "p"),), now, now)
        assert writer.step(claim=row)
        writer.close()
    _damage_table(path, "deliveries")
    with Store.open(f"sqlite:///{path}") as store:
        writer = store.ledger_writer()
        with pytest.raises(StoreUnusableError, match="digest.db is damaged"):
            writer.step(claim=replace(row, period="2026-11-28"))
        writer.close()


def test_the_digest_process_says_one_line_for_an_empty_store_file(tmp_path):
    """The same, from outside: the real ``digest`` process, its stderr and exit code."""
    empty = tmp_path / "digest.db"
    empty.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["DIGEST_STORE_URL"] = f"sqlite:///{empty}"
    done = subprocess.run(
        [sys.executable, "-m", "digest", "subscribers", "list"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    errors = [line for line in done.stderr.splitlines() if not line.startswith("No digest.toml")]
    assert done.returncode == 1
    assert errors == [
        f"Error: store {empty} is an empty file, not a Paper Digest store: restore the store "
        "from a backup, or move the file away to start a new store"
    ]
    assert empty.stat().st_size == 0
