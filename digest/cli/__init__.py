"""The ``digest`` command: thin click commands over the library.

Errors the project raises on purpose become one ``Error: …`` line on stderr and a
non-zero exit code (2 for bad configuration or input, 1 for failed work); the
traceback is shown only with ``--verbose``.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from digest import __version__
from digest.cli import bounces, delivery, papers, serve, status, subscribers
from digest.cli.app import App, pass_app
from digest.config import DEFAULT_CONFIG_NAME, STARTER_CONFIG
from digest.errors import DigestError, InputError
from digest.text import one_line

__all__ = ["App", "cli", "main", "pass_app"]


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
    from digest.logs import configure

    configure(None, stderr_level=logging.INFO if verbose else logging.WARNING)
    app = App(config_path, verbose)
    ctx.obj = app
    ctx.call_on_close(app.close)


@cli.command()
@click.argument("path", required=False, metavar="[PATH]")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option(
    "--sample",
    is_flag=True,
    help="Write the demo's settings instead: the shipped sample listings and topics, with "
    "the store, site and outbox beside the file.",
)
@click.pass_context
def init(ctx: click.Context, path: str | None, force: bool, sample: bool) -> None:
    """Write a commented starter configuration file.

    Example: digest init            (writes ./digest.toml)
    """
    from digest.config import demo_config

    app: App = ctx.obj
    target = Path(path or app.config_path or DEFAULT_CONFIG_NAME)
    if target.exists() and not force:
        raise InputError(f"{target} exists already (use --force to overwrite it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(demo_config() if sample else STARTER_CONFIG, encoding="utf-8")
    click.echo(f"Wrote {target}. Edit its sources and topics, then run 'digest fetch'.")


for _command in (
    papers.fetch,
    papers.papers,
    papers.rank,
    papers.preview,
    papers.pin,
    papers.drop,
    subscribers.subscribers,
    bounces.bounces,
    status.status,
    status.test_email,
    delivery.send,
    delivery.deliveries,
    delivery.run_command,
    serve.serve,
):
    cli.add_command(_command)


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
