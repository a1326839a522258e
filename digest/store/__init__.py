"""The store: SQLAlchemy over SQLite by default, PostgreSQL by URL; migrated on open."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from digest.models import Paper, StoredPaper
from digest.store import editions as _editions
from digest.store import ledger as _ledger
from digest.store import papers as _papers
from digest.store import rankings as _rankings
from digest.store import sources as _sources
from digest.store import subscribers as _subscribers
from digest.store import vectors as _vectors
from digest.store.database import open_engine, write_transaction
from digest.store.editions import EditionItem, EditionRecord
from digest.store.ledger import Delivery, Outcome
from digest.store.papers import IngestCounts
from digest.store.rankings import SavedRanking
from digest.store.sources import SourceState
from digest.store.writer import LedgerGroup, LedgerWriter
from digest.subscribers import Recipient, Subscriber, Subscription

__all__ = [
    "LedgerGroup",
    "LedgerWriter",
    "Outcome",
    "Delivery",
    "EditionItem",
    "EditionRecord",
    "IngestCounts",
    "SavedRanking",
    "SourceState",
    "Store",
]


class Store:
    """One database: papers and, as later stages need them, editions and deliveries."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Store:
        """The store at ``url``, created if it does not exist, migrated to the newest schema;
        a ``StoreUnusableError`` if the database there is not a store of ours or is damaged."""
        return cls(open_engine(url))

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

    # embedding vectors (bytes; digest.rank.embed turns them into arrays)

    def vectors(self, model: str, keys: Sequence[str]) -> dict[str, tuple[int, bytes]]:
        with self.engine.connect() as conn:
            return _vectors.load(conn, model, keys)

    def save_vectors(self, model: str, dimension: int, items: dict[str, bytes]) -> None:
        with write_transaction(self.engine) as conn:
            _vectors.save(conn, model, dimension, items)

    def unembedded(self, model: str, limit: int | None = None) -> list[str]:
        """Ids of the stored papers with no vector for ``model`` yet."""
        with self.engine.connect() as conn:
            return _vectors.unembedded(conn, model, limit)

    # sources

    def source_state(self, name: str) -> SourceState:
        with self.engine.connect() as conn:
            return _sources.load(conn, name)

    def save_source_state(self, state: SourceState) -> None:
        with write_transaction(self.engine) as conn:
            _sources.save(conn, state)

    # editions and the editor's marks

    def save_edition(self, record: EditionRecord, items: Sequence[EditionItem]) -> None:
        with write_transaction(self.engine) as conn:
            _editions.save_edition(conn, record, items)

    def editions(self, topic: str | None = None) -> list[EditionRecord]:
        with self.engine.connect() as conn:
            return _editions.list_editions(conn, topic)

    def edition_items(
        self, topic: str, period: str | None = None, limit: int | None = None, also: bool = False
    ) -> list[EditionItem]:
        with self.engine.connect() as conn:
            return _editions.list_items(conn, topic, period, limit, also)

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

    def recipients(self, id_range: tuple[int, int] | None = None) -> list[Recipient]:
        """The active subscribers (with ids in ``id_range``, both ends included, if given)."""
        with self.engine.connect() as conn:
            return _subscribers.recipients(conn, id_range)

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
        with write_transaction(self.engine) as conn:
            _subscribers.update(conn, subscriber_id, values)

    # the delivery ledger

    def ledger_writer(self, group: LedgerGroup | None = None) -> LedgerWriter:
        return LedgerWriter(self.engine, group)

    def ledger_group(self) -> LedgerGroup | None:
        """A group commit for one run's sender threads, where the store has one
        (PostgreSQL through psycopg); None elsewhere (SQLite writes one at a time)."""
        if self.engine.dialect.driver != "psycopg":
            return None
        return LedgerGroup(self.engine)

    def deliveries(
        self, period: str | None = None, subscriber_ids: Sequence[int] | None = None
    ) -> list[Delivery]:
        with self.engine.connect() as conn:
            return _ledger.rows(conn, period, subscriber_ids)

    def delivery_rows(
        self, periods: Sequence[str], id_range: tuple[int, int] | None = None
    ) -> dict[tuple[int, str], Delivery]:
        with self.engine.connect() as conn:
            return _ledger.rows_for(conn, periods, id_range)

    def prune_deliveries(self, before: datetime, batch: int = 5000) -> int:
        """Delete the ledger rows of editions whose window ended before ``before`` (each
        subscriber's latest stays), ``batch`` rows per transaction; how many went."""
        total = 0
        while True:
            with write_transaction(self.engine) as conn:
                deleted = _ledger.prune(conn, before, batch)
            total += deleted
            if deleted < batch:
                return total

    def last_window_ends(self, id_range: tuple[int, int] | None = None) -> dict[int, datetime]:
        """Where each subscriber's latest edition ended (of ids in ``id_range``, if given:
        one shard of subscribers)."""
        with self.engine.connect() as conn:
            return _ledger.last_window_ends(conn, id_range)

    # the rankings a delivery run shares with its shards

    def save_rankings(self, run_at: datetime, rankings: Sequence[SavedRanking]) -> None:
        with write_transaction(self.engine) as conn:
            _rankings.save(conn, run_at, rankings)

    def rankings(self, run_at: datetime) -> list[SavedRanking]:
        with self.engine.connect() as conn:
            return _rankings.load(conn, run_at)

    def prune_rankings(self, before: datetime) -> int:
        with write_transaction(self.engine) as conn:
            return _rankings.prune(conn, before)
