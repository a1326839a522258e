"""What the store remembers about fetching each source (conditional GET, last error)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from digest.store.database import dialect_insert
from digest.store.schema import source_state


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the store remembers about fetching one source."""

    name: str
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    #: When the listing last changed: its papers' ``paper_sources.last_seen``. An
    #: unchanged listing moves only ``last_success``, so nothing is rewritten per paper.
    listed_at: datetime | None = None
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    #: What the last successful fetch brought: papers new to the store, and updated.
    last_new: int | None = None
    last_updated: int | None = None


def load(conn: Connection, name: str) -> SourceState:
    query = sa.select(source_state).where(source_state.c.name == name)
    row = conn.execute(query).mappings().first()
    return SourceState(**row) if row else SourceState(name)


def save(conn: Connection, state: SourceState) -> None:
    """Insert or replace the state of ``state.name`` (one statement, safe for two writers)."""
    values = {k: getattr(state, k) for k in SourceState.__slots__}
    insert = dialect_insert(conn)(source_state).values(values)
    conn.execute(insert.on_conflict_do_update(index_elements=["name"], set_=values))
