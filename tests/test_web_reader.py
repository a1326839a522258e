"""The reader's side of the web app: undoing an unsubscribe, the welcome mail, typing
mistakes and the rate limit, the OPML list of feeds and the archive by topic."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from zoneinfo import ZoneInfo

from conftest import SAMPLE_NOW
from test_web import TOKENS, csrf, link, mails, web  # noqa: F401  (the app fixture)

from digest.deliver.confirm import first_edition
from digest.subscribers import subscription


def subscribe_and_confirm(client, address: str, **form: object) -> None:
    data = {"email": address, "topics": ["rl", "nlp"], **form}
    assert client.post("/subscribe", data=data).status_code == 200
    confirm = link(mails(client)[-1], "confirm")
    page = client.get(confirm)
    assert client.post(confirm, data={"csrf_token": csrf(page.text)}).status_code == 200


def test_a_welcome_mail_says_what_when_and_how_often(web):  # noqa: F811
    subscribe_and_confirm(web, "wen@example.org", timezone="Europe/Berlin", hour="7")
    found = mails(web)
    assert [m["Subject"] for m in found][-1] == "Welcome to Paper Digest"
    text = " ".join(found[-1].get_body(("plain",)).get_content().split())
    html = " ".join(found[-1].get_body(("html",)).get_content().split())
    assert "Reinforcement learning" in text and "every day at 07:00 (Europe/Berlin)" in text
    # SAMPLE_NOW is 14:00 UTC, 15:00 in Berlin: today's 07:00 has passed, so at once
    assert "in the next few minutes" in text and "in the next few minutes" in html
    assert found[-1]["List-Unsubscribe"]
    assert len(mails(web)) == len(found)  # sent once


def test_the_first_edition_time_is_in_the_readers_zone():
    from datetime import UTC, datetime

    from digest.subscribers import Subscriber

    reader = Subscriber(
        1,
        "a@example.org",
        "active",
        ("rl",),
        "weekly",
        4,
        "America/New_York",
        9,
        None,
        datetime(2026, 11, 1, tzinfo=UTC),
    )
    first = first_edition(reader, SAMPLE_NOW)  # Thursday 26 November 2026
    local = first.astimezone(ZoneInfo("America/New_York"))
    assert (local.strftime("%A %d %H:%M"), local.utcoffset()) == (
        "Friday 27 09:00",
        timedelta(hours=-5),
    )


def added(client, address: str, status: str):  # type: ignore[no-untyped-def]
    settings = client.app.state.site.settings
    found, _ = client.store.add_subscriber(
        subscription(settings, email=address, topics="rl"), status=status, now=SAMPLE_NOW
    )
    return found


def test_unsubscribing_can_be_undone(web):  # noqa: F811
    subscriber = added(web, "una@example.org", "active")
    url = f"/unsubscribe/{TOKENS.make('unsubscribe', subscriber.id)}"
    gone = web.post(url, data={"List-Unsubscribe": "One-Click"})
    assert gone.status_code == 200 and "You are unsubscribed" in gone.text
    assert "Stop sending" not in gone.text and "Undo" in gone.text
    assert web.store.subscriber("una@example.org").status == "unsubscribed"
    again = web.get(url)  # the page says what happened, still
    assert "You are unsubscribed" in again.text
    assert web.post(url, data={"action": "undo"}).status_code == 400  # no CSRF token
    undone = web.post(url, data={"action": "undo", "csrf_token": csrf(again.text)})
    assert undone.status_code == 200 and "You are subscribed again" in undone.text
    assert web.store.subscriber("una@example.org").status == "active"


def test_preferences_can_resubscribe(web):  # noqa: F811
    subscriber = added(web, "rex@example.org", "unsubscribed")
    url = f"/preferences/{TOKENS.make('preferences', subscriber.id)}"
    page = web.get(url)
    assert "You are unsubscribed" in page.text and 'value="resubscribe"' in page.text
    form = {"csrf_token": csrf(page.text), "topics": ["nlp"], "action": "resubscribe"}
    saved = web.post(url, data=form)
    assert saved.status_code == 200 and "Saved." in saved.text and "(active)" in saved.text
    found = web.store.subscriber("rex@example.org")
    assert (found.status, found.topics) == ("active", ("nlp",))


def test_subscribing_again_after_unsubscribing_sends_a_confirmation(web):  # noqa: F811
    subscribe_and_confirm(web, "ivy@example.org")
    before = len(mails(web))
    subscriber = web.store.subscriber("ivy@example.org")
    web.post(f"/unsubscribe/{TOKENS.make('unsubscribe', subscriber.id)}")
    answer = web.post("/subscribe", data={"email": "ivy@example.org", "topics": ["rl"]})
    assert "Check your inbox" in answer.text
    found = mails(web)
    assert len(found) == before + 1
    assert sum(m["Subject"].startswith("Confirm") for m in found) == 2


def test_typing_mistakes_do_not_count_and_a_429_says_when(web):  # noqa: F811
    for _ in range(5):  # the limit is 3
        bad = web.post("/subscribe", data={"email": "not-an-address", "topics": ["rl"]})
        assert bad.status_code == 400
    for i in range(3):
        ok = web.post("/subscribe", data={"email": f"t{i}@example.org", "topics": ["rl"]})
        assert ok.status_code == 200
    web.clock.mono += 100
    limited = web.post("/subscribe", data={"email": "t9@example.org", "topics": ["rl"]})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "500"
    as_json = web.post("/subscribe", json={"email": "t9@example.org", "topics": ["rl"]})
    assert as_json.status_code == 429 and as_json.headers["Retry-After"] == "500"


def test_opml_and_the_archive_by_topic(web):  # noqa: F811
    answer = web.get("/feeds.opml")
    assert answer.status_code == 200 and "opml" in answer.headers["content-type"]
    outlines = ET.fromstring(answer.content).findall("./body/outline")
    topics = web.app.state.site.settings.topics
    assert [o.get("xmlUrl") for o in outlines] == [
        f"https://papers.example.org/feeds/{t.slug}.rss" for t in topics
    ]
    index = web.get("/archive/")
    assert 'href="/archive/rl/index.html"' in index.text and "Subscribe by email" in index.text
    by_topic = web.get("/archive/rl/")
    assert by_topic.status_code == 200 and "/archive/2026-11-26/rl/index.html" in by_topic.text
    assert web.get("/archive/astrology/").status_code == 404
