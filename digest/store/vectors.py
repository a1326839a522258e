"""Embedding vectors in the store: float32 bytes per key (a paper id, or ``query:`` and a
keyword text) and model, with their dimension. The store keeps bytes; turning them into
arrays is the ranker's business (``digest.rank.embed``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from digest.store.schema import metadata, papers

vectors = sa.Table(
    "vectors",
    metadata,
    sa.Column("key", sa.String(400), primary_key=True),
    sa.Column("model", sa.String(100), primary_key=True),
    sa.Column("dimension", sa.Integer, nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),
)

_CHUNK = 500


def load(conn: Connection, model: str, keys: Sequence[str]) -> dict[str, tuple[int, bytes]]:
    """The stored ``(dimension, bytes)`` of each key that has a vector for ``model``."""
    found: dict[str, tuple[int, bytes]] = {}
    unique = sorted(set(keys))
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        rows = conn.execute(
            sa.select(vectors.c.key, vectors.c.dimension, vectors.c.vector).where(
                vectors.c.model == model, vectors.c.key.in_(chunk)
            )
        )
        for key, dimension, blob in rows:
            found[key] = (dimension, bytes(blob))
    return found


def save(conn: Connection, model: str, dimension: int, items: Mapping[str, bytes]) -> None:
    """Keep (or replace) the vectors of ``items`` for ``model``."""
    keys = sorted(items)
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        conn.execute(vectors.delete().where(vectors.c.model == model, vectors.c.key.in_(chunk)))
        conn.execute(
            vectors.insert(),
            [{"key": k, "model": model, "dimension": dimension, "vector": items[k]} for k in chunk],
        )


def unembedded(conn: Connection, model: str, limit: int | None = None) -> list[str]:
    """Ids of stored papers with no vector for ``model``, oldest first."""
    query = (
        sa.select(papers.c.id)
        .where(~sa.exists().where(vectors.c.key == papers.c.id, vectors.c.model == model))
        .order_by(papers.c.first_seen, papers.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [row[0] for row in conn.execute(query)]
