"""Fetch every configured source into the store; a failing source never stops the others."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from digest.config import Settings, SourceSettings
from digest.errors import DigestError
from digest.http import HttpClient
from digest.sources import ADAPTERS, SOURCE_PRIORITY, FetchContext
from digest.store import IngestCounts, SourceState, Store
from digest.text import one_line

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SourceReport:
    """The outcome of fetching one source."""

    name: str
    kind: str
    status: str  # "ok", "not-modified" or "failed"
    counts: IngestCounts = IngestCounts()
    error: str | None = None
    note: str | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def summary(self) -> str:
        """One line for the operator."""
        if self.failed:
            return f"{self.name}: failed: {self.error}"
        c = self.counts
        line = f"{self.name}: {c.new} new, {c.updated} updated, {c.unchanged} unchanged"
        extras = []
        if c.replacements:
            extras.append(f"{c.replacements} of the new are replacements")
        if self.note:
            extras.append(self.note)
        return line + (f" ({'; '.join(extras)})" if extras else "")

    def as_json(self) -> dict[str, object]:
        return {
            "source": self.name,
            "kind": self.kind,
            "status": self.status,
            "new": self.counts.new,
            "updated": self.counts.updated,
            "unchanged": self.counts.unchanged,
            "replacements": self.counts.replacements,
            "error": self.error,
            "note": self.note,
            "seconds": round(self.seconds, 3),
        }


def fetch_sources(
    settings: Settings,
    store: Store,
    *,
    names: Sequence[str] | None = None,
    http: HttpClient | None = None,
    now: Callable[[], datetime] | None = None,
    on_report: Callable[[SourceReport], None] | None = None,
) -> list[SourceReport]:
    """Fetch the named sources (default: every enabled one) and store what they list."""
    chosen = (
        [settings.source(n) for n in names] if names else [s for s in settings.sources if s.enabled]
    )
    clock = now or (lambda: datetime.now(UTC))
    own_client = http is None
    client = http or HttpClient(settings.fetch)
    reports: list[SourceReport] = []
    try:
        for source in chosen:
            client.label = source.name
            report = fetch_source(source, settings, store, client, clock)
            log.debug(report.summary())  # the caller says it: the CLI, the daemon
            reports.append(report)
            if on_report:
                on_report(report)
    finally:
        if own_client:
            client.close()
    return reports


def fetch_source(
    source: SourceSettings,
    settings: Settings,
    store: Store,
    http: HttpClient,
    clock: Callable[[], datetime],
) -> SourceReport:
    started = time.perf_counter()
    state = store.source_state(source.name)
    attempt = clock()
    adapter = ADAPTERS[source.kind]
    try:
        result = adapter.fetch(source, FetchContext(http, settings.fetch, state))
        now = clock()
        if result.not_modified:
            counts = IngestCounts(unchanged=store.listed_count(source.name, state.listed_at))
        else:
            counts = store.ingest(source.name, SOURCE_PRIORITY[source.kind], result.papers, now)
    except DigestError as exc:
        return _failed(source, store, state, attempt, one_line(str(exc), 300), started)
    except Exception as exc:  # an adapter bug must not take the other sources down
        log.exception("unexpected error while fetching %s", source.name)
        reason = f"unexpected {type(exc).__name__}: {one_line(str(exc), 200)}"
        return _failed(source, store, state, attempt, reason, started)
    store.save_source_state(
        replace(
            state,
            etag=result.etag,
            last_modified=result.last_modified,
            content_hash=result.content_hash,
            listed_at=state.listed_at if result.not_modified else now,
            last_attempt=attempt,
            last_success=now,
            last_error=None,
            last_new=counts.new,
            last_updated=counts.updated,
        )
    )
    return SourceReport(
        source.name,
        source.kind,
        "not-modified" if result.not_modified else "ok",
        counts,
        note=result.note,
        seconds=time.perf_counter() - started,
    )


def _failed(
    source: SourceSettings,
    store: Store,
    state: SourceState,
    attempt: datetime,
    reason: str,
    started: float,
) -> SourceReport:
    store.save_source_state(replace(state, last_attempt=attempt, last_error=reason))
    return SourceReport(
        source.name, source.kind, "failed", error=reason, seconds=time.perf_counter() - started
    )
