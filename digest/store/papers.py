"""Papers in the store: one record per paper, merged from every source that lists it.

Merging rules, field by field:

- title, abstract, authors, categories: from the most trusted source kind
  (``sources.SOURCE_PRIORITY``), or from any source that brings a newer version;
  an empty value never replaces a known one;
- version: the highest seen; published: the earliest; updated: the latest;
- links ``abs``/``pdf`` follow the bibliographic fields, ``code``/``project`` and the
  popularity fields (upvotes, comments, stars, summary, keywords) take the latest value
  any source reports;
- announce type: the latest arXiv listing's.

A record keyed by its title (a pasted listing with no link) is folded into the record
of the same title with a real id as soon as one exists, whichever arrives first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from digest.ids import title_key
from digest.models import Paper, StoredPaper
from digest.store.database import dialect_insert, take_turns
from digest.store.editions import rename_paper
from digest.store.schema import paper_sources, papers, source_state

_CHUNK = 500
_BIB_FIELDS = ("title", "abstract", "authors", "categories")
_LATEST_FIELDS = (
    "doi",
    "journal_ref",
    "comment",
    "announce_type",
    "upvotes",
    "num_comments",
    "github_stars",
    "ai_summary",
    "keywords",
)


@dataclass(frozen=True, slots=True)
class IngestCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    replacements: int = 0

    def __add__(self, other: IngestCounts) -> IngestCounts:
        return IngestCounts(
            self.new + other.new,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
            self.replacements + other.replacements,
        )


def ingest(
    conn: Connection, source: str, priority: int, batch: Sequence[Paper], now: datetime
) -> IngestCounts:
    """Store what one source listed; return how many records were new, changed, the same.

    Runs inside a write transaction, whole or not at all; two ingests take turns, since
    each merges what the other may be writing.
    """
    incoming = _dedupe(batch)
    if not incoming:
        return IngestCounts()
    take_turns(conn, "papers")
    incoming, absorbed = _fold_titles(conn, incoming)
    existing = {row["id"]: row for row in _select_rows(conn, incoming)}
    for old_id, new_id in absorbed:
        _absorb(conn, existing, old_id, new_id)

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    unchanged = 0
    replacements = 0
    for paper in incoming.values():
        old = existing.get(paper.id)
        if old is None:
            inserts.append(_new_row(paper, priority, now))
            replacements += paper.is_replacement
            continue
        merged = merge_row(old, paper, priority)
        if merged == old:
            unchanged += 1
        else:
            updates.append(merged)

    if inserts:  # the turn taken above keeps another writer's records of these ids out
        conn.execute(_insert_new(conn), inserts)
    if updates:
        stmt = papers.update().where(papers.c.id == sa.bindparam("_id"))
        conn.execute(
            stmt,
            [{**{k: v for k, v in row.items() if k != "id"}, "_id": row["id"]} for row in updates],
        )
    _upsert_sources(conn, source, list(incoming), now)
    return IngestCounts(len(inserts), len(updates), unchanged, replacements)


def listed_count(conn: Connection, source: str, listed_at: datetime | None) -> int:
    if listed_at is None:
        return 0
    query = sa.select(sa.func.count()).where(
        paper_sources.c.source == source, paper_sources.c.last_seen == listed_at
    )
    return conn.execute(query).scalar_one()


def merge_row(old: dict[str, Any], paper: Paper, priority: int) -> dict[str, Any]:
    """The record ``old`` updated with what ``paper`` says (see the module's rules)."""
    new = dict(old)
    fresh = _new_row(paper, priority, old["first_seen"])
    newer_version = paper.version is not None and (old["version"] or 0) < paper.version
    if newer_version or priority >= old["meta_priority"]:
        for name in _BIB_FIELDS:
            if fresh[name]:
                new[name] = fresh[name]
        new["title_key"] = title_key(new["title"])
        links = dict(old["links"])
        links.update({k: v for k, v in fresh["links"].items() if k in ("abs", "pdf")})
        new["links"] = links
        new["meta_priority"] = max(priority, old["meta_priority"])
    links = dict(new["links"])
    for kind in ("abs", "pdf", "code", "project"):
        if fresh["links"].get(kind) and (kind in ("code", "project") or kind not in links):
            links[kind] = fresh["links"][kind]
    new["links"] = links
    if paper.version is not None:
        new["version"] = max(paper.version, old["version"] or 0)
    if paper.published is not None and (
        old["published"] is None or paper.published < old["published"]
    ):
        new["published"] = paper.published
    if paper.updated is not None and (old["updated"] is None or paper.updated > old["updated"]):
        new["updated"] = paper.updated
    for name in _LATEST_FIELDS:
        if fresh[name] not in (None, [], ""):
            new[name] = fresh[name]
    return new


def select_papers(
    conn: Connection,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    source: str | None = None,
    ids: Iterable[str] | None = None,
    limit: int | None = None,
) -> list[StoredPaper]:
    """Stored papers, newest first (first seen, then published, then id)."""
    query = sa.select(papers)
    if since is not None:
        query = query.where(papers.c.first_seen >= since)
    if until is not None:
        query = query.where(papers.c.first_seen < until)
    if source is not None:
        query = query.where(
            papers.c.id.in_(
                sa.select(paper_sources.c.paper_id).where(paper_sources.c.source == source)
            )
        )
    if ids is not None:
        wanted = list(ids)
        rows = [
            row
            for chunk in _chunks(wanted)
            for row in conn.execute(query.where(papers.c.id.in_(chunk))).mappings()
        ]
    else:
        query = query.order_by(
            papers.c.first_seen.desc(), papers.c.published.desc(), papers.c.id.desc()
        )
        if limit is not None:
            query = query.limit(limit)
        rows = list(conn.execute(query).mappings())
    states = {
        name: (listed_at, success)
        for name, listed_at, success in conn.execute(
            sa.select(source_state.c.name, source_state.c.listed_at, source_state.c.last_success)
        )
    }
    listed: dict[str, list[str]] = {row["id"]: [] for row in rows}
    seen: dict[str, datetime] = {}
    for chunk in _chunks(list(listed)):
        for paper_id, name, last in conn.execute(
            sa.select(paper_sources.c.paper_id, paper_sources.c.source, paper_sources.c.last_seen)
            .where(paper_sources.c.paper_id.in_(chunk))
            .order_by(paper_sources.c.first_seen, paper_sources.c.source)
        ):
            listed[paper_id].append(name)
            listed_at, success = states.get(name, (None, None))
            if success is not None and last == listed_at:
                last = max(last, success)  # still in that source's unchanged listing
            seen[paper_id] = max(seen.get(paper_id, last), last)
    result = [_stored(row, listed[row["id"]], seen.get(row["id"])) for row in rows]
    if ids is not None:
        result.sort(key=lambda p: (p.first_seen, p.published or p.first_seen, p.id), reverse=True)
        if limit is not None:
            result = result[:limit]
    return result


def _stored(row: Any, sources: list[str], last_seen: datetime | None) -> StoredPaper:
    return StoredPaper(
        id=row["id"],
        title=row["title"],
        abstract=row["abstract"],
        authors=tuple(row["authors"]),
        categories=tuple(row["categories"]),
        version=row["version"],
        published=row["published"],
        updated=row["updated"],
        first_seen=row["first_seen"],
        last_seen=last_seen or row["first_seen"],
        links=dict(row["links"]),
        sources=tuple(sources),
        doi=row["doi"],
        journal_ref=row["journal_ref"],
        comment=row["comment"],
        announce_type=row["announce_type"],
        upvotes=row["upvotes"],
        num_comments=row["num_comments"],
        github_stars=row["github_stars"],
        ai_summary=row["ai_summary"],
        keywords=tuple(row["keywords"]),
    )


def _new_row(paper: Paper, priority: int, now: datetime) -> dict[str, Any]:
    return {
        "id": paper.id,
        "version": paper.version,
        "title": paper.title,
        "title_key": title_key(paper.title),
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "categories": list(paper.categories),
        "links": {k: v for k, v in paper.links.items() if v},
        "keywords": list(paper.keywords),
        "published": paper.published,
        "updated": paper.updated,
        "first_seen": now,
        "doi": paper.doi,
        "journal_ref": paper.journal_ref,
        "comment": paper.comment,
        "announce_type": paper.announce_type,
        "upvotes": paper.upvotes,
        "num_comments": paper.num_comments,
        "github_stars": paper.github_stars,
        "ai_summary": paper.ai_summary,
        "meta_priority": priority,
    }


def _dedupe(batch: Sequence[Paper]) -> dict[str, Paper]:
    """One paper per id within a batch; a later, higher version replaces an earlier one."""
    result: dict[str, Paper] = {}
    for paper in batch:
        previous = result.get(paper.id)
        if previous is None or (paper.version or 0) >= (previous.version or 0):
            result[paper.id] = paper
    return result


def _fold_titles(
    conn: Connection, incoming: dict[str, Paper]
) -> tuple[dict[str, Paper], list[tuple[str, str]]]:
    """Match title-keyed papers with records of the same title.

    Returns the batch with title-keyed papers renamed to the record they belong to, and
    the pairs (title-keyed record, real id) of stored title-keyed records to absorb.
    """
    keys = {title_key(p.title): pid for pid, p in incoming.items()}
    found: dict[str, list[str]] = {}
    for chunk in _chunks(list(keys)):
        for pid, tkey in conn.execute(
            sa.select(papers.c.id, papers.c.title_key).where(papers.c.title_key.in_(chunk))
        ):
            found.setdefault(tkey, []).append(pid)
    renamed: dict[str, Paper] = {}
    absorbed: list[tuple[str, str]] = []
    for pid, paper in incoming.items():
        tkey = title_key(paper.title)
        matches = sorted(found.get(tkey, []))
        real = [m for m in matches if not m.startswith("title:")]
        if pid.startswith("title:") and real:
            target = real[0]
            if target in renamed:
                continue
            renamed[target] = replace(paper, id=target)
        else:
            renamed[pid] = paper
            if not pid.startswith("title:") and tkey in matches and tkey != pid:
                absorbed.append((tkey, pid))
    return renamed, absorbed


def _absorb(
    conn: Connection, existing: dict[str, dict[str, Any]], old_id: str, new_id: str
) -> None:
    """Move a title-keyed record's sources and knowledge to its real id."""
    found = conn.execute(sa.select(papers).where(papers.c.id == old_id)).mappings().first()
    if found is None:
        return
    old = dict(found)
    target = existing.get(new_id)
    if target is None:
        conn.execute(_insert_new(conn), [{**old, "id": new_id}])
        existing[new_id] = {**old, "id": new_id}
    sources = conn.execute(sa.select(paper_sources).where(paper_sources.c.paper_id == old_id))
    for row in sources.mappings():
        _upsert_source_row(conn, new_id, row["source"], row["first_seen"], row["last_seen"])
    rename_paper(conn, old_id, new_id)
    conn.execute(papers.delete().where(papers.c.id == old_id))


def _select_rows(conn: Connection, incoming: dict[str, Paper]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for chunk in _chunks(list(incoming)):
        rows.extend(
            dict(r)
            for r in conn.execute(sa.select(papers).where(papers.c.id.in_(chunk))).mappings()
        )
    return rows


def _insert_new(conn: Connection) -> Any:
    """Insert records; one that exists already is left as it is (merged by ``ingest``)."""
    return dialect_insert(conn)(papers).on_conflict_do_nothing(index_elements=["id"])


def _upsert_sources(conn: Connection, source: str, ids: list[str], now: datetime) -> None:
    stmt = dialect_insert(conn)(paper_sources)
    stmt = stmt.on_conflict_do_update(
        index_elements=["paper_id", "source"], set_={"last_seen": stmt.excluded.last_seen}
    )
    rows = [{"paper_id": pid, "source": source, "first_seen": now, "last_seen": now} for pid in ids]
    conn.execute(stmt, rows)


def _upsert_source_row(
    conn: Connection, paper_id: str, source: str, first: datetime, last: datetime
) -> None:
    insert = dialect_insert(conn)
    stmt = insert(paper_sources).values(
        paper_id=paper_id, source=source, first_seen=first, last_seen=last
    )
    conn.execute(stmt.on_conflict_do_nothing(index_elements=["paper_id", "source"]))


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
