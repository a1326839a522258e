"""`digest status` and `digest test-email`: the state of things, and the mail settings
checked."""

from __future__ import annotations

import json

import click

from digest.cli.app import App, _now, pass_app


@click.command()
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@pass_app
def status(app: App, fmt: str) -> None:
    """Show the state of things: each source's last fetch, each topic's last edition, the
    daemon's next runs, the deliveries of the current and previous periods, the
    subscribers, and the problems to fix. The exit code is 1 when there is a problem, so
    monitoring can call it.

    Example: digest status --format json
    """
    from digest.status import gather

    found = gather(app.settings, app.store, _now())
    if fmt == "json":
        click.echo(json.dumps(found.as_json(), indent=2, ensure_ascii=False))
    else:
        for line in found.lines(app.settings.site.timezone):
            click.echo(line)
    if found.problems:
        raise click.exceptions.Exit(1)


@click.command("test-email")
@click.option("--to", "address", required=True, metavar="ADDRESS", help="Who gets the test.")
@click.option("--topic", metavar="SLUG", help="The topic of the sample (default: the first).")
@pass_app
def test_email(app: App, address: str, topic: str | None) -> None:
    """Send a sample edition (today's, of one topic) through the configured transport, to
    check the mail settings. Nothing is recorded in the ledger; a failure says which
    setting to check.

    Example: digest test-email --to me@example.org --topic rl
    """
    from digest.errors import DigestError
    from digest.mailcheck import explain_refusal, send_test_email

    sent = send_test_email(app.settings, app.store, address, topic, _now())
    mail = app.settings.mail
    via = (
        f"SMTP {mail.smtp.host}:{mail.smtp.port}"
        if mail.transport == "smtp"
        else f"the outbox {mail.outbox_dir}"
    )
    if sent.result.status != "sent":
        raise DigestError(explain_refusal(sent.result, app.settings))
    click.echo(
        f"Sent a test edition of {sent.topic} ({sent.picks} picks) from {app.settings.sender} "
        f"to {sent.message.recipient} through {via}"
    )
