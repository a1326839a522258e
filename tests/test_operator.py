"""The operator's commands: `digest status` and `digest test-email`, through the CLI, a
real store and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import io
import json

import pytest
from conftest import SAMPLE, free_port
from test_cli import digest, write_config
from test_subscribers_cli import CONFIG

SECRET = "test-secret-0123456789abcdef"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("DIGEST_CONFIG", "DIGEST_STORE_URL", "DIGEST_SECRET", "SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    write_config(tmp_path / "digest.toml", CONFIG)
    return tmp_path


def status_json(capsys) -> tuple[int, dict]:
    code = digest("status", "--format", "json")
    return code, json.loads(capsys.readouterr().out)


def test_status_shows_the_state_of_things_and_the_problems(workdir, capsys, monkeypatch):
    from scheduler.daemon import Daemon

    code, found = status_json(capsys)
    assert code == 1
    assert found["sources"][0]["outcome"] == "never"
    assert found["editions"] == [
        {"topic": "rl", "period": None, "built_at": None, "relevant": None},
        {"topic": "nlp", "period": None, "built_at": None, "relevant": None},
    ]
    assert found["daemon"] == {"running": None, "next_runs": []}
    assert found["notices"] == [
        "topics no subscriber follows by email: rl, nlp (their pages and feeds are still published)"
    ]
    assert found["problems"] == [
        "DIGEST_SECRET is not set: the links in emails are signed with it "
        "(e.g. export DIGEST_SECRET=$(openssl rand -hex 32))",
    ]

    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    assert digest("fetch") == 0
    assert (
        digest(
            "subscribers", "add", "ada@example.org", "--topics", "rl,nlp", "--hour", "0", "--active"
        )
        == 0
    )
    assert digest("subscribers", "add", "bob@example.org", "--topics", "nlp") == 0
    assert digest("preview", "--topic", "rl") == 0
    assert digest("send") == 0
    from digest.config import load_settings

    daemon = Daemon(load_settings("digest.toml"))
    daemon.start(paused=True)  # the plan, as --list makes it, and the daemon's lock
    capsys.readouterr()
    try:
        code, found = status_json(capsys)
    finally:
        daemon.shutdown()
    assert code == 0, found["problems"]
    [source] = found["sources"]
    assert (source["name"], source["outcome"], source["new"], source["updated"]) == (
        "arxiv-sample",
        "ok",
        36,
        0,
    )
    assert found["editions"][0]["topic"] == "rl" and found["editions"][0]["period"]
    assert found["editions"][1]["period"] is None
    jobs = [run["job"] for run in found["daemon"]["next_runs"]]
    assert jobs == ["deliver", "fetch:arxiv-sample"]
    assert found["daemon"]["running"]  # the lock row of the daemon just started
    today = [counts for counts in found["deliveries"].values() if counts]
    assert today == [{"sent": 1}]
    assert found["subscribers"] == {"active": 1, "pending": 1}

    # a topic removed from the configuration, an SMTP login without its password
    body = CONFIG.split("[[topics]]")
    write_config(
        workdir / "digest.toml",
        '[mail]\ntransport = "smtp"\n[mail.smtp]\nusername = "digest"\n'
        'password_env = "SMTP_PASSWORD"\n' + "[[topics]]".join(body[:2]),
    )
    code, found = status_json(capsys)
    assert code == 1
    assert found["problems"] == [
        "2 subscriber(s) follow topic 'nlp', which is no longer configured: their editions "
        "lose it (add it back to [[topics]], or change their topics)",
        "SMTP_PASSWORD is not set: [mail.smtp] username = 'digest' cannot log in without "
        "its password",
    ]
    assert digest("status") == 1
    text = capsys.readouterr().out
    assert "arxiv-sample: ok " in text and ": 36 new, 0 updated" in text
    assert "Problems:\n  2 subscriber(s) follow topic 'nlp'" in text


def test_a_from_address_on_localhost_is_a_problem_and_the_default_is_no_bare_ip(
    workdir, capsys, monkeypatch
):
    from digest.config import parse_settings

    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    write_config(
        workdir / "digest.toml",
        CONFIG.replace("https://papers.example.org", "http://127.0.0.1:8000"),
    )
    code, found = status_json(capsys)
    assert code == 0 and found["problems"] == []  # the outbox sends nothing anywhere
    assert found["notices"][-1].startswith(
        "the From address 'Paper Digest <digest@localhost>' is on localhost: "
    )
    write_config(
        workdir / "digest.toml",
        '[mail]\ntransport = "smtp"\n'
        + CONFIG.replace("https://papers.example.org", "http://127.0.0.1:8000"),
    )
    code, found = status_json(capsys)
    assert code == 1 and found["problems"][-1].startswith(
        "the From address 'Paper Digest <digest@localhost>' is on localhost: "
    )
    site = {"site": {"base_url": "http://127.0.0.1:8000"}}
    assert parse_settings(site).sender == "Paper Digest <digest@localhost>"
    relay = {"mail": {"transport": "smtp", "smtp": {"username": "me@lab.example.org"}}}
    assert parse_settings({**site, **relay}).sender == "Paper Digest <me@lab.example.org>"
    assert parse_settings({}).sender == "Paper Digest <digest@localhost>"


def test_a_site_on_an_internationalized_domain_sends_mail_with_that_domain_idna_encoded(
    workdir, capsys, monkeypatch
):
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    write_config(
        workdir / "digest.toml",
        CONFIG.replace("https://papers.example.org", "https://bücher.example"),
    )
    assert digest("fetch") == 0
    assert (
        digest("subscribers", "add", "ada@example.org", "--topics", "rl", "--hour", "0", "--active")
        == 0
    )
    assert digest("send") == 0, capsys.readouterr()
    [mail] = (workdir / "outbox").glob("*.eml")
    message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    assert message["From"] == "Paper Digest <digest@xn--bcher-kva.example>"
    assert message["Message-ID"].endswith("@xn--bcher-kva.example>")
    assert message["List-Id"].endswith(".xn--bcher-kva.example>")
    assert "mailto:unsubscribe@xn--bcher-kva.example" in message["List-Unsubscribe"]

    # a From address on such a domain is taken as written and sent encoded; a non-ASCII
    # part before the @ is refused when the settings load, in one line
    write_config(
        workdir / "digest.toml",
        '[mail]\nfrom = "Bücher Lab <digest@bücher.example>"\n' + CONFIG,
    )
    assert digest("test-email", "--to", "ada@example.org") == 0
    assert "from Bücher Lab <digest@xn--bcher-kva.example>" in capsys.readouterr().out
    write_config(workdir / "digest.toml", '[mail]\nfrom = "Lab <jörg@bücher.example>"\n' + CONFIG)
    assert digest("status") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'mail.from': the part before the @ must be ASCII" in err


def smtp_config(port: int, security: str = "none", extra: str = "") -> str:
    return (
        f'[mail]\ntransport = "smtp"\n[mail.smtp]\nhost = "127.0.0.1"\nport = {port}\n'
        f'security = "{security}"\ntimeout = 10.0\n{extra}' + CONFIG
    )


def test_test_email_goes_through_a_real_server_outside_the_ledger(
    workdir, capsys, monkeypatch, smtp_sink
):
    sink, port = smtp_sink
    write_config(workdir / "digest.toml", smtp_config(port))
    assert digest("fetch") == 0
    capsys.readouterr()
    assert digest("test-email", "--to", "Me@Example.org", "--topic", "nlp") == 0
    out = capsys.readouterr().out
    assert out.startswith("Sent a test edition of nlp (")
    assert out.endswith(f"to me@example.org through SMTP 127.0.0.1:{port}\n")
    [(sender, recipients, body)] = sink.messages
    assert recipients == ["me@example.org"] and sender == "digest@papers.example.org"
    parsed = email.message_from_bytes(body, policy=email.policy.default)
    assert parsed["Subject"].startswith("[test] ")
    assert parsed.get_content_type() == "multipart/alternative"
    assert digest("deliveries", "--format", "jsonl") == 0
    assert capsys.readouterr().out == ""  # nothing in the ledger
    assert digest("test-email", "--to", "me@example.org", "--topic", "astrology") == 2
    assert "unknown topic 'astrology'" in capsys.readouterr().err


def error_of(capsys, *args) -> str:
    assert digest("test-email", "--to", "me@example.org", *args) == 1
    err = capsys.readouterr().err.splitlines()[-1]  # (the test server logs to stderr too)
    assert err.startswith("Error: ")
    return err


def test_test_email_failures_say_what_to_check(workdir, capsys, monkeypatch, smtp_sink):
    sink, port = smtp_sink
    # a server that offers no AUTH (aiosmtpd offers it only after TLS)
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "secret")
    write_config(workdir / "digest.toml", smtp_config(port, extra='username = "digest"\n'))
    err = error_of(capsys)
    assert f"the SMTP server 127.0.0.1:{port} does not offer login" in err
    assert "check [mail.smtp] security" in err and "username" in err
    # nothing listening
    closed = free_port()
    write_config(workdir / "digest.toml", smtp_config(closed))
    err = error_of(capsys)
    assert f"nothing answers at 127.0.0.1:{closed} (connection refused)" in err
    assert "check [mail.smtp] host and port" in err
    # implicit TLS against a plain server
    write_config(workdir / "digest.toml", smtp_config(port, security="tls"))
    err = error_of(capsys)
    assert f"TLS with 127.0.0.1:{port} failed" in err and "[mail.smtp] security" in err
    # a 5xx for the address
    write_config(workdir / "digest.toml", smtp_config(port))
    sink.answers["me@example.org"] = "550 5.1.1 no such user"
    err = error_of(capsys)
    assert "the server refused the message for good (550 5.1.1 no such user)" in err
    assert sink.messages == []


def test_each_retry_is_said_and_the_log_goes_to_a_json_file(workdir, capsys, monkeypatch):
    closed = free_port()
    write_config(
        workdir / "digest.toml",
        '[fetch]\nretries = 2\nbackoff = 0.0\n[log]\nfile = "logs/digest.log"\nformat = "json"\n'
        + CONFIG
        + f'[[sources]]\nname = "closed"\nkind = "feed"\nurl = "http://127.0.0.1:{closed}/feed"\n',
    )
    assert digest("fetch") == 1
    err = capsys.readouterr().err
    retries = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert [r["message"] for r in retries] == [
        f"retrying closed in 0 s, attempt {n} of 3 (cannot connect for "
        f"http://127.0.0.1:{closed}/feed)"
        for n in (2, 3)
    ]
    logged = [
        json.loads(line) for line in (workdir / "logs" / "digest.log").read_text().splitlines()
    ]
    assert {"time", "level", "logger", "message"} <= set(logged[0])
    messages = [
        entry["message"] for entry in logged if not entry["message"].startswith("migrating")
    ]
    assert messages == [r["message"] for r in retries]  # and the same to the file


def test_the_daemon_logs_one_line_per_job_in_order(workdir, capsys, monkeypatch):
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    write_config(workdir / "digest.toml", '[log]\nfile = "digest.log"\n' + CONFIG)
    assert (
        digest("subscribers", "add", "ada@example.org", "--topics", "rl", "--hour", "0", "--active")
        == 0
    )
    assert digest("schedule", "--once") == 0
    lines = [
        line
        for line in (workdir / "digest.log").read_text().splitlines()
        if "migrating store" not in line
    ]
    jobs = [line.split(" ", 3)[3].split(" ")[0].rstrip(":") for line in lines]
    assert jobs == ["fetch", "publish", "deliver"], lines
    assert " INFO deliver: sent 1," in lines[-1]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_long_imports_and_fetches_show_a_progress_bar_on_a_terminal(workdir, monkeypatch):
    rows = "".join(f"reader{n}@example.org\n" for n in range(60))
    (workdir / "many.csv").write_text("email\n" + rows)
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert digest("subscribers", "import", "many.csv", "--topics", "rl") == 0
    assert "Importing 60 rows" in terminal.getvalue()
    sources = "".join(
        f'[[sources]]\nname = "copy{n}"\nkind = "arxiv-rss"\npath = "{SAMPLE / "arxiv-listing.xml"}"\n'
        for n in range(3)
    )
    write_config(workdir / "digest.toml", CONFIG + sources)
    assert digest("fetch") == 0
    assert "Fetching 4 sources" in terminal.getvalue()
