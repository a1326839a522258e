"""The store: SQLAlchemy over SQLite by default, PostgreSQL by URL; migrated on open."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from digest.models import Paper, StoredPaper
from digest.store import editions as _editions
from digest.store import papers as _papers
from digest.store import subscribers as _subscribers
from digest.store.database import create_engine, migrate, write_lock, write_transaction
from digest.store.editions import EditionItem, EditionRecord
from digest.store.papers import IngestCounts
from digest.store.schema import paper_sources, papers, source_state
from digest.store.subscribers import Delivery, Outcome
from digest.subscribers import Recipient, Subscriber, Subscription

__all__ = [
    "LedgerWriter",
    "Outcome",
    "Delivery",
    "EditionItem",
    "EditionRecord",
    "IngestCounts",
    "SourceState",
    "Store",
]


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


class LedgerWriter:
    """The ledger writes of one sender thread, on one connection it keeps.

    Each ``step`` is one short transaction: the outcome of the message just sent and the
    claim of the next one go in together, so the ledger costs one commit per message. On
    SQLite the common step (an outcome and a fresh claim) runs as plain DB-API statements:
    it happens once per message, so it is kept as cheap as it can be.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.fast = engine.dialect.name == "sqlite"
        self.lock: Any = write_lock(engine) if self.fast else nullcontext()
        self.conn = engine.connect().execution_options(begin_immediate=True)
        self.cursor = self.conn.connection.dbapi_connection.cursor() if self.fast else None

    def step(
        self,
        outcome: Outcome | None = None,
        claim: Delivery | None = None,
        reclaim: tuple[Delivery, str, datetime] | None = None,
    ) -> bool:
        rare = reclaim is not None or (outcome is not None and outcome.status == "bounced")
        if self.fast and not rare:
            return self._fast_step(outcome, claim)
        with self.lock, self.conn.begin():
            if outcome is not None:
                _subscribers.settle(self.conn, outcome)
            if claim is not None:
                return _subscribers.claim(self.conn, claim)
            if reclaim is not None:
                return _subscribers.reclaim(self.conn, *reclaim)
        return True

    def _fast_step(self, outcome: Outcome | None, claim: Delivery | None) -> bool:
        cursor = self.cursor
        assert cursor is not None
        with self.lock:
            cursor.execute("BEGIN IMMEDIATE")
            try:
                if outcome is not None:
                    cursor.execute(_subscribers.FINISH_SQL, _subscribers.finish_params(outcome))
                won = True
                if claim is not None:
                    cursor.execute(_subscribers.CLAIM_SQL, _subscribers.claim_params(claim))
                    won = cursor.rowcount == 1
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
        return won

    def close(self) -> None:
        if self.cursor is not None:
            self.cursor.close()
        self.conn.close()


class Store:
    """One database: papers and, as later stages need them, editions and deliveries."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Store:
        engine = create_engine(url)
        migrate(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # papers

    def ingest(
        self, source: str, priority: int, batch: Sequence[Paper], now: datetime
    ) -> IngestCounts:
        with write_transaction(self.engine) as conn:
            return _papers.ingest(conn, source, priority, batch, now)

    def listed_count(self, source: str, listed_at: datetime | None) -> int:
        """How many papers a source's current listing holds."""
        with self.engine.connect() as conn:
            return _papers.listed_count(conn, source, listed_at)

    def papers(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        source: str | None = None,
        ids: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[StoredPaper]:
        with self.engine.connect() as conn:
            return _papers.select_papers(
                conn, since=since, until=until, source=source, ids=ids, limit=limit
            )

    def paper(self, paper_id: str) -> StoredPaper | None:
        found = self.papers(ids=[paper_id])
        return found[0] if found else None

    def count_papers(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one()

    def paper_sources(self, paper_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(paper_sources)
                .where(paper_sources.c.paper_id == paper_id)
                .order_by(paper_sources.c.source)
            )
            return [dict(r) for r in rows.mappings()]

    # sources

    def source_state(self, name: str) -> SourceState:
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(source_state).where(source_state.c.name == name))
                .mappings()
                .first()
            )
        return SourceState(**row) if row else SourceState(name)

    def save_source_state(self, state: SourceState) -> None:
        values = {k: getattr(state, k) for k in SourceState.__slots__}
        with write_transaction(self.engine) as conn:
            updated = conn.execute(
                source_state.update().where(source_state.c.name == state.name).values(values)
            )
            if not updated.rowcount:
                conn.execute(source_state.insert().values(values))

    # editions and the editor's marks

    def save_edition(self, record: EditionRecord, items: Sequence[EditionItem]) -> None:
        with write_transaction(self.engine) as conn:
            _editions.save_edition(conn, record, items)

    def editions(self, topic: str | None = None) -> list[EditionRecord]:
        with self.engine.connect() as conn:
            return _editions.list_editions(conn, topic)

    def edition_items(
        self, topic: str, period: str | None = None, limit: int | None = None
    ) -> list[EditionItem]:
        with self.engine.connect() as conn:
            return _editions.list_items(conn, topic, period, limit)

    def picked_elsewhere(self, topic: str, period: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            return _editions.picked_elsewhere(conn, topic, period)

    def set_pin(self, topic: str, paper_id: str, action: str | None, now: datetime) -> None:
        with write_transaction(self.engine) as conn:
            _editions.set_pin(conn, topic, paper_id, action, now)

    def pins(self, topic: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            return _editions.list_pins(conn, topic)

    # subscribers

    def add_subscriber(
        self, request: Subscription, *, status: str, now: datetime
    ) -> tuple[Subscriber, bool]:
        with write_transaction(self.engine) as conn:
            return _subscribers.upsert(conn, request, status=status, now=now)

    def recipients(self) -> list[Recipient]:
        with self.engine.connect() as conn:
            return _subscribers.recipients(conn)

    def subscriber(self, email: str) -> Subscriber | None:
        with self.engine.connect() as conn:
            return _subscribers.find(conn, email)

    def subscriber_by_id(self, subscriber_id: int) -> Subscriber | None:
        with self.engine.connect() as conn:
            found = _subscribers.list_all(conn, ids=[subscriber_id])
        return found[0] if found else None

    def subscribers(
        self, status: str | None = None, ids: Sequence[int] | None = None
    ) -> list[Subscriber]:
        with self.engine.connect() as conn:
            return _subscribers.list_all(conn, status, ids)

    def remove_subscriber(self, email: str) -> bool:
        with write_transaction(self.engine) as conn:
            return _subscribers.remove(conn, email)

    def set_subscriber_status(self, subscriber_id: int, status: str, now: datetime) -> None:
        with write_transaction(self.engine) as conn:
            _subscribers.set_status(conn, subscriber_id, status, now)

    def update_subscriber(self, subscriber_id: int, **values: Any) -> None:
        from digest.store.schema import subscribers

        with write_transaction(self.engine) as conn:
            conn.execute(
                subscribers.update().where(subscribers.c.id == subscriber_id).values(values)
            )

    def record_bounce(self, subscriber_id: int, limit: int) -> str:
        with write_transaction(self.engine) as conn:
            return _subscribers.record_bounce(conn, subscriber_id, limit)

    # the delivery ledger

    def ledger_writer(self) -> LedgerWriter:
        return LedgerWriter(self.engine)

    def claim_delivery(self, delivery: Delivery) -> bool:
        with write_transaction(self.engine) as conn:
            return _subscribers.claim(conn, delivery)

    def reclaim_delivery(self, current: Delivery, claimed_by: str, now: datetime) -> bool:
        with write_transaction(self.engine) as conn:
            return _subscribers.reclaim(conn, current, claimed_by, now)

    def finish_delivery(
        self,
        subscriber_id: int,
        period: str,
        *,
        status: str,
        now: datetime,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        with write_transaction(self.engine) as conn:
            _subscribers.finish(
                conn,
                subscriber_id,
                period,
                status=status,
                now=now,
                error=error,
                next_attempt_at=next_attempt_at,
            )

    def deliveries(
        self, period: str | None = None, subscriber_ids: Sequence[int] | None = None
    ) -> list[Delivery]:
        with self.engine.connect() as conn:
            return _subscribers.ledger(conn, period, subscriber_ids)

    def delivery_rows(self, periods: Sequence[str]) -> dict[tuple[int, str], Delivery]:
        with self.engine.connect() as conn:
            return _subscribers.rows_for(conn, periods)

    def last_window_ends(self) -> dict[int, datetime]:
        with self.engine.connect() as conn:
            return _subscribers.last_window_ends(conn)
