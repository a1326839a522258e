"""Publishing: the preview build an editor checks, and the site (archive pages, feeds).

``preview`` composes each topic's edition of a period, keeps it in the store, and writes
for each topic ``preview/<period>/<topic>/email.html``, ``email.txt`` and ``email.eml``
(a complete message), then rebuilds the site: ``archive/`` pages for every stored
edition, ``feeds/<topic>.rss`` and ``.atom``, and ``index.html``. Files are written
atomically, so a web server never serves half a page.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from digest.compose import Composition, compose, load_edition, save
from digest.config import Settings, TopicSettings
from digest.errors import ConfigError
from digest.files import write_atomic
from digest.links import Links, archive_path
from digest.message import MessageBuilder
from digest.periods import Period, current_period, parse_period
from digest.picks import Pick
from digest.render import Renderer
from digest.store import Store


@dataclass(frozen=True, slots=True)
class PreviewResult:
    composition: Composition
    paths: list[Path]


def preview(
    settings: Settings,
    store: Store,
    *,
    period: Period,
    topics: Sequence[TopicSettings],
    out_dir: Path,
    now: datetime,
    since: datetime | None = None,
) -> PreviewResult:
    """Compose, keep and render the period's edition of each topic, then the site."""
    check_out_dir(out_dir)
    composition = compose(settings, store, period, topics, min(now, period.end), since)
    save(store, composition)
    renderer = Renderer(settings)
    builder = MessageBuilder(settings)
    links = Links(settings).preview()
    paths: list[Path] = []
    for edition in composition.editions():
        rendered = renderer.email(edition)
        slug = edition.slug
        html, text = rendered.fill(links.unsubscribe, links.preferences)
        digest = hashlib.sha256(f"{period.key}/{slug}/{html}".encode()).hexdigest()[:16]
        message = builder.build(
            subject=rendered.subject,
            text=text,
            html=html,
            to=f"Preview <preview@{settings.site_host}>",
            message_id=f"preview.{period.key}.{slug}.{digest}",
            date=now,
            list_slug=slug,
            unsubscribe_url=links.unsubscribe,
            unsubscribe_mailto=links.unsubscribe_mailto,
        )
        folder = out_dir / "preview" / period.key / slug
        paths.append(_write(out_dir, folder / "email.html", html))
        paths.append(_write(out_dir, folder / "email.txt", text))
        paths.append(_write(out_dir, folder / "email.eml", message.data))
    paths += build_site(settings, store, out_dir, renderer, now)
    return PreviewResult(composition, paths)


def check_out_dir(out_dir: Path) -> None:
    """The site folder must be a folder (or not exist yet): one line if it is not."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"site.out_dir: {out_dir} is a file, not a folder")


def _write(out_dir: Path, path: Path, data: str | bytes) -> Path:
    try:
        return write_atomic(path, data)
    except OSError as exc:
        raise ConfigError(f"site.out_dir: cannot write {path}: {exc.strerror or exc}") from exc


def publish(settings: Settings, store: Store, now: datetime) -> Composition:
    """Compose today's edition of every topic and rebuild the archive and the feeds."""
    check_out_dir(Path(settings.site.out_dir))
    period = current_period(now, "daily", settings.site.timezone)
    composition = compose(settings, store, period, settings.topics, now)
    save(store, composition)
    build_site(settings, store, Path(settings.site.out_dir), now=now)
    return composition


def build_site(
    settings: Settings,
    store: Store,
    out_dir: Path,
    renderer: Renderer | None = None,
    now: datetime | None = None,
) -> list[Path]:
    """Archive pages for every stored edition of a configured topic, and each topic's feeds."""
    check_out_dir(out_dir)
    renderer = renderer or Renderer(settings)
    zone = settings.site.timezone
    topics = {t.slug: t for t in settings.topics}
    paths: list[Path] = []
    latest = now
    for record in store.editions():
        topic = topics.get(record.topic)
        if topic is None:
            continue
        edition = load_edition(store, topic, record, parse_period(record.period, zone))
        href = archive_path(record.period, topic.slug)
        paths.append(_write(out_dir, out_dir / href, renderer.edition_page(edition)))
        latest = max(latest, record.built_at) if latest else record.built_at
    ordered = archive_periods(settings, store)
    for page, root in (("archive/index.html", "../"), ("index.html", "")):
        body = renderer.archive_index(ordered, list(topics.values()), root=root)
        paths.append(_write(out_dir, out_dir / page, body))
    for topic in topics.values():
        body = renderer.topic_page(topic, topic_periods(ordered, topic.slug))
        paths.append(_write(out_dir, out_dir / "archive" / topic.slug / "index.html", body))
    paths.append(_write(out_dir, out_dir / "feeds.opml", renderer.opml(list(topics.values()))))
    paths.append(_write(out_dir, out_dir / "static" / "style.css", renderer.stylesheet()))
    for topic in topics.values():
        entries = feed_entries(settings, store, topic)
        for kind in ("rss", "atom"):
            body = renderer.feed(kind, topic, entries, latest or datetime.now(UTC))
            paths.append(_write(out_dir, out_dir / "feeds" / f"{topic.slug}.{kind}", body))
    return paths


def archive_periods(
    settings: Settings, store: Store
) -> list[tuple[str, str, list[dict[str, object]]]]:
    """The stored editions by period, newest first: (key, label, [{href, slug, name, count,
    also}])."""
    zone = settings.site.timezone
    topics = {t.slug: t for t in settings.topics}
    periods: dict[str, list[dict[str, object]]] = {}
    labels: dict[str, str] = {}
    for record in store.editions():
        topic = topics.get(record.topic)
        if topic is None:
            continue
        labels.setdefault(record.period, parse_period(record.period, zone).label())
        items = store.edition_items(topic.slug, record.period, also=True)
        periods.setdefault(record.period, []).append(
            {
                "href": archive_path(record.period, topic.slug),
                "slug": topic.slug,
                "name": topic.name,
                "count": sum(1 for i in items if i.position > 0),
                "also": sum(1 for i in items if i.position < 0),
            }
        )
    return [(key, labels[key], entries) for key, entries in sorted(periods.items(), reverse=True)]


def topic_periods(
    ordered: Sequence[tuple[str, str, list[dict[str, object]]]], slug: str
) -> list[tuple[str, str, list[dict[str, object]]]]:
    """The periods of ``archive_periods`` that hold an edition of one topic, with only it."""
    found = []
    for key, label, entries in ordered:
        mine = [e for e in entries if e["slug"] == slug]
        if mine:
            found.append((key, label, mine))
    return found


def feed_entries(settings: Settings, store: Store, topic: TopicSettings) -> list[Pick]:
    """The topic's picks of its recent editions, newest edition first, capped."""
    items = store.edition_items(topic.slug, limit=settings.site.feed_items)
    papers = {p.id: p for p in store.papers(ids=[i.paper_id for i in items])}
    return [
        Pick(papers[i.paper_id], i.score, i.reasons, period=i.period)
        for i in items
        if i.paper_id in papers
    ]
