"""The ``digest`` command from outside: exit codes, one-line errors, output shapes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HF_RAW, RSS_ALL, RSS_ERROR

from digest.cli import main
from digest.config import STARTER_CONFIG, load_settings

PAPER_KEYS = {
    "id",
    "version",
    "title",
    "abstract",
    "authors",
    "categories",
    "published",
    "first_seen",
    "links",
    "sources",
    "announce_type",
    "upvotes",
}


def digest(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def write_config(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    monkeypatch.delenv("DIGEST_STORE_URL", raising=False)
    return tmp_path


def test_init_writes_a_commented_starter_file_that_loads(workdir, capsys):
    assert digest("init") == 0
    text = (workdir / "digest.toml").read_text()
    assert text == STARTER_CONFIG and text.count("#") > 20
    settings = load_settings()
    assert settings.sources[0].kind == "arxiv-rss" and settings.topics[0].slug == "rl"
    assert digest("init") == 2
    assert "exists already" in capsys.readouterr().err
    assert digest("init", "--force") == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[store]\nurl = "sqlite:///x.db"\ncolour = "red"\n', "unknown key 'store.colour'"),
        (
            '[[sources]]\nname = "a"\nkind = "arxiv-rss"\nurl = "https://x.org"\nmax_results = "5"\n',
            "'sources[0].max_results': input should be a valid integer, got '5' (str)",
        ),
        (
            '[[sources]]\nkind = "feed"\nurl = "https://x.org"\n',
            "missing required key 'sources[0].name'",
        ),
        ('[[sources]]\nname = "a"\nkind = "rss"\nurl = "https://x.org"\n', "'sources[0].kind'"),
        ('[[sources]]\nname = "a"\nkind = "feed"\n', "needs exactly one of 'url' or 'path'"),
        ('[site]\ntimezone = "Mars/Olympus"\n', "unknown time zone 'Mars/Olympus'"),
        (
            '[[topics]]\nslug = "rl"\nname = "RL"\n[[topics]]\nslug = "rl"\nname = "R"\n',
            "duplicate topic slug 'rl'",
        ),
        ("[store\nurl=1", "invalid TOML"),
    ],
)
def test_bad_configuration_is_one_line_naming_key_and_file_exit_2(workdir, capsys, body, message):
    write_config(workdir / "bad.toml", body)
    assert digest("--config", "bad.toml", "fetch") == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: bad.toml: ") and err.count("\n") == 1
    assert message in err


def test_missing_config_given_explicitly_is_an_error(workdir, capsys, monkeypatch):
    assert digest("--config", "nope.toml", "papers") == 2
    assert "nope.toml: no such configuration file" in capsys.readouterr().err
    monkeypatch.setenv("DIGEST_CONFIG", "also-nope.toml")
    assert digest("papers") == 2
    assert "also-nope.toml" in capsys.readouterr().err


@pytest.mark.realdata
def test_fetch_prints_a_line_per_source_and_exits_1_when_one_failed(workdir, capsys):
    write_config(
        workdir / "digest.toml",
        f'''
[[sources]]
name = "all"
kind = "arxiv-rss"
path = "{RSS_ALL}"
[[sources]]
name = "broken"
kind = "arxiv-rss"
url = "file://{RSS_ERROR}"
[[sources]]
name = "hf"
kind = "hf-daily"
url = "file://{HF_RAW}"
''',
    )
    assert digest("fetch") == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "all: 1504 new, 0 updated, 0 unchanged (569 of the new are replacements)"
    assert lines[1].startswith("broken: failed: arXiv reports an error: Bad archive")
    assert lines[2] == "hf: 30 new, 0 updated, 0 unchanged"
    assert digest("fetch", "--source", "all") == 0
    assert capsys.readouterr().out.startswith("all: 0 new, 0 updated, 1504 unchanged")
    assert digest("fetch", "--source", "nope") == 2
    assert "unknown source 'nope'" in capsys.readouterr().err

    assert digest("papers", "--format", "jsonl", "--source", "hf") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 30
    for row in rows:
        assert set(row) == PAPER_KEYS
        assert set(row["links"]) <= {"abs", "pdf", "code", "project"}
        assert row["sources"] == ["hf"] and isinstance(row["authors"], list)
    assert digest("papers", "--since", "2999-01-01") == 0
    assert capsys.readouterr().out.count("\n") == 1  # the header only
    assert digest("papers", "--since", "yesterday") == 2
    assert "--since 'yesterday' is not a date" in capsys.readouterr().err


def test_without_a_config_file_the_sample_settings_work_offline(workdir, capsys):
    assert digest("fetch") == 0
    captured = capsys.readouterr()
    assert "built-in sample settings" in captured.err
    assert captured.out.startswith("arxiv-sample: 36 new")
    assert (workdir / "digest.db").exists()


@pytest.mark.slow
def test_console_script_reports_bad_config_without_a_traceback(workdir):
    write_config(workdir / "digest.toml", '[[sources]]\nname = "x"\nkind = "feed"\nurl = 5\n')
    script = Path(sys.executable).with_name("digest")
    result = subprocess.run(
        [str(script), "fetch"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Error: digest.toml: 'sources[0].url'")
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    help_text = subprocess.run(
        [str(script), "fetch", "--help"], capture_output=True, text=True
    ).stdout
    assert "--source NAME" in help_text and "Example:" in help_text


RANK_KEYS = {"id", "title", "score", "reasons", "picked", "why_not", "signals"}


def test_demo_commands_build_the_preview_offline(workdir, capsys):
    assert digest("fetch") == 0
    capsys.readouterr()
    assert digest("preview") == 0
    out = capsys.readouterr().out.splitlines()
    for slug in ("rl", "nlp", "vision"):
        for name in ("email.html", "email.txt", "email.eml"):
            assert any(line.endswith(f"/{slug}/{name}") for line in out), (slug, name)
        assert f"site/feeds/{slug}.rss" in out and f"site/feeds/{slug}.atom" in out
    assert "site/archive/index.html" in out and "site/index.html" in out
    for line in out:
        assert (workdir / line).is_file(), line


def test_rank_json_pin_and_drop(workdir, capsys):
    assert digest("fetch") == 0
    capsys.readouterr()
    assert digest("rank", "--topic", "rl", "--format", "json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 39 and all(set(r) == RANK_KEYS for r in rows)
    assert all(isinstance(r["reasons"], list) and isinstance(r["picked"], bool) for r in rows)
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    picked = [r["id"] for r in rows if r["picked"]]
    assert len(picked) == 5
    weakest = rows[-1]["id"]
    assert digest("pin", weakest.removeprefix("arxiv:"), "--topic", "rl") == 0
    assert (
        digest(
            "drop", f"https://arxiv.org/abs/{picked[0].removeprefix('arxiv:')}v2", "--topic", "rl"
        )
        == 0
    )
    capsys.readouterr()
    assert digest("rank", "--topic", "rl", "--format", "json", "--limit", "50") == 0
    after = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert after[weakest]["picked"] and after[weakest]["reasons"][0] == "pinned by the editor"
    assert not after[picked[0]]["picked"]
    assert after[picked[0]]["why_not"] == "dropped by the editor"
    assert digest("pin", weakest, "--topic", "rl", "--clear") == 0
    assert digest("pin", "2999.99999", "--topic", "rl") == 2
    assert "is not in the store" in capsys.readouterr().err
    assert digest("rank", "--topic", "nope") == 2
    assert "unknown topic 'nope' (known: rl, nlp, vision, trending)" in capsys.readouterr().err
    assert digest("rank", "--topic", "rl", "--date", "2026-W48") == 2


def test_rank_table_explains_and_an_old_day_is_empty_with_a_reason(workdir, capsys):
    assert digest("fetch") == 0
    capsys.readouterr()
    assert digest("rank", "--topic", "rl", "--limit", "3") == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].split() == ["pick", "score", "id", "title", "reasons"]
    assert "'Reward Model' in the title and abstract" in captured.out
    assert digest("preview", "--topic", "rl", "--date", "2020-01-01") == 0
    assert "rl: 0 highlights of 0 candidates (empty: no new papers arrived" in (
        capsys.readouterr().err
    )


@pytest.mark.slow
def test_the_command_imports_no_store_templates_or_css_inliner_until_a_command_runs():
    code = (
        "import sys, digest.cli; "
        "print(' '.join(m for m in ('sqlalchemy', 'css_inline', 'jinja2') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
