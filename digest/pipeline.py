"""The stages in order: fetch, publish, deliver. The CLI and the daemon both run this."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from digest.config import Settings
from digest.deliver import SendReport, send_due
from digest.fetch import SourceReport, fetch_sources
from digest.publish import publish
from digest.store import Store


@dataclass(frozen=True, slots=True)
class RunReport:
    sources: list[SourceReport]
    published: bool
    delivery: SendReport


def run(
    settings: Settings,
    store: Store,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    on_source=None,
    on_progress=None,
) -> RunReport:  # type: ignore[no-untyped-def]
    """Fetch every source; if anything new arrived, rebuild today's editions, the archive
    and the feeds; then send every edition that is due."""
    sources = fetch_sources(settings, store, on_report=on_source)
    moment = now or datetime.now(UTC)
    fresh = any(r.counts.new or r.counts.updated for r in sources)
    if fresh and settings.topics and not dry_run:
        publish(settings, store, moment)
    delivery = send_due(settings, store, now=moment, dry_run=dry_run, on_progress=on_progress)
    return RunReport(sources, fresh and not dry_run, delivery)
