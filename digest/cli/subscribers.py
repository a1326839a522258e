"""`digest subscribers …`: add, list, remove, import and export subscribers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest.cli.app import App, _now, _table, pass_app, progress
from digest.errors import InputError
from digest.subscribers import FREQUENCIES, STATUSES, WEEKDAYS

if TYPE_CHECKING:
    from digest.subscribers import Subscriber


@click.group()
def subscribers() -> None:
    """Add, list, remove, import and export subscribers.

    Example: digest subscribers list --status pending
    """


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
    from digest.subscribers import normalize_email

    address = normalize_email(email)
    from digest import subscriptions

    if not subscriptions.remove(app.store, address):
        raise InputError(f"no subscriber {address!r}")
    click.echo(f"Removed {address}")


@subscribers.command("resend-confirmation")
@click.argument("email")
@pass_app
def subscribers_resend_confirmation(app: App, email: str) -> None:
    """Send a pending subscriber's confirmation mail again (after a failed send or a lost
    mail); the exit code is 1 if it could not be sent.

    Example: digest subscribers resend-confirmation ada@example.org
    """
    from digest import subscriptions
    from digest.subscribers import normalize_email
    from digest.tokens import Tokens

    Tokens.from_environment()  # the confirmation link needs it: fail before queueing
    subscriber = subscriptions.resend_confirmation(app.store, normalize_email(email), _now())
    outcome = _send_queued(app, subscriber)
    click.echo(f"{subscriber.email}: {outcome}")
    if outcome != "confirmation sent":
        raise click.exceptions.Exit(1)


@subscribers.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--pending",
    is_flag=True,
    help="Import as pending and send confirmation mails (default: active, for "
    "people who opted in already).",
)
@click.option(
    "--topics",
    metavar="SLUGS",
    help="Topics for rows without any (a file with no topics column, such as another "
    "tool's export), comma-separated.",
)
@pass_app
def subscribers_import(app: App, file: str, pending: bool, topics: str | None) -> None:
    """Import subscribers from a CSV file (columns email,topics,frequency,timezone,hour;
    optional weekday,max_papers). Bad rows are reported by line number and skipped.

    Exports of Buttondown, Substack and listmonk are read as they are: their email,
    status (or subscribed) and created columns are understood, people who are not
    subscribed there are left out, and --topics gives everybody their topics.

    Example: digest subscribers import buttondown-export.csv --topics rl,nlp
    """
    from digest.subscribers import read_csv

    try:
        text = Path(file).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{file} is not UTF-8 text: {exc.reason}") from None
    if pending:
        from digest.tokens import Tokens

        Tokens.from_environment()
    from digest import subscriptions

    rows = list(read_csv(app.settings, text, topics))
    added = updated = bad = left_out = 0
    queued = False
    with progress(rows, f"Importing {len(rows)} rows", at_least=50) as bar:
        for row in bar:
            if row.left_out is not None:
                left_out += 1
                click.echo(f"{file}:{row.line}: left out: {row.left_out}", err=True)
                continue
            if row.subscription is None:
                bad += 1
                click.echo(f"{file}:{row.line}: skipped: {row.error}", err=True)
                continue
            outcome = subscriptions.add(
                app.store, row.subscription, row.created or _now(), active=not pending
            )
            added += outcome.created
            updated += not outcome.created
            queued = queued or outcome.queued
    if queued:
        _send_queued(app, None)
    note = f", {left_out} left out (not subscribed in the file)" if left_out else ""
    click.echo(f"Imported {file}: {added} added, {updated} updated, {bad} skipped{note}")
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
