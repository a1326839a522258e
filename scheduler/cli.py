"""`digest schedule`: the daemon in the foreground (found by `digest` through the
"digest.commands" entry point, so digest itself never imports this package)."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

import click

from digest.cli import App, pass_app


@click.command()
@click.option(
    "--once",
    is_flag=True,
    help="Fetch the due sources, publish, deliver, then exit (for cron users).",
)
@click.option(
    "--list", "show", is_flag=True, help="Show the planned jobs and their next run times, and exit."
)
@pass_app
def schedule(app: App, once: bool, show: bool) -> None:
    """Run the daemon: fetch each source on its schedule, rebuild the site after a fetch
    that brought new papers, and deliver due editions every few minutes.

    One log line per job run. SIGTERM or SIGINT finishes the message in flight and exits.
    Only one daemon runs per database.

    Example: digest schedule --list
    """
    from digest.logs import configure
    from scheduler.daemon import Daemon

    configure(app.settings.log, stderr_level=logging.INFO, timestamps=True)
    daemon = Daemon(app.settings)
    if show:
        daemon.start(paused=True)
        try:
            zone = ZoneInfo(app.settings.site.timezone)
            for job_id, name, when in daemon.listing():
                local = when.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if when else "-"
                utc = when.strftime("%Y-%m-%d %H:%M UTC") if when else "paused"
                click.echo(f"{job_id:<28} next {utc}  ({local})  {name}")
        finally:
            daemon.shutdown()
        return
    if once:
        daemon.run_once()
        return
    daemon.run_forever()
