"""Editions in the store: what each topic's edition of a period picked, and editor pins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from digest.store.database import dialect_insert
from digest.store.schema import edition_items, editions, pins


@dataclass(frozen=True, slots=True)
class EditionRecord:
    topic: str
    period: str
    kind: str
    built_at: datetime
    window_start: datetime
    window_end: datetime
    arrived: int
    candidates: int
    relevant: int
    empty_reason: str | None = None


@dataclass(frozen=True, slots=True)
class EditionItem:
    topic: str
    period: str
    paper_id: str
    position: int
    score: float
    reasons: tuple[str, ...]


def save_edition(conn: Connection, record: EditionRecord, items: Sequence[EditionItem]) -> None:
    """Store an edition, replacing an earlier build of the same topic and period.

    The edition's row is written first, in one upsert: it holds the row until the commit,
    so a second build of the same topic and period waits there, then replaces this one.
    """
    values = {f: getattr(record, f) for f in record.__slots__}
    insert = dialect_insert(conn)(editions).values(values)
    keys = ("topic", "period")
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=list(keys), set_={k: v for k, v in values.items() if k not in keys}
        )
    )
    conn.execute(
        edition_items.delete().where(
            (edition_items.c.topic == record.topic) & (edition_items.c.period == record.period)
        )
    )
    if items:
        conn.execute(
            edition_items.insert(),
            [
                {**{f: getattr(i, f) for f in i.__slots__}, "reasons": list(i.reasons)}
                for i in items
            ],
        )


def list_editions(conn: Connection, topic: str | None = None) -> list[EditionRecord]:
    query = sa.select(editions).order_by(editions.c.period.desc(), editions.c.topic)
    if topic is not None:
        query = query.where(editions.c.topic == topic)
    return [EditionRecord(**row) for row in conn.execute(query).mappings()]


def list_items(
    conn: Connection,
    topic: str,
    period: str | None = None,
    limit: int | None = None,
    also: bool = False,
) -> list[EditionItem]:
    """An edition's picks (positions from 1); with ``also``, the relevant papers below them
    too (negative positions, -1 the best)."""
    query = (
        sa.select(edition_items)
        .where(edition_items.c.topic == topic)
        .order_by(edition_items.c.period.desc(), edition_items.c.position)
    )
    if period is not None:
        query = query.where(edition_items.c.period == period)
    if not also:
        query = query.where(edition_items.c.position > 0)
    if limit is not None:
        query = query.limit(limit)
    return [
        EditionItem(**{**row, "reasons": tuple(row["reasons"])})
        for row in conn.execute(query).mappings()
    ]


def picked_elsewhere(conn: Connection, topic: str, period: str) -> dict[str, str]:
    """Papers already picked for ``topic`` in an edition of another period: id -> period."""
    rows = conn.execute(
        sa.select(edition_items.c.paper_id, edition_items.c.period).where(
            edition_items.c.topic == topic,
            edition_items.c.period != period,
            edition_items.c.position > 0,
        )
    )
    return {paper_id: found for paper_id, found in rows}


def set_pin(conn: Connection, topic: str, paper_id: str, action: str | None, now: datetime) -> None:
    if action is None:
        conn.execute(pins.delete().where(pins.c.topic == topic, pins.c.paper_id == paper_id))
        return
    insert = dialect_insert(conn)(pins).values(
        topic=topic, paper_id=paper_id, action=action, created_at=now
    )
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["topic", "paper_id"], set_={"action": action, "created_at": now}
        )
    )


def list_pins(conn: Connection, topic: str) -> dict[str, str]:
    rows = conn.execute(sa.select(pins.c.paper_id, pins.c.action).where(pins.c.topic == topic))
    return {paper_id: action for paper_id, action in rows}


def rename_paper(conn: Connection, old_id: str, new_id: str) -> None:
    """Point editions and pins at a paper's new id (a title-keyed record that got a real id)."""
    for table in (edition_items, pins):
        conn.execute(table.update().where(table.c.paper_id == old_id).values(paper_id=new_id))
