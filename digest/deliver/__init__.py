"""Delivery: every due edition goes out once.

For each due subscriber the edition is composed (``prepare``: from rankings shared by the
run), its ledger row is claimed, the message is handed to the transport, and the outcome
recorded (``dispatch``): the claim is committed before the hand-over and ``sent`` right
after the server accepts, so a crash can leave at most the messages in flight
unrecorded, and the ledger shows them as ``pending`` (a later run sends them again, with
the same Message-ID). 4xx answers and dropped connections are retried within the run
after ``retry_delays`` and then by later runs, up to ``max_attempts``; a 5xx for the
recipient marks the edition ``bounced`` and, after ``bounce_limit`` bounces, the
subscriber too. One recipient's failure never stops the others; a transport that cannot
take anything (server down, login refused) stops the run, and what was not sent is due
again next time. ``plan`` says who is due; ``confirm`` mails the opt-in message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from digest.config import Settings
from digest.deliver.dispatch import Dispatcher
from digest.deliver.prepare import prepare
from digest.deliver.report import SendReport
from digest.store import Store
from digest.tokens import Tokens
from digest.transport import Transport, transport_for

__all__ = ["SendReport", "prune_ledger", "send_due"]

log = logging.getLogger(__name__)


def send_due(
    settings: Settings,
    store: Store,
    *,
    now: datetime,
    period_key: str | None = None,
    dry_run: bool = False,
    limit: int | None = None,
    transport: Transport | None = None,
    tokens: Tokens | None = None,
    on_progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
    sleep: Callable[[float], None] = time.sleep,
    shard: tuple[int, int] | None = None,
    claimant: str | None = None,
    started: datetime | None = None,
) -> SendReport:
    """Send every edition that is due at ``now`` (or for the period ``period_key``);
    ``shard``: only to the subscribers with ids in that range (both ends included), the
    editions composed from the rankings the run kept in the store, and the ledger's
    retention left to the process that deferred the shards; ``claimant``: the name the
    ledger claims carry (default: this host and process); ``started``: the time by the
    clock when sending starts, if not ``now`` (a shard queued by an earlier run)."""
    prepared = prepare(
        settings,
        store,
        now=now,
        period_key=period_key,
        limit=limit,
        shard=shard,
        me=claimant,
        saved=shard is not None,
    )
    report = prepared.report
    if shard is None and not dry_run:
        prune_ledger(settings, store, now)
    if dry_run:
        report.planned = [
            (j.due.subscriber.email, j.due.period.key, len(j.papers)) for j in prepared.jobs
        ]
        return report
    if not prepared.jobs:
        return report
    dispatcher = Dispatcher(
        settings,
        store,
        transport or transport_for(settings),
        tokens or Tokens.from_environment(),
        report,
        now,
        on_progress,
        stop or threading.Event(),
        sleep,
        claimant,
        started,
    )
    dispatcher.run(prepared.jobs)
    return report


def prune_ledger(settings: Settings, store: Store, now: datetime) -> None:
    """Apply ``[mail] retention_days`` to the ledger (each subscriber's latest row stays)."""
    if not settings.mail.retention_days:
        return
    pruned = store.prune_deliveries(now - timedelta(days=settings.mail.retention_days))
    if pruned:
        log.info(
            "deleted %d delivery ledger rows older than %d days",
            pruned,
            settings.mail.retention_days,
        )
