"""Tables of the store, declared once for queries; migrations create and change them."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, UTC without offset in the database (any dialect)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


papers = sa.Table(
    "papers",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("title_key", sa.String(40), nullable=False, index=True),
    sa.Column("abstract", sa.Text, nullable=False, default=""),
    sa.Column("authors", sa.JSON, nullable=False),
    sa.Column("categories", sa.JSON, nullable=False),
    sa.Column("links", sa.JSON, nullable=False),
    sa.Column("keywords", sa.JSON, nullable=False),
    sa.Column("published", UTCDateTime),
    sa.Column("updated", UTCDateTime),
    sa.Column("first_seen", UTCDateTime, nullable=False, index=True),
    sa.Column("doi", sa.Text),
    sa.Column("journal_ref", sa.Text),
    sa.Column("comment", sa.Text),
    sa.Column("announce_type", sa.Text),
    sa.Column("upvotes", sa.Integer),
    sa.Column("num_comments", sa.Integer),
    sa.Column("github_stars", sa.Integer),
    sa.Column("ai_summary", sa.Text),
    sa.Column("meta_priority", sa.Integer, nullable=False, default=0),
)

paper_sources = sa.Table(
    "paper_sources",
    metadata,
    sa.Column(
        "paper_id", sa.Text, sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime, nullable=False),
    sa.Index("ix_paper_sources_source", "source", "last_seen"),
)

source_state = sa.Table(
    "source_state",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("content_hash", sa.String(64)),
    sa.Column("listed_at", UTCDateTime),
    sa.Column("last_attempt", UTCDateTime),
    sa.Column("last_success", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("last_new", sa.Integer),
    sa.Column("last_updated", sa.Integer),
)

editions = sa.Table(
    "editions",
    metadata,
    sa.Column("topic", sa.String(40), primary_key=True),
    sa.Column("period", sa.String(10), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("built_at", UTCDateTime, nullable=False),
    sa.Column("window_start", UTCDateTime, nullable=False),
    sa.Column("window_end", UTCDateTime, nullable=False),
    sa.Column("arrived", sa.Integer, nullable=False),
    sa.Column("candidates", sa.Integer, nullable=False),
    sa.Column("relevant", sa.Integer, nullable=False),
    sa.Column("empty_reason", sa.Text),
)

edition_items = sa.Table(
    "edition_items",
    metadata,
    sa.Column("topic", sa.String(40), primary_key=True),
    sa.Column("period", sa.String(10), primary_key=True),
    sa.Column("paper_id", sa.Text, primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Index("ix_edition_items_paper", "topic", "paper_id"),
)

pins = sa.Table(
    "pins",
    metadata,
    sa.Column("topic", sa.String(40), primary_key=True),
    sa.Column("paper_id", sa.Text, primary_key=True),
    sa.Column("action", sa.String(8), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

subscribers = sa.Table(
    "subscribers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("topics", sa.JSON, nullable=False),
    sa.Column("frequency", sa.String(8), nullable=False),
    sa.Column("weekday", sa.Integer),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("hour", sa.Integer, nullable=False),
    sa.Column("max_papers", sa.Integer),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("confirmed_at", UTCDateTime),
    sa.Column("unsubscribed_at", UTCDateTime),
    sa.Column("confirmation_sent_at", UTCDateTime),
    sa.Column("bounces", sa.Integer, nullable=False, default=0),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column(
        "subscriber_id",
        sa.Integer,
        sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("period", sa.String(10), primary_key=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("message_id", sa.String(200), nullable=False),
    sa.Column("papers", sa.JSON, nullable=False),
    sa.Column("window_start", UTCDateTime, nullable=False),
    sa.Column("window_end", UTCDateTime, nullable=False),
    sa.Column("claimed_by", sa.Text),
    sa.Column("claimed_at", UTCDateTime),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("sent_at", UTCDateTime),
    sa.Index("ix_deliveries_status", "status", "next_attempt_at"),
    sa.Index("ix_deliveries_period", "period"),
    sa.Index("ix_deliveries_window", "subscriber_id", "window_end", "status"),
    sa.Index("ix_deliveries_window_end", "window_end"),
)

shared_rankings = sa.Table(
    "shared_rankings",
    metadata,
    sa.Column("run_at", UTCDateTime, primary_key=True),
    sa.Column("window_start", UTCDateTime, primary_key=True),
    sa.Column("topic", sa.String(40), primary_key=True),
    sa.Column("relevant", sa.Integer, nullable=False),
    sa.Column("entries", sa.JSON, nullable=False),
)

daemon_lock = sa.Table(
    "daemon_lock",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("holder", sa.Text, nullable=False),
    sa.Column("acquired_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False),
)

confirmations = sa.Table(
    "confirmations",
    metadata,
    sa.Column(
        "subscriber_id",
        sa.Integer,
        sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("nonce", sa.String(32), nullable=False),
    sa.Column("queued_at", UTCDateTime),
    sa.Column("claimed_at", UTCDateTime),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Index("ix_confirmations_queued", "queued_at"),
)
