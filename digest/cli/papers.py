"""Commands over papers: fetch, papers, rank, preview, pin and drop."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest.cli.app import App, _now, _table, pass_app, progress
from digest.errors import InputError
from digest.ids import parse_arxiv_id
from digest.periods import current_period, parse_period
from digest.text import one_line

if TYPE_CHECKING:
    from digest.config import TopicSettings
    from digest.periods import Period


@click.command()
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="NAME",
    help="Fetch only this source (repeatable).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@pass_app
def fetch(app: App, sources: Sequence[str], fmt: str) -> None:
    """Fetch new listings from the configured sources into the store.

    Prints one line per source (new, updated, unchanged, or why it failed). A failing
    source is skipped and the others are still stored; the exit code is then 1.

    Example: digest fetch --source arxiv-cs
    """
    from digest.fetch import fetch_sources
    from digest.http import HttpClient

    for name in sources:
        app.settings.source(name)
    names = list(sources) or [s.name for s in app.settings.sources if s.enabled]
    reports = []
    with (
        HttpClient(app.settings.fetch) as http,
        progress(names, f"Fetching {len(names)} sources", at_least=3) as bar,
    ):
        for name in bar:  # one at a time, so the bar moves and a line follows each
            reports += fetch_sources(
                app.settings,
                app.store,
                names=[name],
                http=http,
                on_report=(lambda r: click.echo(r.summary())) if fmt == "text" else None,
            )
    if fmt == "json":
        click.echo(json.dumps([r.as_json() for r in reports], indent=2))
    if not reports:
        click.echo("No sources configured: add [[sources]] to the configuration file.", err=True)
    if any(r.failed for r in reports):
        raise click.exceptions.Exit(1)


@click.command()
@click.option("--since", metavar="DATE", help="Only papers first seen on or after DATE.")
@click.option("--source", metavar="NAME", help="Only papers listed by this source.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many papers.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True
)
@pass_app
def papers(app: App, since: str | None, source: str | None, limit: int | None, fmt: str) -> None:
    """List stored papers, newest first.

    jsonl prints one JSON object per paper with the keys id, version, title, abstract,
    authors, categories, published, first_seen, links, sources, announce_type, upvotes.

    Example: digest papers --since 2026-11-27 --format jsonl
    """
    found = app.store.papers(since=app.parse_date(since, "--since"), source=source, limit=limit)
    if fmt == "jsonl":
        for paper in found:
            click.echo(json.dumps(paper.as_json(), ensure_ascii=False))
        return
    rows = [
        (
            p.id,
            str(p.version or ""),
            p.first_seen.strftime("%Y-%m-%d %H:%M"),
            ",".join(p.sources),
            one_line(p.title, 70),
        )
        for p in found
    ]
    _table(("id", "v", "first seen (UTC)", "sources", "title"), rows)
    click.echo(f"{len(found)} papers", err=True)


def _period(app: App, day: str | None) -> Period:
    zone = app.settings.site.timezone
    if day is None:
        return current_period(_now(), "daily", zone)
    period = parse_period(day, zone)
    if period.kind != "daily":
        raise InputError(f"--date {day!r} is not a day (use YYYY-MM-DD)")
    return period


def _topics(app: App, slugs: Sequence[str]) -> list[TopicSettings]:
    if slugs:
        return [app.settings.topic(slug) for slug in slugs]
    if not app.settings.topics:
        raise InputError("no topics configured: add [[topics]] to the configuration file")
    return list(app.settings.topics)


@click.command()
@click.option("--topic", "slug", required=True, metavar="SLUG", help="The topic to rank for.")
@click.option("--date", "day", metavar="YYYY-MM-DD", help="The edition's day (default: today).")
@click.option(
    "--since",
    metavar="DATE",
    help="Candidates first seen since DATE (default: the start of the day).",
)
@click.option("--limit", type=click.IntRange(min=1), help="Show at most N candidates.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@pass_app
def rank(
    app: App, slug: str, day: str | None, since: str | None, limit: int | None, fmt: str
) -> None:
    """Rank the candidate papers for a topic and explain every score.

    json prints a list of objects with id, title, score, reasons (list of strings) and
    picked (bool), plus why_not for papers that were not picked. Nothing is stored.

    Example: digest rank --topic rl --since 2026-11-20 --limit 10
    """
    from digest.compose import compose

    topic = app.settings.topic(slug)
    period = _period(app, day)
    composition = compose(
        app.settings,
        app.store,
        period,
        [topic],
        min(_now(), period.end),
        app.parse_date(since, "--since"),
    )
    ranking = composition.rankings[0]
    ranked = ranking.ranked[:limit] if limit else ranking.ranked
    if fmt == "json":
        click.echo(json.dumps([r.as_json() for r in ranked], indent=2, ensure_ascii=False))
        return
    rows = [
        (
            "yes" if r.picked else "",
            f"{r.score:.2f}",
            r.paper.id,
            one_line(r.paper.title, 60),
            "; ".join(r.reasons) + (f" [{r.why_not}]" if r.why_not else ""),
        )
        for r in (ranked if limit else ranked[:20])
    ]
    _table(("pick", "score", "id", "title", "reasons"), rows)
    click.echo(
        f"{len(ranking.picks)} picked of {ranking.candidates} candidates "
        f"({ranking.relevant} above the relevance floor)",
        err=True,
    )
    if ranking.empty_reason:
        click.echo(f"Empty edition: {ranking.empty_reason}", err=True)
    for seed in ranking.missing_seeds:
        click.echo(
            f"Seed paper {seed} is not in the store; fetch it (an arxiv-ids source "
            "will do) to use it.",
            err=True,
        )


@click.command()
@click.option(
    "--topic",
    "slugs",
    multiple=True,
    metavar="SLUG",
    help="Only this topic (repeatable; default: every topic).",
)
@click.option("--date", "day", metavar="YYYY-MM-DD", help="The edition's day (default: today).")
@click.option("--since", metavar="DATE", help="Candidates first seen since DATE.")
@click.option(
    "--out",
    "out_dir",
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="Where to write the site (default: [site] out_dir, ./site).",
)
@pass_app
def preview(
    app: App, slugs: Sequence[str], day: str | None, since: str | None, out_dir: str
) -> None:
    """Build the next edition for an editor to check: emails, feeds and archive.

    For each topic, writes preview/<day>/<topic>/email.html, email.txt and email.eml
    (the complete message), then the archive pages and the RSS and Atom feeds, into
    DIR, and prints the paths. The edition is kept, so the feeds and archive show it.

    Example: digest preview --topic rl --date 2026-11-27 --out site
    """
    from digest.publish import preview as build_preview

    topics = _topics(app, slugs)
    period = _period(app, day)
    result = build_preview(
        app.settings,
        app.store,
        period=period,
        topics=topics,
        out_dir=Path(out_dir or app.settings.site.out_dir),
        now=_now(),
        since=app.parse_date(since, "--since"),
    )
    for path in result.paths:
        click.echo(str(path))
    for ranking in result.composition.rankings:
        line = (
            f"{ranking.topic.slug}: {len(ranking.picks)} highlights of "
            f"{ranking.candidates} candidates"
        )
        if ranking.empty_reason:
            line += f" (empty: {ranking.empty_reason})"
        click.echo(line, err=True)


def _mark(app: App, paper_id: str, slug: str, action: str, clear: bool) -> None:
    topic = app.settings.topic(slug)
    arxiv = None if paper_id.startswith(("doi:", "url:", "title:")) else parse_arxiv_id(paper_id)
    key = arxiv.key if arxiv else paper_id
    paper = app.store.paper(key)
    if paper is None:
        raise InputError(
            f"paper {paper_id!r} is not in the store (fetch it first; an arxiv-ids source will do)"
        )
    app.store.set_pin(topic.slug, key, None if clear else action, _now())
    verb = "cleared the mark on" if clear else ("pinned" if action == "pin" else "dropped")
    click.echo(f"{verb.capitalize()} {key} for {topic.slug}: {one_line(paper.title, 70)}")


@click.command()
@click.argument("paper_id", metavar="ID")
@click.option("--topic", "slug", required=True, metavar="SLUG")
@click.option("--clear", is_flag=True, help="Remove the pin (or drop) instead.")
@pass_app
def pin(app: App, paper_id: str, slug: str, clear: bool) -> None:
    """Pin a paper into a topic's next edition, whatever its score.

    Example: digest pin 2411.17700 --topic rl
    """
    _mark(app, paper_id, slug, "pin", clear)


@click.command()
@click.argument("paper_id", metavar="ID")
@click.option("--topic", "slug", required=True, metavar="SLUG")
@click.option("--clear", is_flag=True, help="Remove the drop (or pin) instead.")
@pass_app
def drop(app: App, paper_id: str, slug: str, clear: bool) -> None:
    """Keep a paper out of a topic's editions, whatever its score.

    Example: digest drop 2411.17700 --topic rl
    """
    _mark(app, paper_id, slug, "drop", clear)
