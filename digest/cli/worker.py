"""`digest worker`: runs queued jobs (fetch, publish, send shards) on any machine."""

from __future__ import annotations

import logging

import click

from digest.cli.app import App, pass_app


@click.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Jobs run at once (each send job opens [mail.smtp] connections).",
)
@click.option("--name", metavar="NAME", help="The worker's name in logs and ledger claims.")
@pass_app
def worker(app: App, concurrency: int, name: str | None) -> None:
    """Run queued jobs: fetch a source, publish a day, send a shard of due subscribers.

    Needs a PostgreSQL [store] url; start any number, on any machine that reaches it.
    A worker that dies has its jobs and ledger claims taken over by the others within a
    minute. SIGTERM or SIGINT finishes the message in flight, then exits 0.

    Example: digest worker --concurrency 2 --name mail-1
    """
    from digest.logs import configure
    from digest.queue import conninfo
    from digest.queue.worker import run_worker

    conninfo(app.settings.store.url)  # one line for a store that is not PostgreSQL
    configure(app.settings.log, stderr_level=logging.INFO, timestamps=True)
    run_worker(app.settings, concurrency=concurrency, name=name)
