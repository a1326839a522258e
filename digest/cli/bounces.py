"""`digest bounces …`: bounces that arrived after the SMTP session."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.app import App, _now, pass_app


@click.group()
def bounces() -> None:
    """Count the bounces that arrive later, as delivery status notifications.

    Example: digest bounces import ~/Maildir/.bounces
    """


@bounces.command("import")
@click.argument("path", type=click.Path(exists=True))
@pass_app
def bounces_import(app: App, path: str) -> None:
    """Read a Maildir or an mbox of delivery status notifications and count each address
    that failed for good like a 5xx answer during the session (after [mail] bounce_limit
    bounces it is no longer mailed). Reading the same mailbox again counts nothing twice.

    Example: digest bounces import bounces.mbox
    """
    from digest.bounces import import_bounces

    report = import_bounces(app.settings, app.store, Path(path), _now())
    for line in report.unmatched:
        click.echo(f"not counted: {line}", err=True)
    click.echo(f"{path}: {report.summary()}")
