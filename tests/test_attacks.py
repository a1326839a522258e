"""The attack list: every way in that was tried against Paper Digest, held or fixed, each
kept as a test so that none comes back.

Held from the start, tested here or where named:
- markup in titles, abstracts, authors and form fields is escaped on the web, in the
  email and in the feeds: here (web and feeds), ``test_web`` (every form field),
  ``test_publish`` and the ``hostile`` golden case (email, archive, feeds);
- CR/LF in a title never starts an email header: here and ``test_render``;
- forged, expired and wrong-purpose tokens get a 400 and change nothing: here and
  ``test_web``;
- a state change without its CSRF token is refused: here and ``test_web``;
- the subscribe answer is the same whoever is subscribed: ``test_web``,
  ``test_attacks_web`` (same work for every state);
- XML entity bombs and external entities expand nothing: here;
- path traversal in archive, feed and static URLs finds nothing: here;
- a ``digest send`` killed mid-run, and two senders at once, send each edition once:
  ``test_deliver_processes``.

Found and fixed (issue "Hardening"), by point:
1. markers in paper content never receive a reader's links: ``test_attacks_output``;
2. HEAD (and GET) never change state: ``test_attacks_web``;
3. internationalized addresses: accepted cleanly (``test_attacks_web``), sent with IDNA
   or SMTPUTF8 or failed alone with a recorded reason (``test_attacks_output``);
4. request bodies are capped: ``test_attacks_web``;
5. downloaded and inflated bytes and stored fields are capped: ``test_attacks_fetch``;
6. a total deadline per request: ``test_attacks_fetch``;
7. X-Forwarded-For is read from the right, only for trusted proxies: ``test_attacks_web``;
8. subscribing takes the same path for every state; confirmations are queued:
   ``test_attacks_web``;
9. the lock heartbeat does not depend on the job thread: ``test_attacks_infra``;
10. bad input is a 400 and every answer carries the security headers: ``test_attacks_web``;
11. one-line errors for bad store paths, damaged databases, huge CSV fields
    (``test_attacks_store``), unwritable outboxes, unreadable DKIM keys and a site folder
    that is a file (``test_attacks_output``);
12. a file that is not a store of ours is refused (``test_attacks_store``) and a daemon
    whose database is damaged stops with one line (``test_attacks_infra``);
13. an old confirm link does not resubscribe: ``test_attacks_web``;
14. absurd settings are refused at load: ``test_attacks_fetch``.
"""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta

import feedparser
import pytest
from conftest import SAMPLE_NOW, make_settings
from test_web import TOKENS, XSS, assert_secure, csrf, web  # noqa: F401 - the fixture

from digest.errors import DigestError
from digest.fetch import fetch_sources
from digest.message import MessageBuilder
from digest.periods import parse_period
from digest.publish import preview
from digest.sources import arxiv_api, arxiv_rss, feed
from digest.subscribers import subscription

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>x</title><item><title>&lol9;</title>
<link>http://arxiv.org/abs/2401.00001</link><description>a</description></item></channel></rss>
"""


def _external_entity(path: str) -> bytes:
    return f"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file://{path}">]>
<rss version="2.0"><channel><title>x</title><item><title>T &xxe; E</title>
<link>http://arxiv.org/abs/2401.00002</link><description>&xxe;</description></item>
</channel></rss>""".encode()


@pytest.mark.parametrize("parse", [arxiv_rss.parse, feed.parse, arxiv_api.parse])
def test_xml_entity_bombs_and_external_entities_expand_nothing(parse, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    for document in (LAUGHS, _external_entity(str(secret))):
        try:
            listing = parse(document)
        except DigestError as exc:
            assert "\n" not in str(exc)
            continue
        for paper in listing.papers:
            text = f"{paper.title} {paper.abstract}"
            assert len(text) < 1000  # nothing was expanded
            assert "TOP-SECRET" not in text


def test_path_traversal_in_archive_feed_and_static_urls_finds_nothing(web):  # noqa: F811
    for url in (
        "/archive/../../../etc/passwd",
        "/archive/..%2f..%2f..%2fetc%2fpasswd",
        "/archive/2026-11-26/..%2f..%2f..%2fpyproject.toml",
        "/feeds/..%2f..%2fpyproject.rss",
        "/static/..%2f..%2fpyproject.toml",
        "/static/../../digest/__init__.py",
        "/static/%2e%2e/%2e%2e/README.md",
    ):
        answer = web.get(url)
        assert answer.status_code in (400, 404), url
        assert "root:" not in answer.text and "[project]" not in answer.text, url
        assert "__version__" not in answer.text and "Paper Digest:" not in answer.text, url
        assert_secure(answer)


def test_markup_in_a_paper_is_text_on_the_pages_and_in_the_feeds(web, tmp_path):  # noqa: F811
    hostile = tmp_path / "hostile.xml"
    title = XSS.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    hostile.write_text(
        f"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>
<title>Reinforcement learning {title}</title><link>https://example.org/p1</link>
<description>Offline RL with a reward model &lt;img src=x onerror=alert(3)&gt;</description>
</item></channel></rss>""",
        encoding="utf-8",
    )
    settings = web.app.state.site.settings
    evil = settings.model_copy(
        update={
            "sources": make_settings(
                tmp_path, [{"name": "evil", "kind": "feed", "path": str(hostile)}]
            ).sources
        }
    )
    fetch_sources(evil, web.store, now=lambda: SAMPLE_NOW - timedelta(minutes=30))
    preview(
        settings,
        web.store,
        period=parse_period("2026-11-26", "UTC"),
        topics=settings.topics,
        out_dir=tmp_path / "site",
        now=SAMPLE_NOW,
    )
    for path in (tmp_path / "site").rglob("*.html"):
        page = path.read_text(encoding="utf-8")
        assert "<script>alert" not in page and "<img src=x" not in page, path
    archive = (tmp_path / "site" / "archive" / "2026-11-26" / "rl" / "index.html").read_text()
    # feed HTML is reduced to text when stored; what is left is escaped where it is shown
    assert "Reinforcement learning &#34;&gt;" in archive.replace("&quot;", "&#34;")
    for kind in ("rss", "atom"):
        body = web.get(f"/feeds/rl.{kind}").content
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0
        assert any(e.title.startswith('Reinforcement learning ">') for e in parsed.entries)
        assert b"<script>alert(1)" not in body and b"<img src=x" not in body


def test_a_newline_in_a_subject_never_starts_a_header(tmp_path):
    settings = make_settings(tmp_path, [])
    message = MessageBuilder(settings).build(
        subject="Digest\r\nBcc: victim@example.org\nX-Injected: yes",
        text="text",
        html="<p>html</p>",
        to="Reader\r\nCc: other@example.org <r@example.org>",
        message_id="m1",
        date=SAMPLE_NOW,
        list_slug="rl",
        unsubscribe_url="https://papers.example.org/unsubscribe/t\r\nX-Evil: 1",
    )
    parsed = email.message_from_bytes(message.data, policy=email.policy.default)
    assert parsed["Bcc"] is None and parsed["X-Injected"] is None
    assert parsed["Cc"] is None and parsed["X-Evil"] is None


def test_forged_and_wrong_purpose_tokens_and_missing_csrf_change_nothing(web):  # noqa: F811
    settings = web.app.state.site.settings
    subscriber, _ = web.store.add_subscriber(
        subscription(settings, email="mal@example.org", topics="rl"),
        status="active",
        now=SAMPLE_NOW,
    )
    good = TOKENS.make("unsubscribe", subscriber.id)
    for url in (
        f"/unsubscribe/{good}x",
        f"/unsubscribe/{TOKENS.make('preferences', subscriber.id)}",
        f"/preferences/{good}",
    ):
        assert web.post(url, data={"topics": ["nlp"]}).status_code == 400, url
    preferences = f"/preferences/{TOKENS.make('preferences', subscriber.id)}"
    page = web.get(preferences)
    assert page.status_code == 200 and csrf(page.text)
    assert web.post(preferences, data={"topics": ["nlp"]}).status_code == 400  # no CSRF token
    after = web.store.subscriber("mal@example.org")
    assert (after.status, after.topics) == ("active", ("rl",))
