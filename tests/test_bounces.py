"""`digest bounces import`: delivery status notifications (RFC 3464) that arrive after
the session, read from a Maildir and an mbox, counted like bounces during the session."""

from __future__ import annotations

import email
import json
import mailbox
from email.message import EmailMessage, Message

import pytest
from test_cli import digest, write_config
from test_subscribers_cli import CONFIG as SUBSCRIBERS_CONFIG

CONFIG = "[mail]\nsend_empty = true\nbounce_limit = 2\n" + SUBSCRIBERS_CONFIG


def dsn(recipient: str, message_id: str | None, status: str = "5.1.1") -> Message:
    """A delivery status notification as an MTA writes it (RFC 3464 multipart/report)."""
    action = "failed" if status.startswith("5") else "delayed"
    returned = (
        "--BOUNDARY\n"
        "Content-Type: text/rfc822-headers\n\n"
        "From: Paper Digest <digest@papers.example.org>\n"
        f"To: {recipient}\n"
        f"Message-ID: <{message_id}@papers.example.org>\n"
        "Subject: Paper Digest\n\n"
        if message_id is not None
        else ""
    )
    return email.message_from_string(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\n"
        "To: digest@papers.example.org\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"\n\n'
        "--BOUNDARY\n"
        "Content-Type: text/plain\n\n"
        f"Your message to <{recipient}> could not be delivered.\n\n"
        "--BOUNDARY\n"
        "Content-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.net\n"
        "Arrival-Date: Thu, 26 Nov 2026 14:00:05 +0000\n\n"
        f"Final-Recipient: rfc822; {recipient}\n"
        f"Original-Recipient: rfc822;{recipient}\n"
        f"Action: {action}\n"
        f"Status: {status}\n"
        f"Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected\n\n"
        + returned
        + "--BOUNDARY--\n"
    )


def not_a_bounce() -> Message:
    message = EmailMessage()
    message["From"] = "reader@example.org"
    message["Subject"] = "Thanks for the digest"
    message.set_content("Lovely picks today.")
    return message


@pytest.fixture
def workdir(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in ("DIGEST_CONFIG", "DIGEST_STORE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DIGEST_SECRET", "test-secret-0123456789abcdef")
    write_config(tmp_path / "digest.toml", CONFIG)
    assert digest("fetch") == 0
    for address in ("ada@example.org", "bob@example.org"):
        assert digest("subscribers", "add", address, "--topics", "rl", "--active") == 0
    for period in ("2026-11-26", "2026-11-27"):
        assert digest("send", "--period", period) == 0
    capsys.readouterr()
    return tmp_path


def ledger(capsys) -> dict[tuple[str, str], dict]:
    assert digest("deliveries", "--format", "jsonl") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return {(r["email"], r["period"]): r for r in rows}


def subscriber(capsys, address):
    assert digest("subscribers", "list", "--format", "jsonl") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return next(r for r in rows if r["email"] == address)


def test_bounces_from_a_maildir_and_an_mbox_count_like_session_bounces(workdir, capsys):
    sent = ledger(capsys)
    first = sent[("ada@example.org", "2026-11-26")]["message_id"]
    second = sent[("ada@example.org", "2026-11-27")]["message_id"]
    bob = sent[("bob@example.org", "2026-11-26")]["message_id"]
    maildir = mailbox.Maildir(workdir / "Maildir", create=True)
    maildir.add(dsn("ada@example.org", first))
    maildir.add(dsn("bob@example.org", bob, status="4.2.2"))  # mailbox full: a delay
    maildir.add(not_a_bounce())
    maildir.add(dsn("stranger@example.net", "2026-11-26.99.abc"))
    maildir.close()
    box = mailbox.mbox(workdir / "bounces.mbox", create=True)
    box.add(dsn("ada@example.org", second))
    box.add(dsn("bob@example.org", None))  # quotes no Message-ID of ours
    box.close()

    assert digest("bounces", "import", "Maildir") == 0
    captured = capsys.readouterr()
    assert captured.out == (
        "Maildir: 4 messages: 1 bounces counted, 0 counted before, 1 not matched, "
        "1 delays ignored, 1 not bounces\n"
    )
    assert captured.err.endswith(": stranger@example.net: not a subscriber\n")
    assert subscriber(capsys, "ada@example.org")["bounces"] == 1
    assert subscriber(capsys, "ada@example.org")["status"] == "active"
    assert ledger(capsys)[("ada@example.org", "2026-11-26")]["status"] == "bounced"

    assert digest("bounces", "import", "bounces.mbox") == 0
    captured = capsys.readouterr()
    assert captured.out == (
        "bounces.mbox: 2 messages: 1 bounces counted, 0 counted before, 1 not matched, "
        "0 delays ignored, 0 not bounces; no longer mailed: ada@example.org\n"
    )
    assert "bob@example.org: the report quotes no Message-ID" in captured.err
    ada = subscriber(capsys, "ada@example.org")
    assert (ada["status"], ada["bounces"]) == ("bounced", 2)  # bounce_limit = 2
    assert subscriber(capsys, "bob@example.org")["bounces"] == 0

    # read again: nothing is counted twice
    assert digest("bounces", "import", "Maildir") == 0
    assert "0 bounces counted, 1 counted before" in capsys.readouterr().out
    assert subscriber(capsys, "ada@example.org")["bounces"] == 2


def test_a_path_that_is_no_mailbox_is_one_line(workdir, capsys):
    (workdir / "folder").mkdir()
    assert digest("bounces", "import", "folder") == 2
    assert capsys.readouterr().err == (
        "Error: folder is a folder but not a Maildir (no cur/ or new/ in it)\n"
    )
