"""The topic rankings of one delivery run, shared by its shards.

The process that defers a run's send jobs ranks every topic once per window and keeps
the result here, keyed by the run's moment; each shard job of that run reads it back
instead of ranking every topic again. Rows are plain data (paper ids, scores, reasons):
the papers themselves stay in their own table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from digest.store.schema import shared_rankings


@dataclass(frozen=True, slots=True)
class SavedRanking:
    """One topic's ranking for one window of a run: its entries as plain values."""

    window_start: datetime
    topic: str
    relevant: int
    entries: list[dict[str, Any]]


def save(conn: Connection, run_at: datetime, rankings: Sequence[SavedRanking]) -> None:
    """Keep a run's rankings (replacing any kept for the same moment)."""
    conn.execute(shared_rankings.delete().where(shared_rankings.c.run_at == run_at))
    if rankings:
        conn.execute(
            shared_rankings.insert(),
            [
                {
                    "run_at": run_at,
                    "window_start": r.window_start,
                    "topic": r.topic,
                    "relevant": r.relevant,
                    "entries": r.entries,
                }
                for r in rankings
            ],
        )


def load(conn: Connection, run_at: datetime) -> list[SavedRanking]:
    t = shared_rankings.c
    query = sa.select(t.window_start, t.topic, t.relevant, t.entries).where(t.run_at == run_at)
    return [SavedRanking(*row) for row in conn.execute(query)]


def prune(conn: Connection, before: datetime) -> int:
    """Delete the rankings of runs before ``before``; how many rows went."""
    return conn.execute(shared_rankings.delete().where(shared_rankings.c.run_at < before)).rowcount
