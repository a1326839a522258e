"""`digest subscribers …`, `digest send` and `digest deliveries` from the command line."""

from __future__ import annotations

import json

import pytest
from conftest import SAMPLE
from test_cli import digest, write_config

CONFIG = f'''
[site]
base_url = "https://papers.example.org"
[[sources]]
name = "arxiv-sample"
kind = "arxiv-rss"
path = "{SAMPLE / "arxiv-listing.xml"}"
[[topics]]
slug = "rl"
name = "Reinforcement learning"
keywords = ["reinforcement learning", "reward model"]
[[topics]]
slug = "nlp"
name = "Language models"
keywords = ["language model"]
'''


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("DIGEST_CONFIG", "DIGEST_STORE_URL", "DIGEST_SECRET"):
        monkeypatch.delenv(name, raising=False)
    write_config(tmp_path / "digest.toml", CONFIG)
    return tmp_path


def rows(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_add_update_list_remove(workdir, capsys):
    assert (
        digest(
            "subscribers",
            "add",
            "Ada@Example.org",
            "--topics",
            "rl,nlp",
            "--timezone",
            "Europe/Berlin",
            "--hour",
            "7",
            "--active",
        )
        == 0
    )
    assert "Added ada@example.org (active)" in capsys.readouterr().out
    assert (
        digest(
            "subscribers",
            "add",
            "ada@example.org",
            "--topics",
            "nlp",
            "--frequency",
            "weekly",
            "--weekday",
            "fri",
        )
        == 0
    )
    assert "Updated ada@example.org (active)" in capsys.readouterr().out
    assert digest("subscribers", "list", "--format", "jsonl") == 0
    [ada] = rows(capsys)
    assert ada | {"created_at": None, "confirmed_at": None} == {
        "email": "ada@example.org",
        "status": "active",
        "topics": ["nlp"],
        "frequency": "weekly",
        "weekday": "fri",
        "timezone": "Europe/Berlin",
        "hour": 7,
        "max_papers": None,
        "created_at": None,
        "confirmed_at": None,
        "bounces": 0,
    }
    assert digest("subscribers", "remove", "ADA@example.org") == 0
    assert digest("subscribers", "remove", "ada@example.org") == 2
    assert "no subscriber 'ada@example.org'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not-an-address", "--topics", "rl"], "invalid email address 'not-an-address'"),
        (["a@example.org", "--topics", "rl,quantum"], "unknown topic 'quantum' (known: nlp, rl)"),
        (
            ["a@example.org", "--topics", "rl", "--timezone", "Mars/Base"],
            "unknown time zone 'Mars/Base'",
        ),
        (["a@example.org", "--topics", "rl", "--hour", "24"], "hour 24 is outside 0-23"),
        (["a@example.org", "--topics", "rl", "--weekday", "someday"], "unknown weekday 'someday'"),
    ],
)
def test_bad_input_is_one_line_naming_the_value_and_writes_nothing(workdir, capsys, args, message):
    assert digest("subscribers", "add", *args, "--active") == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and err.count("\n") == 1 and message in err
    assert digest("subscribers", "list", "--format", "jsonl") == 0
    assert rows(capsys) == []


def test_pending_subscriber_needs_the_secret_and_gets_a_confirmation(workdir, capsys, monkeypatch):
    assert digest("subscribers", "add", "new@example.org", "--topics", "rl") == 2
    assert "DIGEST_SECRET is not set" in capsys.readouterr().err
    monkeypatch.setenv("DIGEST_SECRET", "test-secret-0123456789abcdef")
    assert digest("subscribers", "add", "new@example.org", "--topics", "rl") == 0
    assert "(pending; confirmation sent)" in capsys.readouterr().out
    [mail] = (workdir / "outbox").glob("*.eml")
    text = mail.read_text()
    assert "Confirm your subscription" in text and "https://papers.example.org/confirm/" in text


def test_csv_import_keeps_good_rows_and_names_bad_lines(workdir, capsys):
    (workdir / "people.csv").write_text(
        "email,topics,frequency,timezone,hour\n"
        "ada@example.org,rl,daily,Europe/Berlin,8\n"
        'bob@example.org,"rl,nlp",weekly,America/New_York,9\n'
        "broken-address,rl,daily,UTC,8\n"
        "cyd@example.org,astrology,daily,UTC,8\n"
        "dee@example.org,nlp,daily,Nowhere/Land,8\n"
        "eve@example.org,nlp,daily,UTC,25\n"
        "fay@example.org,nlp,,,\n"
    )
    assert digest("subscribers", "import", "people.csv") == 1
    captured = capsys.readouterr()
    assert "Imported people.csv: 3 added, 0 updated, 4 skipped" in captured.out
    err = captured.err.splitlines()
    assert err[0].startswith("people.csv:4: skipped: invalid email address 'broken-address'")
    assert err[1] == "people.csv:5: skipped: unknown topic 'astrology' (known: nlp, rl)"
    assert err[2].startswith("people.csv:6: skipped: unknown time zone 'Nowhere/Land'")
    assert err[3] == "people.csv:7: skipped: hour 25 is outside 0-23"
    assert digest("subscribers", "export") == 0
    exported = capsys.readouterr().out.splitlines()
    assert exported[0] == "email,topics,frequency,timezone,hour,weekday,max_papers,status"
    assert exported[1:] == [
        "ada@example.org,rl,daily,Europe/Berlin,8,,,active",
        'bob@example.org,"rl,nlp",weekly,America/New_York,9,mon,,active',
        "fay@example.org,nlp,daily,UTC,8,,,active",
    ]
    (workdir / "again.csv").write_text("\n".join(exported) + "\n")
    assert digest("subscribers", "import", "again.csv") == 0
    assert "0 added, 3 updated, 0 skipped" in capsys.readouterr().out


def test_send_and_the_ledger_from_the_command_line(workdir, capsys, monkeypatch):
    assert digest("fetch") == 0
    assert (
        digest("subscribers", "add", "ada@example.org", "--topics", "rl", "--hour", "0", "--active")
        == 0
    )
    capsys.readouterr()
    assert digest("send", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "would send" in out and "Dry run: sent 0" in out
    assert digest("send") == 2
    assert "DIGEST_SECRET is not set" in capsys.readouterr().err
    monkeypatch.setenv("DIGEST_SECRET", "test-secret-0123456789abcdef")
    assert digest("send") == 0
    assert "sent 1, skipped 0, retried 0, failed 0, bounced 0" in capsys.readouterr().out
    assert digest("send", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["already_sent"] == 1
    assert digest("deliveries", "--format", "jsonl") == 0
    [row] = rows(capsys)
    assert (row["email"], row["status"]) == ("ada@example.org", "sent") and row["papers"]
    assert len(list((workdir / "outbox").glob("*.eml"))) == 1


def test_resend_confirmation_after_a_failed_send_through_a_real_smtp_server(
    workdir, capsys, monkeypatch, smtp_sink
):
    sink, port = smtp_sink
    smtp = f'[mail]\ntransport = "smtp"\n[mail.smtp]\nhost = "127.0.0.1"\nport = {port}\n'
    write_config(workdir / "digest.toml", smtp + 'security = "none"\n' + CONFIG)
    monkeypatch.setenv("DIGEST_SECRET", "test-secret-0123456789abcdef")
    sink.answers["new@example.org"] = "451 4.3.0 try again later"
    assert digest("subscribers", "add", "new@example.org", "--topics", "rl") == 0
    assert "confirmation not sent: " in capsys.readouterr().out
    assert sink.messages == []
    sink.answers.clear()
    assert digest("subscribers", "resend-confirmation", "New@Example.org") == 0
    assert capsys.readouterr().out == "new@example.org: confirmation sent\n"
    [(_, recipients, body)] = sink.messages
    assert recipients == ["new@example.org"] and b"/confirm/" in body
    assert digest("subscribers", "resend-confirmation", "nobody@example.org") == 2
    assert capsys.readouterr().err == "Error: no subscriber 'nobody@example.org'\n"
    assert digest("subscribers", "add", "on@example.org", "--topics", "rl", "--active") == 0
    assert digest("subscribers", "resend-confirmation", "on@example.org") == 2
    assert "is active, not pending" in capsys.readouterr().err


BUTTONDOWN = """\
id,email,notes,metadata,tags,referrer_url,creation_date,secondary_id,subscriber_type,source
1a,ada@example.org,,{},,,2024-03-01T10:20:30.123456+00:00,1,regular,api
2b,bob@example.org,,{},,,2024-04-01T10:20:30+00:00,2,unsubscribed,import
3c,cyd@example.org,,{},,,2024-05-01T10:20:30+00:00,3,unactivated,embed
"""
SUBSTACK = """\
Email,Name,Subscription type,Created at,Subscribed
dee@example.org,Dee,free,2023-01-15T14:32:11.000Z,true
eve@example.org,Eve,paid,2023-02-15T14:32:11.000Z,true
"""
LISTMONK = """\
uuid,email,name,attributes,status,created_at,updated_at
5f1,fay@example.org,Fay,{},enabled,2022-07-01 09:00:00.000000+00,2022-07-02 09:00:00+00
6a2,gus@example.org,Gus,{},blocklisted,2022-07-01 09:00:00+00,2022-07-02 09:00:00+00
"""


def test_exports_of_other_tools_import_with_default_topics(workdir, capsys):
    (workdir / "buttondown.csv").write_text(BUTTONDOWN)
    (workdir / "substack.csv").write_text(SUBSTACK)
    (workdir / "listmonk.csv").write_text(LISTMONK)
    assert digest("subscribers", "import", "buttondown.csv") == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: the CSV has no topics column: give the topics of its")
    assert "--topics" in err and err.count("\n") == 1
    assert digest("subscribers", "import", "buttondown.csv", "--topics", "rl,nlp") == 0
    captured = capsys.readouterr()
    assert captured.out == (
        "Imported buttondown.csv: 1 added, 0 updated, 0 skipped, "
        "2 left out (not subscribed in the file)\n"
    )
    assert captured.err.splitlines() == [
        "buttondown.csv:3: left out: bob@example.org is 'unsubscribed' in the file",
        "buttondown.csv:4: left out: cyd@example.org is 'unactivated' in the file",
    ]
    assert digest("subscribers", "import", "substack.csv", "--topics", "nlp") == 0
    assert "2 added, 0 updated, 0 skipped\n" in capsys.readouterr().out
    assert digest("subscribers", "import", "listmonk.csv", "--topics", "rl") == 0
    assert "1 added, 0 updated, 0 skipped, 1 left out" in capsys.readouterr().out
    assert digest("subscribers", "import", "listmonk.csv", "--topics", "astrology") == 2
    assert "unknown topic 'astrology'" in capsys.readouterr().err
    assert digest("subscribers", "list", "--format", "jsonl") == 0
    found = {row["email"]: row for row in rows(capsys)}
    assert sorted(found) == [
        "ada@example.org",
        "dee@example.org",
        "eve@example.org",
        "fay@example.org",
    ]
    assert found["ada@example.org"]["topics"] == ["rl", "nlp"]
    assert found["ada@example.org"]["status"] == "active"
    assert found["ada@example.org"]["created_at"].startswith("2024-03-01T10:20:30")
    assert found["dee@example.org"]["created_at"].startswith("2023-01-15T14:32:11")
    assert found["fay@example.org"]["topics"] == ["rl"]
    assert found["fay@example.org"]["created_at"].startswith("2022-07-01T09:00:00")
