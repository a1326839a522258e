"""The stages in order: fetch, publish, deliver. The one place that runs them: the CLI's
``digest run`` calls :func:`run`, the daemon's jobs call :func:`fetch_and_publish` and
:func:`deliver`, the queue workers' jobs :func:`fetch_and_publish`, :func:`publish_day`
and :func:`send_shard`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from digest.compose import Composition
from digest.config import Settings
from digest.deliver import SendReport, send_due
from digest.fetch import SourceReport, fetch_sources
from digest.publish import publish
from digest.store import Store
from digest.tokens import Tokens
from digest.transport import Transport


@dataclass(frozen=True, slots=True)
class FetchReport:
    """What a fetch brought, and the editions it published (None: nothing new, or a dry run)."""

    sources: list[SourceReport]
    published: Composition | None

    @property
    def fresh(self) -> bool:
        return any(r.counts.new or r.counts.updated for r in self.sources)


@dataclass(frozen=True, slots=True)
class RunReport:
    sources: list[SourceReport]
    published: bool
    delivery: SendReport


def _clock(now: datetime | Callable[[], datetime] | None) -> Callable[[], datetime]:
    if now is None:
        return lambda: datetime.now(UTC)
    if isinstance(now, datetime):
        return lambda: now
    return now


def fetch_and_publish(
    settings: Settings,
    store: Store,
    *,
    names: Sequence[str] | None = None,
    now: datetime | Callable[[], datetime] | None = None,
    dry_run: bool = False,
    on_source: Callable[[SourceReport], None] | None = None,
) -> FetchReport:
    """Fetch the named sources (default: every enabled one); if anything new arrived,
    rebuild today's editions, the archive and the feeds."""
    clock = _clock(now)
    sources = fetch_sources(settings, store, names=names, now=clock, on_report=on_source)
    report = FetchReport(sources, None)
    if report.fresh and settings.topics and not dry_run:
        report = FetchReport(sources, publish(settings, store, clock()))
    return report


def deliver(
    settings: Settings,
    store: Store,
    *,
    now: datetime,
    dry_run: bool = False,
    period_key: str | None = None,
    limit: int | None = None,
    transport: Transport | None = None,
    tokens: Tokens | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> SendReport:
    """Send the queued confirmation mails, then every edition that is due at ``now``; the
    ledger keeps each edition to one send."""
    if not dry_run:
        transport, tokens = confirm(settings, store, now=now, transport=transport, tokens=tokens)
    return send_due(
        settings,
        store,
        now=now,
        period_key=period_key,
        dry_run=dry_run,
        limit=limit,
        transport=transport,
        tokens=tokens,
        stop=stop,
        on_progress=on_progress,
    )


def confirm(
    settings: Settings,
    store: Store,
    *,
    now: datetime,
    transport: Transport | None = None,
    tokens: Tokens | None = None,
) -> tuple[Transport, Tokens]:
    """Send the queued confirmation mails; the transport and tokens it used."""
    from digest.deliver.confirm import send_pending_confirmations
    from digest.transport import transport_for

    transport = transport or transport_for(settings)
    tokens = tokens or Tokens.from_environment()
    send_pending_confirmations(settings, store, transport, tokens, now)
    return transport, tokens


def publish_day(
    settings: Settings, store: Store, day: date, *, now: datetime | None = None
) -> Composition:
    """Rebuild one day's editions (in the site's time zone), the archive and the feeds."""
    moment = now or datetime.now(UTC)
    zone = ZoneInfo(settings.site.timezone)
    end = datetime.combine(day + timedelta(days=1), time(), zone) - timedelta(microseconds=1)
    return publish(settings, store, min(moment, end.astimezone(UTC)))


def send_shard(
    settings: Settings,
    store: Store,
    first: int,
    last: int,
    *,
    now: datetime,
    claimant: str,
    period_key: str | None = None,
    transport: Transport | None = None,
    tokens: Tokens | None = None,
    stop: threading.Event | None = None,
) -> SendReport:
    """Send the editions due at ``now`` (the moment of the run that deferred the shard) to
    the subscribers with ids ``first``..``last``, the ledger claims in ``claimant``'s name
    and stamped with the time they are made."""
    return send_due(
        settings,
        store,
        now=now,
        period_key=period_key,
        transport=transport,
        tokens=tokens,
        stop=stop,
        shard=(first, last),
        claimant=claimant,
        started=datetime.now(UTC),
    )


def run(
    settings: Settings,
    store: Store,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    on_source: Callable[[SourceReport], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> RunReport:
    """Fetch every source; if anything new arrived, rebuild today's editions, the archive
    and the feeds; then send every edition that is due."""
    moment = now or datetime.now(UTC)
    fetched = fetch_and_publish(settings, store, now=moment, dry_run=dry_run, on_source=on_source)
    delivery = deliver(settings, store, now=moment, dry_run=dry_run, on_progress=on_progress)
    return RunReport(fetched.sources, fetched.published is not None, delivery)
