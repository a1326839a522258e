"""What every command shares: the App (settings and store, loaded on first use) and the
small helpers the command families use. Nothing heavy is imported until a command runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time
from functools import cached_property
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from digest.config import DEFAULT_CONFIG_NAME, Settings, load_settings
from digest.errors import InputError

if TYPE_CHECKING:
    from digest.store import Store


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
            from digest.store import Store

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


def log_to_stderr(*quiet: str) -> None:
    """One log line per event on stderr, for the long-running commands; the libraries in
    ``quiet`` say warnings only."""
    import logging
    import sys

    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        force=True,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)


def _now() -> datetime:
    return datetime.now(UTC)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
