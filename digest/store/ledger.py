"""The delivery ledger: one row per (subscriber, period), so no edition goes out twice.

A row is inserted, status ``pending``, right before its message is handed to the
transport: the insert is the claim, and two senders racing for the same edition cannot
both win it. The row becomes ``sent`` once the server accepted the message, ``retry``
after a temporary failure, ``failed`` when the attempts are used up, ``bounced`` when
the server refused the address.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from digest.store.schema import UTCDateTime, deliveries, subscribers
from digest.store.subscribers import record_bounce

#: The statuses of an edition that went, or is going, out.
OPEN_STATUSES = ("sent", "pending", "retry")

#: What an edition holds, in order: (topic slug, paper id) pairs.
EditionPapers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row of the ledger: a subscriber's edition for one period."""

    subscriber_id: int
    period: str
    status: str
    attempts: int
    last_error: str | None
    message_id: str
    papers: EditionPapers
    window_start: datetime
    window_end: datetime
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a claimed edition (and, for a bounce, the limit to count it by)."""

    subscriber_id: int
    period: str
    status: str
    now: datetime
    error: str | None = None
    next_attempt_at: datetime | None = None
    bounce_limit: int | None = None


def _delivery(row: Any) -> Delivery:
    data = dict(row)
    data["papers"] = tuple((str(topic), str(paper)) for topic, paper in data["papers"])
    return Delivery(**data)


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
#: The same statements with psycopg's placeholders (``%(name)s``), for its fast path; and
#: both as one statement (the outcome in a CTE, its parameters named ``done_…``), so the
#: common step is one statement, one round trip and one commit.
PSYCOPG_CLAIM_SQL = re.sub(r":(\w+)", r"%(\1)s", CLAIM_SQL).replace(
    "%(papers)s", "%(papers)s::json"
)
PSYCOPG_FINISH_SQL = re.sub(r":(\w+)", r"%(\1)s", FINISH_SQL)
PSYCOPG_STEP_SQL = (
    "WITH done AS (" + re.sub(r":(\w+)", r"%(done_\1)s", FINISH_SQL) + ") " + PSYCOPG_CLAIM_SQL
)
_TIMES = ("window_start", "window_end", "claimed_at", "next_attempt_at", "sent_at")
_CLAIM = (
    sa.text(CLAIM_SQL)
    .bindparams(
        sa.bindparam("papers", type_=sa.JSON),
        *(sa.bindparam(n, type_=UTCDateTime) for n in _TIMES[:3]),
    )
    .execution_options(preserve_rowcount=True)  # psycopg's count of an INSERT
)
_FINISH = sa.text(FINISH_SQL).bindparams(*(sa.bindparam(n, type_=UTCDateTime) for n in _TIMES[3:]))


def claim_params(delivery: Delivery, form: str | None = "sqlite") -> dict[str, Any]:
    """The claim's parameters; ``form``: as a plain DB-API call passes them to "sqlite"
    or "psycopg" (None: as SQLAlchemy takes them)."""
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
    return _raw_values(params, form)


def finish_params(outcome: Outcome, form: str | None = "sqlite") -> dict[str, Any]:
    params: dict[str, Any] = {
        "status": outcome.status,
        "error": outcome.error,
        "next_attempt_at": outcome.next_attempt_at,
        "sent_at": outcome.now if outcome.status == "sent" else None,
        "subscriber_id": outcome.subscriber_id,
        "period": outcome.period,
    }
    return _raw_values(params, form)


def _raw_values(params: dict[str, Any], form: str | None) -> dict[str, Any]:
    """Values in the form SQLAlchemy writes them: UTC text and JSON text for SQLite, naive
    UTC times and a JSON value for psycopg."""
    if form is None:
        return params
    for name in _TIMES:
        value = params.get(name)
        if value is not None:
            value = value.astimezone(UTC)
            params[name] = (
                value.strftime("%Y-%m-%d %H:%M:%S.%f")
                if form == "sqlite"
                else value.replace(tzinfo=None)
            )
    if "papers" in params:
        params["papers"] = json.dumps(params["papers"])
    return params


def claim_edition(conn: Connection, delivery: Delivery) -> bool:
    """Insert the ledger row for a fresh edition; False if one exists (someone else has it)."""
    return bool(conn.execute(_CLAIM, claim_params(delivery, None)).rowcount)


def reclaim_edition(conn: Connection, current: Delivery, claimed_by: str, now: datetime) -> bool:
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


def settle(conn: Connection, outcome: Outcome) -> None:
    """Record what became of a claimed edition, and count a bounce against its address."""
    conn.execute(_FINISH, finish_params(outcome, None))
    if outcome.status == "bounced" and outcome.bounce_limit is not None:
        record_bounce(conn, outcome.subscriber_id, outcome.bounce_limit)


def rows(
    conn: Connection, period: str | None = None, subscriber_ids: Sequence[int] | None = None
) -> list[Delivery]:
    query = sa.select(deliveries).order_by(deliveries.c.period, deliveries.c.subscriber_id)
    if period is not None:
        query = query.where(deliveries.c.period == period)
    if subscriber_ids is not None:
        query = query.where(deliveries.c.subscriber_id.in_(list(subscriber_ids)))
    return [_delivery(r) for r in conn.execute(query).mappings()]


def rows_for(
    conn: Connection, periods: Iterable[str], id_range: tuple[int, int] | None = None
) -> dict[tuple[int, str], Delivery]:
    keys = sorted(set(periods))
    if not keys:
        return {}
    query = sa.select(deliveries).where(deliveries.c.period.in_(keys))
    if id_range is not None:
        query = query.where(deliveries.c.subscriber_id.between(*id_range))
    found = conn.execute(query).mappings()
    return {(r["subscriber_id"], r["period"]): _delivery(r) for r in found}


def last_window_ends(
    conn: Connection, id_range: tuple[int, int] | None = None
) -> dict[int, datetime]:
    """Per subscriber (those with ids in ``id_range``, both ends included, if given), where
    their latest edition that went (or is going) out ended.

    One index lookup per subscriber (``ix_deliveries_window``, newest first, the first
    open row), not a pass over the whole ledger, which grows by a row per edition sent.
    """
    query = last_window_ends_query(id_range)
    return {sid: end for sid, end in conn.execute(query) if end is not None}


def last_window_ends_query(id_range: tuple[int, int] | None = None) -> sa.Select[Any]:
    d = deliveries.c
    latest = (
        sa.select(d.window_end)
        .where(d.subscriber_id == subscribers.c.id, d.status.in_(OPEN_STATUSES))
        .order_by(d.window_end.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = sa.select(subscribers.c.id, latest)
    if id_range is not None:
        query = query.where(subscribers.c.id.between(*id_range))
    return query


def prune(conn: Connection, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` rows of editions whose window ended before ``before``; each
    subscriber's latest edition that went out stays (the next one starts where it ended).
    Returns how many rows went."""
    old, newer = deliveries.alias("old"), deliveries.alias("newer")
    superseded = sa.exists().where(
        newer.c.subscriber_id == old.c.subscriber_id,
        newer.c.window_end > old.c.window_end,
        newer.c.status.in_(OPEN_STATUSES),
    )
    doomed = (
        sa.select(old.c.subscriber_id, old.c.period)
        .where(old.c.window_end < before, sa.or_(old.c.status.not_in(OPEN_STATUSES), superseded))
        .limit(limit)
    )
    key = sa.tuple_(deliveries.c.subscriber_id, deliveries.c.period)
    return conn.execute(deliveries.delete().where(key.in_(doomed))).rowcount
