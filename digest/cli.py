"""The ``digest`` command: thin click commands over the library.

Errors the project raises on purpose become one ``Error: …`` line on stderr and a
non-zero exit code (2 for bad configuration or input, 1 for failed work); the
traceback is shown only with ``--verbose``.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime, time
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from digest import __version__
from digest.config import (
    DEFAULT_CONFIG_NAME,
    STARTER_CONFIG,
    Settings,
    TopicSettings,
    load_settings,
)
from digest.deliver import SendReport
from digest.errors import DigestError, InputError
from digest.ids import parse_arxiv_id
from digest.periods import Period, current_period, parse_period
from digest.store import Store
from digest.subscribers import FREQUENCIES, STATUSES, WEEKDAYS, Subscriber
from digest.text import one_line


class App:
    """What every command needs, loaded on first use."""

    def __init__(self, config_path: str | None, verbose: bool) -> None:
        self.config_path = config_path
        self.verbose = verbose
        self._store: Store | None = None

    @cached_property
    def settings(self) -> Settings:
        settings = load_settings(self.config_path)
        if settings.origin is None:
            click.echo(
                f"No {DEFAULT_CONFIG_NAME} here: using the built-in sample settings "
                "('digest init' writes a starter file).",
                err=True,
            )
        return settings

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.settings.store.url)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def parse_date(self, value: str | None, option: str) -> datetime | None:
        """A date (start of that day in the site's time zone) or a full ISO timestamp."""
        if value is None:
            return None
        zone = ZoneInfo(self.settings.site.timezone)
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise InputError(f"{option} {value!r} is not a date (use YYYY-MM-DD)") from None
        if len(value) <= 10:
            parsed = datetime.combine(parsed.date(), time(), zone)
        elif parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        return parsed


pass_app = click.make_pass_decorator(App)


class _Commands(click.Group):
    """The built-in commands, and those other packages add through the "digest.commands"
    entry point (the scheduler's `schedule`), loaded only when asked for."""

    def _plugins(self) -> dict[str, Any]:
        from importlib.metadata import entry_points

        return {ep.name: ep for ep in entry_points(group="digest.commands")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugins()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None and name in (plugins := self._plugins()):
            command = plugins[name].load()
        return command


@click.group(
    cls=_Commands,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help=f"Configuration file (default: $DIGEST_CONFIG or ./{DEFAULT_CONFIG_NAME}).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log progress and show tracebacks.")
@click.version_option(__version__, prog_name="digest")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """Paper Digest: new research papers in, a short personal newsletter out.

    Example: digest init && digest fetch && digest papers --since 2026-11-27
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    app = App(config_path, verbose)
    ctx.obj = app
    ctx.call_on_close(app.close)


@cli.command()
@click.argument("path", required=False, metavar="[PATH]")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.pass_context
def init(ctx: click.Context, path: str | None, force: bool) -> None:
    """Write a commented starter configuration file.

    Example: digest init            (writes ./digest.toml)
    """
    app: App = ctx.obj
    target = Path(path or app.config_path or DEFAULT_CONFIG_NAME)
    if target.exists() and not force:
        raise InputError(f"{target} exists already (use --force to overwrite it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(STARTER_CONFIG, encoding="utf-8")
    click.echo(f"Wrote {target}. Edit its sources and topics, then run 'digest fetch'.")


@cli.command()
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

    for name in sources:
        app.settings.source(name)
    reports = fetch_sources(
        app.settings,
        app.store,
        names=list(sources) or None,
        on_report=(lambda r: click.echo(r.summary())) if fmt == "text" else None,
    )
    if fmt == "json":
        click.echo(json.dumps([r.as_json() for r in reports], indent=2))
    if not reports:
        click.echo("No sources configured: add [[sources]] to the configuration file.", err=True)
    if any(r.failed for r in reports):
        raise click.exceptions.Exit(1)


@cli.command()
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


def _now() -> datetime:
    return datetime.now(UTC)


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


@cli.command()
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


@cli.command()
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


@cli.command()
@click.argument("paper_id", metavar="ID")
@click.option("--topic", "slug", required=True, metavar="SLUG")
@click.option("--clear", is_flag=True, help="Remove the pin (or drop) instead.")
@pass_app
def pin(app: App, paper_id: str, slug: str, clear: bool) -> None:
    """Pin a paper into a topic's next edition, whatever its score.

    Example: digest pin 2411.17700 --topic rl
    """
    _mark(app, paper_id, slug, "pin", clear)


@cli.command()
@click.argument("paper_id", metavar="ID")
@click.option("--topic", "slug", required=True, metavar="SLUG")
@click.option("--clear", is_flag=True, help="Remove the drop (or pin) instead.")
@pass_app
def drop(app: App, paper_id: str, slug: str, clear: bool) -> None:
    """Keep a paper out of a topic's editions, whatever its score.

    Example: digest drop 2411.17700 --topic rl
    """
    _mark(app, paper_id, slug, "drop", clear)


@cli.group()
def subscribers() -> None:
    """Add, list, remove, import and export subscribers."""


def _send_queued(app: App, subscriber: Subscriber | None) -> str:
    """Send the queued confirmation mails; what became of ``subscriber``'s."""
    from digest.deliver.confirm import send_pending_confirmations
    from digest.tokens import Tokens
    from digest.transport import transport_for

    sent = send_pending_confirmations(
        app.settings, app.store, transport_for(app.settings), Tokens.from_environment(), _now()
    )
    result = next((r for s, r in sent if subscriber and s.id == subscriber.id), None)
    if result is None or result.status == "sent":
        return "confirmation sent"
    return f"confirmation not sent: {result.detail}"


@subscribers.command("add")
@click.argument("email")
@click.option("--topics", required=True, metavar="SLUGS", help="Topic slugs, comma-separated.")
@click.option("--frequency", type=click.Choice(FREQUENCIES), help="daily (default) or weekly.")
@click.option("--weekday", metavar="DAY", help="For weekly editions: mon ... sun (default mon).")
@click.option(
    "--timezone", metavar="ZONE", help="IANA time zone (default UTC), e.g. Europe/Berlin."
)
@click.option("--hour", metavar="0-23", help="Local hour of sending (default 8).")
@click.option("--max-papers", type=click.IntRange(1, 100), help="At most this many papers.")
@click.option(
    "--active",
    is_flag=True,
    help="Subscribed already (no confirmation mail); otherwise pending until confirmed.",
)
@pass_app
def subscribers_add(
    app: App,
    email: str,
    topics: str,
    frequency: str | None,
    weekday: str | None,
    timezone: str | None,
    hour: str | None,
    max_papers: int | None,
    active: bool,
) -> None:
    """Add a subscriber, or update the one with that address.

    Without --active the subscriber is pending and gets a confirmation mail (double
    opt-in; DIGEST_SECRET signs its link).

    Example: digest subscribers add ada@example.org --topics rl,nlp --timezone Europe/Berlin
    """
    from digest.subscribers import normalize_email, subscription

    existing = app.store.subscriber(normalize_email(email))
    keep = existing  # an update keeps what the command line does not change
    request = subscription(
        app.settings,
        email=email,
        topics=topics,
        frequency=frequency or (keep.frequency if keep else "daily"),
        weekday=weekday if weekday is not None else (keep.weekday if keep else None),
        timezone=timezone or (keep.timezone if keep else "UTC"),
        hour=hour if hour is not None else (keep.hour if keep else 8),
        max_papers=max_papers if max_papers is not None else (keep.max_papers if keep else None),
    )
    if not active and (existing is None or existing.status != "active"):
        from digest.tokens import Tokens

        Tokens.from_environment()  # the confirmation link needs it: fail before writing
    from digest import subscriptions

    added = subscriptions.add(app.store, request, _now(), active=active)
    subscriber, created = added.subscriber, added.created
    note = f"; {_send_queued(app, subscriber)}" if added.queued else ""
    click.echo(
        f"{'Added' if created else 'Updated'} {subscriber.email} ({subscriber.status}"
        f"{note}): {', '.join(subscriber.topics)}, {subscriber.frequency} at "
        f"{subscriber.hour}:00 {subscriber.timezone}"
    )


@subscribers.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only subscribers in this state.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True
)
@pass_app
def subscribers_list(app: App, status: str | None, fmt: str) -> None:
    """List subscribers.

    Example: digest subscribers list --status active --format jsonl
    """
    found = app.store.subscribers(status)
    if fmt == "jsonl":
        for subscriber in found:
            click.echo(json.dumps(subscriber.as_json(), ensure_ascii=False))
        return
    rows = [
        (
            s.email,
            s.status,
            ",".join(s.topics),
            s.frequency + (f" {WEEKDAYS[s.weekday]}" if s.weekday is not None else ""),
            f"{s.hour:02d}:00 {s.timezone}",
        )
        for s in found
    ]
    _table(("email", "status", "topics", "frequency", "sends at"), rows)
    click.echo(f"{len(found)} subscribers", err=True)


@subscribers.command("remove")
@click.argument("email")
@pass_app
def subscribers_remove(app: App, email: str) -> None:
    """Delete a subscriber and their delivery records.

    Example: digest subscribers remove ada@example.org
    """
    from digest import subscriptions
    from digest.subscribers import normalize_email

    address = normalize_email(email)
    if not subscriptions.remove(app.store, address):
        raise InputError(f"no subscriber {address!r}")
    click.echo(f"Removed {address}")


@subscribers.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--pending",
    is_flag=True,
    help="Import as pending and send confirmation mails (default: active, for "
    "people who opted in already).",
)
@pass_app
def subscribers_import(app: App, file: str, pending: bool) -> None:
    """Import subscribers from a CSV file (columns email,topics,frequency,timezone,hour;
    optional weekday,max_papers). Bad rows are reported by line number and skipped.

    Example: digest subscribers import people.csv
    """
    from digest import subscriptions
    from digest.subscribers import read_csv

    try:
        text = Path(file).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{file} is not UTF-8 text: {exc.reason}") from None
    if pending:
        from digest.tokens import Tokens

        Tokens.from_environment()
    added = updated = bad = 0
    queued = False
    for row in read_csv(app.settings, text):
        if row.subscription is None:
            bad += 1
            click.echo(f"{file}:{row.line}: skipped: {row.error}", err=True)
            continue
        outcome = subscriptions.add(app.store, row.subscription, _now(), active=not pending)
        added += outcome.created
        updated += not outcome.created
        queued = queued or outcome.queued
    if queued:
        _send_queued(app, None)
    click.echo(f"Imported {file}: {added} added, {updated} updated, {bad} skipped")
    if bad:
        raise click.exceptions.Exit(1)


@subscribers.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True
)
@pass_app
def subscribers_export(app: App, fmt: str) -> None:
    """Write every subscriber to standard output (CSV that `import` reads back, or JSONL).

    Example: digest subscribers export > subscribers.csv
    """
    from digest.subscribers import write_csv

    found = app.store.subscribers()
    if fmt == "jsonl":
        for subscriber in found:
            click.echo(json.dumps(subscriber.as_json(), ensure_ascii=False))
    else:
        click.echo(write_csv(found), nl=False)


def _send_report(report: SendReport, dry_run: bool, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(report.as_json(), indent=2))
    else:
        for email, key, papers in report.planned:
            click.echo(f"would send {key} to {email}: {papers} papers")
        for email, reason in report.skipped:
            click.echo(f"skipped {email}: {reason}")
        click.echo(
            ("Dry run: " if dry_run else "")
            + report.summary()
            + f" ({report.not_due} not due yet, {report.done_before} sent before)"
        )
    if report.stopped:
        raise DigestError(f"sending stopped: {report.stopped}")


def _progress() -> Any:
    return click.progressbar(length=0, label="Sending", file=sys.stderr, show_pos=True)


@cli.command()
@click.option(
    "--period",
    metavar="KEY",
    help="The period: a day (2026-11-27) or an ISO week "
    "(2026-W48); default: each subscriber's current one.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send nothing.")
@click.option("--limit", type=click.IntRange(min=1), help="Send at most N messages.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@pass_app
def send(app: App, period: str | None, dry_run: bool, limit: int | None, fmt: str) -> None:
    """Send the due editions: to every active subscriber whose local send hour has come.

    Each edition goes out once, however often this runs and even when two runs overlap:
    the ledger (see `digest deliveries`) claims it first. Ends with the counts: sent,
    skipped (with reasons), retried, failed, bounced.

    Example: digest send --dry-run
    """
    from digest.deliver import send_due

    with _progress() as bar:
        report = send_due(
            app.settings,
            app.store,
            now=_now(),
            period_key=period,
            dry_run=dry_run,
            limit=limit,
            on_progress=bar.update,
        )
    _send_report(report, dry_run, fmt)
    if report.failed:
        raise click.exceptions.Exit(1)


@cli.command()
@click.option("--period", metavar="KEY", help="Only this period.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True
)
@pass_app
def deliveries(app: App, period: str | None, fmt: str) -> None:
    """Show the delivery ledger: one row per subscriber and period.

    Example: digest deliveries --period 2026-11-27
    """
    rows = app.store.deliveries(period)
    emails = {s.id: s.email for s in app.store.subscribers(ids=[r.subscriber_id for r in rows])}
    if fmt == "jsonl":
        for row in rows:
            click.echo(
                json.dumps(
                    {
                        "email": emails.get(row.subscriber_id),
                        "period": row.period,
                        "status": row.status,
                        "attempts": row.attempts,
                        "last_error": row.last_error,
                        "message_id": row.message_id,
                        "papers": [pid for _, pid in row.papers],
                        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
                        "claimed_by": row.claimed_by,
                    },
                    ensure_ascii=False,
                )
            )
        return
    table = [
        (
            emails.get(r.subscriber_id, "?"),
            r.period,
            r.status,
            str(r.attempts),
            r.sent_at.strftime("%Y-%m-%d %H:%M") if r.sent_at else "",
            one_line(r.last_error or "", 50),
        )
        for r in rows
    ]
    _table(("email", "period", "status", "attempts", "sent (UTC)", "last error"), table)


@cli.command("run")
@click.option("--dry-run", is_flag=True, help="Fetch, then show what would be sent.")
@pass_app
def run_command(app: App, dry_run: bool) -> None:
    """Fetch every source; if anything new arrived, rebuild today's editions, the archive
    and the feeds (in [site] out_dir); then send whatever is due now.

    Example: digest run
    """
    from digest.pipeline import run

    with _progress() as bar:
        report = run(
            app.settings,
            app.store,
            now=_now(),
            dry_run=dry_run,
            on_source=lambda r: click.echo(r.summary()),
            on_progress=bar.update,
        )
    _send_report(report.delivery, dry_run, "text")
    if any(r.failed for r in report.sources) or report.delivery.failed:
        raise click.exceptions.Exit(1)


@cli.command()
@click.option("--host", metavar="HOST", help="Address to listen on ([web] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port ([web] port, 8000).")
@pass_app
def serve(app: App, host: str | None, port: int | None) -> None:
    """Serve the web pages: subscribe, confirm, preferences, unsubscribe, archive, feeds.

    Put it behind a reverse proxy for HTTPS (and set [web] trusted_proxies = 1 there).
    DIGEST_SECRET signs the links.

    Example: digest serve --port 8000
    """
    import uvicorn

    from digest.web import create_app

    web = create_app(app.settings, store=app.store)
    uvicorn.run(
        web,
        host=host or app.settings.web.host,
        port=port or app.settings.web.port,
        log_level="info",
        proxy_headers=False,  # the app reads X-Forwarded-For itself ([web] trusted_proxies)
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


def main(argv: Sequence[str] | None = None) -> Any:
    verbose = "-v" in (argv or sys.argv) or "--verbose" in (argv or sys.argv)
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None, prog_name="digest", standalone_mode=False
        )
        if isinstance(result, int):
            sys.exit(result)
        return result
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"Error: {one_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except DigestError as exc:
        if verbose:
            traceback.print_exc()
        click.echo(f"Error: {one_line(str(exc))}", err=True)
        sys.exit(exc.exit_code)
