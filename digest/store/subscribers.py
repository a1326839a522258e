"""Subscribers and the delivery ledger in the store.

The ledger has one row per (subscriber, period). A row is inserted, status ``pending``,
right before its message is handed to the transport: the insert is the claim, and two
senders racing for the same edition cannot both win it. The row becomes ``sent`` once the
server accepted the message, ``retry`` after a temporary failure, ``failed`` when the
attempts are used up, ``bounced`` when the server refused the address.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from digest.store.database import dialect_insert
from digest.store.schema import deliveries, subscribers
from digest.subscribers import Subscriber, Subscription

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


def claim(conn: Connection, delivery: Delivery) -> bool:
    """Insert the ledger row for a fresh edition; False if one exists (someone else has it)."""
    values = {f: getattr(delivery, f) for f in Delivery.__slots__}
    values["papers"] = list(delivery.papers)
    stmt = dialect_insert(conn)(deliveries).values(**values)
    stmt = stmt.on_conflict_do_nothing(index_elements=["subscriber_id", "period"])
    return bool(conn.execute(stmt).rowcount)


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
    values: dict[str, Any] = {
        "status": status,
        "attempts": deliveries.c.attempts + 1,
        "last_error": error,
        "next_attempt_at": next_attempt_at,
    }
    if status == "sent":
        values["sent_at"] = now
    conn.execute(
        deliveries.update()
        .where(deliveries.c.subscriber_id == subscriber_id, deliveries.c.period == period)
        .values(values)
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
