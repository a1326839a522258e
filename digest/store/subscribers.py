"""Subscribers in the store: who gets which topics, in which state.

The delivery ledger, which refers to them, is in ``ledger``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from digest.store.database import dialect_insert
from digest.store.schema import deliveries, subscribers
from digest.subscribers import Recipient, Subscriber, Subscription


def _subscriber(row: Any) -> Subscriber:
    data = dict(row)
    data["topics"] = tuple(data["topics"])
    return Subscriber(**data)


def upsert(
    conn: Connection, request: Subscription, *, status: str, now: datetime
) -> tuple[Subscriber, bool]:
    """Add a subscriber, or update the one with that address; returns it and if it is new.

    An existing subscriber keeps their status unless ``status`` is ``active`` (an operator
    adding someone who opted in), so re-adding never demotes an active subscriber.
    """
    values: dict[str, Any] = {
        "topics": list(request.topics),
        "frequency": request.frequency,
        "weekday": request.weekday,
        "timezone": request.timezone,
        "hour": request.hour,
        "max_papers": request.max_papers,
    }
    # Insert if new in one statement, so two writers adding one address never both insert.
    inserted = conn.execute(
        dialect_insert(conn)(subscribers)
        .values(
            email=request.email,
            status=status,
            created_at=now,
            confirmed_at=now if status == "active" else None,
            bounces=0,
            **values,
        )
        .on_conflict_do_nothing(index_elements=["email"])
        .execution_options(preserve_rowcount=True)  # psycopg's count of an INSERT
    )
    existing = (
        conn.execute(
            sa.select(subscribers.c.id, subscribers.c.status)
            .where(subscribers.c.email == request.email)
            .with_for_update()
        )
        .mappings()
        .one()
    )
    if inserted.rowcount:
        return get(conn, existing["id"]), True
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


def recipients(conn: Connection, id_range: tuple[int, int] | None = None) -> list[Recipient]:
    """Every active subscriber (with an id in ``id_range``, if given), as delivery needs
    them (no timestamps to decode)."""
    c = subscribers.c
    query = (
        sa.select(c.id, c.email, c.topics, c.frequency, c.weekday, c.timezone, c.hour, c.max_papers)
        .where(c.status == "active")
        .order_by(c.id)
    )
    if id_range is not None:
        query = query.where(c.id.between(*id_range))
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


def update(conn: Connection, subscriber_id: int, values: dict[str, Any]) -> None:
    conn.execute(subscribers.update().where(subscribers.c.id == subscriber_id).values(values))


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
