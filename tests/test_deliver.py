"""Delivery against a real SMTP server (aiosmtpd) and the outbox: messages, the ledger,
retries, bounces, dropped connections, DKIM."""

from __future__ import annotations

import base64
import email
import email.policy
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import SAMPLE, SAMPLE_NOW, make_settings

from digest.config import sample_settings
from digest.deliver import send_due
from digest.fetch import fetch_sources
from digest.subscribers import subscription
from digest.tokens import Tokens

SECRET = "test-secret-0123456789abcdef"
TOKENS = Tokens(SECRET)
LATER = SAMPLE_NOW + timedelta(minutes=5)


def setup(open_store, tmp_path, *, mail=None, port=None, **mail_options):
    mail = dict(mail or {})
    mail.setdefault("outbox_dir", str(tmp_path / "outbox"))
    mail.setdefault("retry_delays", [0.0])
    if port is not None:
        mail.update(
            transport="smtp",
            smtp={"host": "127.0.0.1", "port": port, "security": "none", "connections": 2},
        )
    mail.update(mail_options)
    settings = make_settings(
        tmp_path,
        [
            {
                "name": "arxiv-sample",
                "kind": "arxiv-rss",
                "path": str(SAMPLE / "arxiv-listing.xml"),
            },
            {"name": "hf-sample", "kind": "hf-daily", "path": str(SAMPLE / "hf-daily.json")},
        ],
        topics=[t.model_dump() for t in sample_settings().topics],
        site={"base_url": "https://papers.example.org"},
        mail=mail,
    )
    store = open_store(settings)
    fetch_sources(settings, store, now=lambda: SAMPLE_NOW - timedelta(hours=6))
    return settings, store


def subscribe(settings, store, address, topics="rl,nlp", status="active", **kw):
    request = subscription(settings, email=address, topics=topics, **kw)
    return store.add_subscriber(request, status=status, now=SAMPLE_NOW - timedelta(days=1))[0]


def parse(data: bytes):
    return email.message_from_bytes(data, policy=email.policy.default)


def send(settings, store, now=LATER, **kw):
    return send_due(settings, store, now=now, tokens=TOKENS, sleep=lambda s: None, **kw)


def test_outbox_messages_carry_everything_a_list_message_needs(tmp_path, open_store):
    settings, store = setup(open_store, tmp_path)
    ada = subscribe(settings, store, "Ada@Example.org")
    subscribe(settings, store, "bob@example.org", topics="vision", max_papers=2)
    report = send(settings, store)
    assert (report.sent, report.skipped, report.failed) == (2, [], 0)
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2
    by_to = {str(parse(f.read_bytes())["To"]): parse(f.read_bytes()) for f in files}
    message = by_to["ada@example.org"]
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert len(message["Subject"]) <= 70 and message["Subject"].endswith(" more)")
    html = message.get_body(("html",)).get_content()
    assert ">Reinforcement learning, Language models, 26 November 2026: " in html
    assert message["Message-ID"].endswith("@papers.example.org>")
    assert message["List-Id"] and message["Date"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = [u.strip(" <>") for u in message["List-Unsubscribe"].split(",")]
    assert https.startswith("https://papers.example.org/unsubscribe/")
    assert mailto.startswith("mailto:unsubscribe@papers.example.org?subject=unsubscribe")
    assert TOKENS.read("unsubscribe", https.rsplit("/", 1)[1]) == ada.id
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert https in text and https.replace("&", "&amp;") in html
    assert "Reinforcement learning" in text and "Language models" in text
    bob = by_to["bob@example.org"]
    assert bob.get_body(("html",)).get_content().count('class="card"') == 2
    # the ledger has both, and a second run sends nothing
    ledger = store.deliveries()
    assert [(d.status, d.attempts) for d in ledger] == [("sent", 1), ("sent", 1)]
    again = send(settings, store)
    assert (again.sent, again.done_before) == (0, 2)
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2


def test_smtp_delivery_retry_bounce_and_the_others_unaffected(tmp_path, smtp_sink, open_store):
    sink, port = smtp_sink
    settings, store = setup(open_store, tmp_path, port=port, bounce_limit=1, retry_after=60.0)
    for name in ("one", "two", "later", "gone"):
        subscribe(settings, store, f"{name}@example.org")
    sink.answers = {
        "later@example.org": "451 4.3.0 greylisted",
        "gone@example.org": "550 5.1.1 no such user",
    }
    report = send(settings, store)
    assert (report.sent, report.retried, report.bounced, report.failed) == (2, 1, 1, 0)
    assert sink.count("one@example.org") == sink.count("two@example.org") == 1
    ledger = {store.subscriber_by_id(d.subscriber_id).email: d for d in store.deliveries()}
    assert ledger["later@example.org"].status == "retry"
    assert ledger["later@example.org"].attempts == 1
    assert "451" in ledger["later@example.org"].last_error
    assert ledger["gone@example.org"].status == "bounced"
    assert store.subscriber("gone@example.org").status == "bounced"
    for _, _, data in sink.messages:
        message = parse(data)
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    # the next run before the retry time waits; after it, the greylisted one goes out
    sink.answers = {}
    waiting = send(settings, store, now=LATER + timedelta(seconds=30))
    assert waiting.sent == 0 and any("next retry" in r for _, r in waiting.skipped)
    retried = send(settings, store, now=LATER + timedelta(minutes=2))
    assert retried.sent == 1 and sink.count("later@example.org") == 1
    assert sink.count("gone@example.org") == 0
    later = {store.subscriber_by_id(d.subscriber_id).email: d for d in store.deliveries()}
    assert later["later@example.org"].status == "sent"
    assert later["later@example.org"].message_id == ledger["later@example.org"].message_id


def test_retries_give_up_after_max_attempts(tmp_path, smtp_sink, open_store):
    sink, port = smtp_sink
    settings, store = setup(open_store, tmp_path, port=port, max_attempts=2, retry_after=0.0)
    subscribe(settings, store, "later@example.org")
    sink.answers = {"later@example.org": "452 4.2.2 mailbox full"}
    assert send(settings, store).retried == 1
    final = send(settings, store, now=LATER + timedelta(seconds=1))
    assert final.failed == 1
    assert store.deliveries()[0].status == "failed"
    assert send(settings, store, now=LATER + timedelta(seconds=2)).sent == 0


def test_a_dropped_connection_mid_batch_reconnects_and_sends_each_once(
    tmp_path, smtp_sink, open_store
):
    sink, port = smtp_sink
    settings, store = setup(open_store, tmp_path, port=port)
    addresses = [f"reader{i}@example.org" for i in range(6)]
    for address in addresses:
        subscribe(settings, store, address)
    sink.drop_at = {3, 5}
    report = send(settings, store)
    assert report.sent == 6 and report.retried == 0
    assert [sink.count(a) for a in addresses] == [1] * 6


def test_a_server_that_cannot_be_reached_stops_the_run_and_loses_nothing(tmp_path, open_store):
    from conftest import free_port

    settings, store = setup(open_store, tmp_path, port=free_port())
    subscribe(settings, store, "a@example.org")
    subscribe(settings, store, "b@example.org")
    report = send(settings, store)
    assert report.sent == 0 and report.stopped.startswith("nothing answers at 127.0.0.1:")
    statuses = [d.status for d in store.deliveries()]
    assert "sent" not in statuses and set(statuses) <= {"retry"}


def test_empty_editions_are_skipped_with_the_reason_unless_asked_for(tmp_path, open_store):
    settings, store = setup(open_store, tmp_path)
    subscribe(settings, store, "a@example.org", topics="rl")
    report = send(settings, store, now=LATER + timedelta(days=1))
    assert report.sent == 0
    assert report.skipped == [
        ("a@example.org", "empty edition: no new papers matched rl since 2026-11-27 00:00 UTC")
    ]
    settings = settings.model_copy(
        update={"mail": settings.mail.model_copy(update={"send_empty": True})}
    )
    assert send(settings, store, now=LATER + timedelta(days=1)).sent == 1


def test_due_rule_daily_hour_weekly_weekday_and_dry_run(tmp_path, open_store):
    settings, store = setup(open_store, tmp_path)
    subscribe(settings, store, "early@example.org", hour=8)
    subscribe(settings, store, "late@example.org", hour=20)
    subscribe(settings, store, "tokyo@example.org", timezone="Asia/Tokyo", hour=22)
    subscribe(settings, store, "weekly@example.org", frequency="weekly", weekday="thu", hour=9)
    subscribe(settings, store, "friday@example.org", frequency="weekly", weekday="fri", hour=9)
    subscribe(settings, store, "pending@example.org", status="pending")
    dry = send(settings, store, dry_run=True)
    assert sorted(email for email, _, _ in dry.planned) == [
        "early@example.org",
        "tokyo@example.org",
        "weekly@example.org",
    ]
    assert {key for _, key, _ in dry.planned} == {"2026-11-26", "2026-W48"}
    assert dry.not_due == 2 and store.deliveries() == []
    report = send(settings, store)
    assert report.sent == 3
    periods = {store.subscriber_by_id(d.subscriber_id).email: d.period for d in store.deliveries()}
    assert periods == {
        "early@example.org": "2026-11-26",
        "tokyo@example.org": "2026-11-26",
        "weekly@example.org": "2026-W48",
    }


def test_the_next_edition_never_repeats_a_paper(tmp_path, open_store):
    settings, store = setup(open_store, tmp_path)
    subscribe(settings, store, "a@example.org", topics="rl,nlp,vision", max_papers=30)
    assert send(settings, store).sent == 1
    first = set(store.deliveries()[0].papers and [p for _, p in store.deliveries()[0].papers])
    assert len(first) > 5
    # the next day the same listing is fetched again (nothing new): nothing to send
    fetch_sources(settings, store, now=lambda: SAMPLE_NOW + timedelta(hours=20))
    report = send(settings, store, now=LATER + timedelta(days=1))
    assert report.sent == 0 and report.skipped[0][1].startswith("empty edition")


def _dkim_key(tmp_path: Path) -> tuple[Path, bytes]:
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a DKIM test key")
    key = tmp_path / "dkim.key"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return key, base64.b64encode(public)


def test_dkim_signature_verifies_against_the_public_key(tmp_path, smtp_sink, open_store):
    import dkim

    sink, port = smtp_sink
    key, public = _dkim_key(tmp_path)
    settings, store = setup(
        open_store,
        tmp_path,
        port=port,
        dkim={"selector": "digest", "domain": "papers.example.org", "private_key_path": str(key)},
    )
    subscribe(settings, store, "a@example.org")
    assert send(settings, store).sent == 1
    data = sink.messages[0][2]
    assert data.startswith(b"DKIM-Signature:")

    def dns(name, timeout=5):
        assert name == b"digest._domainkey.papers.example.org."
        return b"v=DKIM1; k=rsa; p=" + public

    assert dkim.verify(data, dnsfunc=dns)
    assert not dkim.verify(data.replace(b"Reinforcement", b"Reinforcemint", 1), dnsfunc=dns)
