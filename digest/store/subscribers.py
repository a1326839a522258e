"""Subscribers and the delivery ledger in the store.

The ledger has one row per (subscriber, period). A row is inserted, status ``pending``,
right before its message is handed to the transport: the insert is the claim, and two
senders racing for the same edition cannot both win it. The row becomes ``sent`` once the
server accepted the message, ``retry`` after a temporary failure, ``failed`` when the
attempts are used up, ``bounced`` when the server refused the address.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from digest.store.schema import UTCDateTime, deliveries, subscribers
from digest.subscribers import Recipient, Subscriber, Subscription

OPEN_STATUSES = ("sent", "pending", "retry")


@dataclass(frozen=True, slots=True)
class Delivery:
    subscriber_id: int
    period: str
    status: str
    attempts: int
    last_error: str | None
    message_id: str
    papers: tuple[str, ...]
    window_start: datetime
    window_end: datetime
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None


def _subscriber(row: Any) -> Subscriber:
    data = dict(row)
    data["topics"] = tuple(data["topics"])
    return Subscriber(**data)


def _delivery(row: Any) -> Delivery:
    data = dict(row)
    data["papers"] = tuple(data["papers"])
    return Delivery(**data)


def upsert(
    conn: Connection, request: Subscription, *, status: str, now: datetime
) -> tuple[Subscriber, bool]:
    """Add a subscriber, or update the one with that address; returns it and if it is new.

    An existing subscriber keeps their status unless ``status`` is ``active`` (an operator
    adding someone who opted in), so re-adding never demotes an active subscriber.
    """
    values = {
        "topics": list(request.topics),
        "frequency": request.frequency,
        "weekday": request.weekday,
        "timezone": request.timezone,
        "hour": request.hour,
        "max_papers": request.max_papers,
    }
    existing = (
        conn.execute(sa.select(subscribers).where(subscribers.c.email == request.email))
        .mappings()
        .first()
    )
    if existing is None:
        confirmed = now if status == "active" else None
        result = conn.execute(
            subscribers.insert().values(
                email=request.email,
                status=status,
                created_at=now,
                confirmed_at=confirmed,
                bounces=0,
                **values,
            )
        )
        return get(conn, result.inserted_primary_key[0]), True
    if status == "active" and existing["status"] != "active":
        values.update(status="active", confirmed_at=now, unsubscribed_at=None, bounces=0)
    conn.execute(subscribers.update().where(subscribers.c.id == existing["id"]).values(values))
    return get(conn, existing["id"]), False


def get(conn: Connection, subscriber_id: int) -> Subscriber:
    row = (
        conn.execute(sa.select(subscribers).where(subscribers.c.id == subscriber_id))
        .mappings()
        .one()
    )
    return _subscriber(row)


def find(conn: Connection, email: str) -> Subscriber | None:
    row = (
        conn.execute(sa.select(subscribers).where(subscribers.c.email == email)).mappings().first()
    )
    return _subscriber(row) if row else None


def list_all(
    conn: Connection, status: str | None = None, ids: Iterable[int] | None = None
) -> list[Subscriber]:
    query = sa.select(subscribers).order_by(subscribers.c.id)
    if status is not None:
        query = query.where(subscribers.c.status == status)
    if ids is not None:
        query = query.where(subscribers.c.id.in_(list(ids)))
    return [_subscriber(r) for r in conn.execute(query).mappings()]


def recipients(conn: Connection) -> list[Recipient]:
    """Every active subscriber, as delivery needs them (no timestamps to decode)."""
    c = subscribers.c
    query = (
        sa.select(c.id, c.email, c.topics, c.frequency, c.weekday, c.timezone, c.hour, c.max_papers)
        .where(c.status == "active")
        .order_by(c.id)
    )
    return [
        Recipient(i, e, tuple(t), f, w, z, h, m) for i, e, t, f, w, z, h, m in conn.execute(query)
    ]


def remove(conn: Connection, email: str) -> bool:
    found = find(conn, email)
    if found is None:
        return False
    conn.execute(deliveries.delete().where(deliveries.c.subscriber_id == found.id))
    conn.execute(subscribers.delete().where(subscribers.c.id == found.id))
    return True


def set_status(conn: Connection, subscriber_id: int, status: str, now: datetime) -> None:
    values: dict[str, Any] = {"status": status}
    if status == "active":
        values.update(confirmed_at=now, unsubscribed_at=None, bounces=0)
    elif status == "unsubscribed":
        values["unsubscribed_at"] = now
    conn.execute(subscribers.update().where(subscribers.c.id == subscriber_id).values(values))


def record_bounce(conn: Connection, subscriber_id: int, limit: int) -> str:
    """Count a bounce; at ``limit`` the subscriber is ``bounced``. Returns the new status."""
    conn.execute(
        subscribers.update()
        .where(subscribers.c.id == subscriber_id)
        .values(bounces=subscribers.c.bounces + 1)
    )
    row = conn.execute(
        sa.select(subscribers.c.bounces, subscribers.c.status).where(
            subscribers.c.id == subscriber_id
        )
    ).one()
    if row.bounces >= limit and row.status == "active":
        conn.execute(
            subscribers.update().where(subscribers.c.id == subscriber_id).values(status="bounced")
        )
        return "bounced"
    return row.status


# the ledger


CLAIM_SQL = (
    "INSERT INTO deliveries (subscriber_id, period, status, attempts, last_error, message_id, "
    "papers, window_start, window_end, claimed_by, claimed_at) VALUES (:subscriber_id, "
    ":period, 'pending', 0, NULL, :message_id, :papers, :window_start, :window_end, "
    ":claimed_by, :claimed_at) ON CONFLICT (subscriber_id, period) DO NOTHING"
)
FINISH_SQL = (
    "UPDATE deliveries SET status = :status, attempts = attempts + 1, last_error = :error, "
    "next_attempt_at = :next_attempt_at, sent_at = COALESCE(:sent_at, sent_at) "
    "WHERE subscriber_id = :subscriber_id AND period = :period"
)
_TIMES = ("window_start", "window_end", "claimed_at", "next_attempt_at", "sent_at")
_CLAIM = sa.text(CLAIM_SQL).bindparams(
    sa.bindparam("papers", type_=sa.JSON), *(sa.bindparam(n, type_=UTCDateTime) for n in _TIMES[:3])
)
_FINISH = sa.text(FINISH_SQL).bindparams(*(sa.bindparam(n, type_=UTCDateTime) for n in _TIMES[3:]))


def claim_params(delivery: Delivery, raw: bool = True) -> dict[str, Any]:
    """The claim's parameters; ``raw``: as SQLite stores them (for plain DB-API calls)."""
    params: dict[str, Any] = {
        "subscriber_id": delivery.subscriber_id,
        "period": delivery.period,
        "message_id": delivery.message_id,
        "papers": [list(p) for p in delivery.papers],
        "window_start": delivery.window_start,
        "window_end": delivery.window_end,
        "claimed_by": delivery.claimed_by,
        "claimed_at": delivery.claimed_at,
    }
    return _sqlite_values(params) if raw else params


def finish_params(outcome: Outcome, raw: bool = True) -> dict[str, Any]:
    params: dict[str, Any] = {
        "status": outcome.status,
        "error": outcome.error,
        "next_attempt_at": outcome.next_attempt_at,
        "sent_at": outcome.now if outcome.status == "sent" else None,
        "subscriber_id": outcome.subscriber_id,
        "period": outcome.period,
    }
    return _sqlite_values(params) if raw else params


def _sqlite_values(params: dict[str, Any]) -> dict[str, Any]:
    """Values in the form SQLAlchemy writes them to SQLite (UTC text, JSON text)."""
    for name in _TIMES:
        value = params.get(name)
        if value is not None:
            params[name] = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if "papers" in params:
        params["papers"] = json.dumps(params["papers"])
    return params


def claim(conn: Connection, delivery: Delivery) -> bool:
    """Insert the ledger row for a fresh edition; False if one exists (someone else has it)."""
    return bool(conn.execute(_CLAIM, claim_params(delivery, raw=False)).rowcount)


def reclaim(conn: Connection, current: Delivery, claimed_by: str, now: datetime) -> bool:
    """Take over a ``retry`` row or a stale ``pending`` one, if nobody changed it meanwhile."""
    conditions = [
        deliveries.c.subscriber_id == current.subscriber_id,
        deliveries.c.period == current.period,
        deliveries.c.status == current.status,
    ]
    if current.claimed_at is None:
        conditions.append(deliveries.c.claimed_at.is_(None))
    else:
        conditions.append(deliveries.c.claimed_at == current.claimed_at)
    result = conn.execute(
        deliveries.update()
        .where(*conditions)
        .values(status="pending", claimed_by=claimed_by, claimed_at=now)
    )
    return bool(result.rowcount)


def finish(
    conn: Connection,
    subscriber_id: int,
    period: str,
    *,
    status: str,
    now: datetime,
    error: str | None = None,
    next_attempt_at: datetime | None = None,
) -> None:
    """Record what became of a claimed edition."""
    conn.execute(
        _FINISH,
        finish_params(
            Outcome(subscriber_id, period, status, now, error, next_attempt_at), raw=False
        ),
    )


def ledger(
    conn: Connection, period: str | None = None, subscriber_ids: Sequence[int] | None = None
) -> list[Delivery]:
    query = sa.select(deliveries).order_by(deliveries.c.period, deliveries.c.subscriber_id)
    if period is not None:
        query = query.where(deliveries.c.period == period)
    if subscriber_ids is not None:
        query = query.where(deliveries.c.subscriber_id.in_(list(subscriber_ids)))
    return [_delivery(r) for r in conn.execute(query).mappings()]


def rows_for(conn: Connection, periods: Iterable[str]) -> dict[tuple[int, str], Delivery]:
    keys = sorted(set(periods))
    if not keys:
        return {}
    rows = conn.execute(sa.select(deliveries).where(deliveries.c.period.in_(keys))).mappings()
    return {(r["subscriber_id"], r["period"]): _delivery(r) for r in rows}


def last_window_ends(conn: Connection) -> dict[int, datetime]:
    """Per subscriber, where their latest edition that went (or is going) out ended."""
    query = (
        sa.select(deliveries.c.subscriber_id, sa.func.max(deliveries.c.window_end))
        .where(deliveries.c.status.in_(OPEN_STATUSES))
        .group_by(deliveries.c.subscriber_id)
    )
    return {sid: end for sid, end in conn.execute(query)}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a claimed edition, for ``finish`` (and a bounce to count)."""

    subscriber_id: int
    period: str
    status: str
    now: datetime
    error: str | None = None
    next_attempt_at: datetime | None = None
    bounce_limit: int | None = None


def settle(conn: Connection, outcome: Outcome) -> None:
    finish(
        conn,
        outcome.subscriber_id,
        outcome.period,
        status=outcome.status,
        now=outcome.now,
        error=outcome.error,
        next_attempt_at=outcome.next_attempt_at,
    )
    if outcome.status == "bounced" and outcome.bounce_limit is not None:
        record_bounce(conn, outcome.subscriber_id, outcome.bounce_limit)
