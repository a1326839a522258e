"""Who is due an edition now.

A subscriber's edition for a period is due once their local send hour has come in their
own time zone: on the period's day for daily editions, on their weekday of the period's
week for weekly ones. Comparing instants, not wall-clock hours, makes daylight-saving days
safe: an hour that does not exist that day is reached when the clocks jump past it, and
an hour that happens twice counts once. The ledger row for (subscriber, period) decides
the rest: sent, given up and bounced editions are done; a ``retry`` is due again at its
time; a ``pending`` claim whose sender is gone (``claims``) is sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from digest.config import Settings
from digest.deliver.claims import Liveness
from digest.periods import Period, current_period, parse_period
from digest.store import Delivery, Store
from digest.subscribers import Recipient

#: The longest gap one edition covers after a long pause.
MAX_WINDOW = timedelta(days=31)


@dataclass(frozen=True, slots=True)
class Due:
    subscriber: Recipient
    period: Period
    window_start: datetime
    existing: Delivery | None = None


@dataclass(slots=True)
class Plan:
    due: list[Due] = field(default_factory=list)
    skipped: list[tuple[Recipient, str]] = field(default_factory=list)
    not_due: int = 0
    done: int = 0


def shards(ids: Sequence[int], size: int) -> list[tuple[int, int]]:
    """Consecutive ranges of ``size`` ids each (the ids sorted), as (first, last)."""
    ordered = sorted(ids)
    return [
        (ordered[i], ordered[min(i + size, len(ordered)) - 1]) for i in range(0, len(ordered), size)
    ]


def send_moment(subscriber: Recipient, period: Period) -> datetime:
    day = period.first_day
    if subscriber.frequency == "weekly":
        day += timedelta(days=subscriber.weekday or 0)
    return datetime.combine(day, time(subscriber.hour), ZoneInfo(subscriber.timezone))


def subscriber_period(
    subscriber: Recipient, now: datetime, key: str | None = None
) -> Period | None:
    """The period of ``key`` in the subscriber's zone (None if of the other frequency)."""
    if key is None:
        return current_period(now, subscriber.frequency, subscriber.timezone)
    period = parse_period(key, subscriber.timezone)
    return period if period.kind == subscriber.frequency else None


def plan(
    settings: Settings,
    store: Store,
    now: datetime,
    *,
    period_key: str | None = None,
    subscribers: Sequence[Recipient] | None = None,
    claimant: str | None = None,
) -> Plan:
    """Who is due at ``now``; ``claimant`` names this sender (its own earlier claims are
    its to take again)."""
    result = Plan()
    active = list(subscribers) if subscribers is not None else store.recipients()
    periods: dict[int, Period] = {}
    moments: dict[int, datetime] = {}
    timing: dict[tuple[str, str, int | None, int], tuple[Period | None, datetime | None]] = {}
    for sub in active:
        key = (sub.frequency, sub.timezone, sub.weekday, sub.hour)
        found = timing.get(key)
        if found is None:  # most subscribers share a schedule: work it out once for each
            period = subscriber_period(sub, now, period_key)
            found = (period, send_moment(sub, period) if period else None)
            timing[key] = found
        if found[0] is not None and found[1] is not None:
            periods[sub.id], moments[sub.id] = found[0], found[1]
    keys = sorted({p.key for p in periods.values()})
    rows: dict[tuple[int, str], Delivery] = {}
    last_end: dict[int, datetime] = {}
    for id_range in shards(list(periods), settings.deliver.shard_size):
        # by id range, as the shards go: never the whole ledger at once
        rows.update(store.delivery_rows(keys, id_range))
        last_end.update(store.last_window_ends(id_range))
    alive = Liveness(store.engine, settings.mail.claim_timeout, claimant)
    for sub in active:
        period = periods.get(sub.id)
        if period is None:
            continue
        if now < moments[sub.id]:
            result.not_due += 1
            continue
        row = rows.get((sub.id, period.key))
        if row is None:
            start = last_end.get(sub.id) or period.start
            result.due.append(Due(sub, period, max(start, now - MAX_WINDOW)))
        elif row.status == "sent":
            result.done += 1
        elif row.status in ("failed", "bounced"):
            result.skipped.append(
                (sub, f"{row.status} after {row.attempts} attempts: {row.last_error}")
            )
        elif row.status == "retry":
            if row.next_attempt_at is None or row.next_attempt_at <= now:
                result.due.append(Due(sub, period, row.window_start, row))
            else:
                result.skipped.append(
                    (
                        sub,
                        f"next retry at {row.next_attempt_at:%H:%M} UTC "
                        f"(last error: {row.last_error})",
                    )
                )
        elif row.status == "pending":
            if alive.abandoned(row, now):
                result.due.append(Due(sub, period, row.window_start, row))
            else:
                result.skipped.append((sub, f"being sent by {row.claimed_by}"))
    return result
