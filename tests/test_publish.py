"""What subscribers and feed readers see: golden files, round trips, escaping, layout."""

from __future__ import annotations

import email
import email.policy
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest
from conftest import GOLDEN, SAMPLE_DAY, SAMPLE_NOW, fetched_store, load_case

from digest.periods import parse_period
from digest.publish import preview

CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "digest.toml").is_file())
REGENERATE = os.environ.get("DIGEST_REGEN_GOLDEN") == "1"


def build(case: str, tmp_path: Path):
    settings = load_case(GOLDEN / case, tmp_path)
    store = fetched_store(settings)
    out = tmp_path / "site"
    period = parse_period(SAMPLE_DAY, settings.site.timezone)
    result = preview(
        settings, store, period=period, topics=settings.topics, out_dir=out, now=SAMPLE_NOW
    )
    store.close()
    return settings, out, result


def mask(name: str, text: str) -> str:
    if name.endswith(".eml"):
        text = re.sub(r"={15}\d+==", "===============BOUNDARY==", text)
        text = re.sub(r"(?m)^(Date|Message-ID): .*$", r"\1: <masked>", text)
    return text


def outputs(out: Path, slug: str) -> dict[str, str]:
    email_dir = out / "preview" / SAMPLE_DAY / slug
    return {
        "email.txt": (email_dir / "email.txt").read_text(),
        "email.html": (email_dir / "email.html").read_text(),
        "email.eml": (email_dir / "email.eml").read_bytes().decode("ascii"),
        "feed.rss": (out / "feeds" / f"{slug}.rss").read_text(),
        "feed.atom": (out / "feeds" / f"{slug}.atom").read_text(),
        "archive.html": (out / "archive" / SAMPLE_DAY / slug / "index.html").read_text(),
    }


@pytest.mark.parametrize("case", CASES)
def test_golden_files(case, tmp_path):
    settings, out, _ = build(case, tmp_path)
    expected_dir = GOLDEN / case / "expected"
    for name, text in outputs(out, settings.topics[0].slug).items():
        text = mask(name, text)
        path = expected_dir / name
        if REGENERATE:
            expected_dir.mkdir(exist_ok=True)
            path.write_bytes(text.encode())
        assert path.exists(), f"{path} missing: run with DIGEST_REGEN_GOLDEN=1 to create it"
        assert text == path.read_bytes().decode(), f"{case}/{name} differs from the golden file"


@pytest.mark.parametrize("case", CASES)
def test_every_feed_parses_cleanly_and_every_message_round_trips(case, tmp_path):
    settings, out, result = build(case, tmp_path)
    picks = result.composition.rankings[0].picks
    for kind in ("rss", "atom"):
        parsed = feedparser.parse(
            (out / "feeds" / f"{settings.topics[0].slug}.{kind}").read_bytes()
        )
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        assert [e.id for e in parsed.entries] == [p.paper.id for p in picks]
        for entry, pick in zip(parsed.entries, picks, strict=True):
            assert entry.title == pick.paper.title
            assert entry.get("published_parsed") or entry.get("updated_parsed")
            assert entry.link.startswith("https://")
    for eml in (out / "preview").rglob("email.eml"):
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        assert message.get_content_type() == "multipart/alternative"
        parts = list(message.iter_parts())
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
        for part, name in zip(parts, ("email.txt", "email.html"), strict=True):
            body = part.get_content().replace("\r\n", "\n")
            assert body == (eml.parent / name).read_text()
        for header in (
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "List-Id",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
        ):
            assert message[header], header
        assert "\n" not in str(message["Subject"])


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.scripts = 0
        self.handlers: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts += 1
        for name, value in attrs:
            if name in ("href", "src"):
                self.hrefs.append(value or "")
            if name.startswith("on"):
                self.handlers.append(name)


def test_sample_email_links_size_and_text_width(tmp_path):
    settings, out, result = build("sample-rl", tmp_path)
    html = (out / "preview" / SAMPLE_DAY / "rl" / "email.html").read_text()
    links = _Links()
    links.feed(html)
    assert links.hrefs and all(h.startswith(("https://", "http://")) for h in links.hrefs)
    assert len(html.encode()) < 102 * 1024
    assert 'style="' in html and "@media (prefers-color-scheme: dark)" in html
    assert "<style>" in html  # only the @media rules stay there; the rest is inlined
    assert ".card {" not in html
    text = (out / "preview" / SAMPLE_DAY / "rl" / "email.txt").read_text()
    for line in text.splitlines():
        assert len(line) <= 72 or re.search(r"https?://\S+$", line), line
    assert re.search(r"^   \[1\] arXiv: https://arxiv\.org/abs/", text, re.M)
    picks = result.composition.rankings[0].picks
    assert 1 <= len(picks) <= 5 and all(p.reasons for p in picks)
    # the two near-duplicate papers in the sample never both make the list
    assert not {"arxiv:2611.18233", "arxiv:2611.18644"} <= {p.paper.id for p in picks}
    # the survey is excluded, with the reason
    survey = next(
        r for r in result.composition.rankings[0].ranked if r.paper.id == "arxiv:2611.18877"
    )
    assert survey.why_not == "excluded: contains 'survey'"


def test_hostile_text_is_escaped_everywhere(tmp_path):
    settings, out, _ = build("hostile", tmp_path)
    files = outputs(out, "rl")
    for name in ("email.html", "archive.html"):
        parsed = _Links()
        parsed.feed(files[name])
        assert parsed.scripts == 0 and parsed.handlers == [], name
        assert "javascript:" not in files[name]
        assert '&lt;script&gt;alert("title")&lt;/script&gt;' in files[name] or (
            "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;" in files[name]
        ), name
        assert "&lt;img src=x onerror=alert(1)&gt;" in files[name], name
    for kind in ("feed.rss", "feed.atom"):
        parsed = feedparser.parse(files[kind].encode())
        assert parsed.bozo == 0
        titles = [e.title for e in parsed.entries]
        assert '<script>alert("title")</script> Reinforcement learning with & tricks' in titles
        assert "javascript:" not in files[kind]
    message = email.message_from_string(files["email.eml"], policy=email.policy.default)
    assert message["Bcc"] is None
    assert message["From"].addresses[0].display_name == "Paper Digest <Lab & Co>"


def test_empty_edition_says_why(tmp_path):
    _, out, result = build("empty", tmp_path)
    ranking = result.composition.rankings[0]
    assert ranking.picks == () and ranking.candidates == 36
    assert ranking.empty_reason.startswith("none of the 36 new papers matched closely enough")
    text = (out / "preview" / SAMPLE_DAY / "marine" / "email.txt").read_text()
    assert "No highlights this time: none of the 36 new papers matched" in text
