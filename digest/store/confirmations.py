"""The confirmation queue in the store: one row per subscriber asked to confirm.

A row holds the *nonce* of the current opt-in (a confirm link carries it, so a link is
good only for the opt-in it was mailed for) and, while a mail is due, ``queued_at``.
A sender claims due rows (``claimed_at``), sends, and settles each: sent, or back in the
queue with the error, or given up after ``MAX_ATTEMPTS``. A claim older than
``STALE_CLAIM`` (its sender died) is taken over. The rules that fill the queue live in
``digest.subscriptions``; these are the statements they run, on a connection.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from digest.store.database import dialect_insert
from digest.store.schema import confirmations, subscribers

MAX_ATTEMPTS = 5
STALE_CLAIM = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Confirmation:
    subscriber_id: int
    nonce: str
    queued_at: datetime | None = None
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None


def get(conn: Connection, subscriber_id: int) -> Confirmation | None:
    row = (
        conn.execute(sa.select(confirmations).where(confirmations.c.subscriber_id == subscriber_id))
        .mappings()
        .first()
    )
    return Confirmation(**row) if row else None


def start(conn: Connection, subscriber_id: int) -> Confirmation:
    """A new opt-in: a fresh nonce (every older confirm link stops working), nothing sent.

    One upsert, so two opt-ins of one subscriber at once leave one row (the later nonce)."""
    nonce = secrets.token_hex(16)
    fresh = {
        "nonce": nonce,
        "queued_at": None,
        "claimed_at": None,
        "sent_at": None,
        "attempts": 0,
        "last_error": None,
    }
    insert = dialect_insert(conn)(confirmations).values(subscriber_id=subscriber_id, **fresh)
    conn.execute(insert.on_conflict_do_update(index_elements=["subscriber_id"], set_=fresh))
    return Confirmation(subscriber_id, nonce)


def queue(conn: Connection, current: Confirmation, now: datetime) -> None:
    """Make a confirmation mail due for this opt-in."""
    conn.execute(
        confirmations.update()
        .where(confirmations.c.subscriber_id == current.subscriber_id)
        .values(queued_at=now, claimed_at=None, attempts=0, last_error=None)
    )


def queue_clear(conn: Connection, subscriber_id: int) -> None:
    """No mail is due any more (the opt-in was confirmed); the nonce stays valid."""
    conn.execute(
        confirmations.update()
        .where(confirmations.c.subscriber_id == subscriber_id)
        .values(queued_at=None, claimed_at=None)
    )


def drop(conn: Connection, subscriber_id: int) -> None:
    """Forget the opt-in: its confirm links stop working and no mail is due."""
    conn.execute(confirmations.delete().where(confirmations.c.subscriber_id == subscriber_id))


def claim_due(conn: Connection, now: datetime, limit: int = 100) -> list[Confirmation]:
    """Claim the due rows nobody is sending (or whose sender went silent)."""
    c = confirmations.c
    free = sa.or_(c.claimed_at.is_(None), c.claimed_at < now - STALE_CLAIM)
    rows = [
        Confirmation(**r)
        for r in conn.execute(
            sa.select(confirmations)
            .where(c.queued_at.is_not(None), free)
            .order_by(c.queued_at)
            .limit(limit)
        ).mappings()
    ]
    claimed = []
    for row in rows:
        won = conn.execute(
            confirmations.update()
            .where(c.subscriber_id == row.subscriber_id, c.nonce == row.nonce, free)
            .values(claimed_at=now)
        ).rowcount
        if won:
            claimed.append(row)
    return claimed


def settle(
    conn: Connection, row: Confirmation, now: datetime, *, sent: bool, error: str | None = None
) -> None:
    """Record what became of a claimed row: sent, or due again (until MAX_ATTEMPTS)."""
    c = confirmations.c
    mine = sa.and_(c.subscriber_id == row.subscriber_id, c.nonce == row.nonce)
    if sent:
        values = {"queued_at": None, "claimed_at": None, "sent_at": now, "last_error": None}
        # the subscriber's row first, as every opt-in and unsubscribe locks them: two
        # transactions taking the same rows in opposite orders would deadlock on PostgreSQL
        conn.execute(
            subscribers.update()
            .where(subscribers.c.id == row.subscriber_id)
            .values(confirmation_sent_at=now)
        )
        conn.execute(confirmations.update().where(mine).values(values))
        return
    give_up = row.attempts + 1 >= MAX_ATTEMPTS
    conn.execute(
        confirmations.update()
        .where(mine)
        .values(
            claimed_at=None,
            attempts=c.attempts + 1,
            last_error=error,
            queued_at=None if give_up else c.queued_at,
        )
    )
