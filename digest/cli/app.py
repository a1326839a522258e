"""What every command shares: the App (settings and store, loaded on first use) and the
small helpers the command families use. Nothing heavy is imported until a command runs."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, time
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar
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
        if settings.log.file or settings.log.format != "text":
            from digest.logs import configure

            configure(settings.log, stderr_level=logging.INFO if self.verbose else logging.WARNING)
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


def _now() -> datetime:
    return datetime.now(UTC)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


T = TypeVar("T")


@contextmanager
def progress(items: Sequence[T], label: str, *, at_least: int = 2) -> Iterator[Iterable[T]]:
    """A progress bar on a terminal's stderr for long work (``at_least`` items); the items
    as they are elsewhere (a log or a pipe gets the result lines only)."""
    stream = sys.stderr
    if len(items) < at_least or not stream.isatty():
        yield items
        return
    with click.progressbar(items, label=label, file=stream) as bar:
        yield bar
