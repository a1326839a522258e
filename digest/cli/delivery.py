"""Commands that deliver: send, deliveries (the ledger) and run (every stage in order)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from digest.cli.app import App, _now, _table, pass_app
from digest.errors import DigestError
from digest.text import one_line

if TYPE_CHECKING:
    from digest.deliver import SendReport


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


@click.command()
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
@click.option(
    "--no-wait",
    is_flag=True,
    help='With [deliver] mode = "queue": defer the shards and exit without waiting.',
)
@pass_app
def send(
    app: App, period: str | None, dry_run: bool, limit: int | None, fmt: str, no_wait: bool
) -> None:
    """Send the due editions: to every active subscriber whose local send hour has come.

    Each edition goes out once, however often this runs and even when two runs overlap:
    the ledger (see `digest deliveries`) claims it first. Ends with the counts: sent,
    skipped (with reasons), retried, failed, bounced. With [deliver] mode = "queue" it
    defers one job per shard of subscribers to the `digest worker` processes and shows
    the shards done (unless --no-wait).

    Example: digest send --dry-run
    """
    from digest.deliver import send_due

    if app.settings.deliver.mode == "queue" and not dry_run:
        if limit is not None:
            raise DigestError('--limit works with [deliver] mode = "inline" only')
        _send_queued(app, period, no_wait)
        return

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


def _send_queued(app: App, period: str | None, no_wait: bool) -> None:
    from digest.queue.defer import Queue

    queue = Queue(app.settings, app.store)
    try:
        jobs = queue.defer_send(period, now=_now())
        click.echo(f"Deferred {len(jobs)} send jobs (shards of {app.settings.deliver.shard_size}).")
        if no_wait or not jobs:
            return
        with click.progressbar(
            length=len(jobs), label="Shards", file=sys.stderr, show_pos=True
        ) as bar:
            progress = queue.wait(jobs, bar.update)
    finally:
        queue.close()
    click.echo(f"{progress.succeeded} shards done, {progress.failed} failed.")
    if progress.failed:
        raise click.exceptions.Exit(1)


@click.command()
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


@click.command("run")
@click.option("--dry-run", is_flag=True, help="Fetch, then show what would be sent.")
@click.option(
    "--no-wait",
    is_flag=True,
    help='With [deliver] mode = "queue": defer the shards and exit without waiting.',
)
@pass_app
def run_command(app: App, dry_run: bool, no_wait: bool) -> None:
    """Fetch every source; if anything new arrived, rebuild today's editions, the archive
    and the feeds (in [site] out_dir); then send whatever is due now. With [deliver]
    mode = "queue" the sending is deferred to the `digest worker` processes, one job per
    shard, as `digest send` does (and waited for, unless --no-wait).

    Example: digest run
    """
    from digest.pipeline import confirm, fetch_and_publish, run

    if app.settings.deliver.mode == "queue" and not dry_run:
        now = _now()
        fetched = fetch_and_publish(
            app.settings, app.store, now=now, on_source=lambda r: click.echo(r.summary())
        )
        confirm(app.settings, app.store, now=now)
        _send_queued(app, None, no_wait)
        if any(r.failed for r in fetched.sources):
            raise click.exceptions.Exit(1)
        return

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
