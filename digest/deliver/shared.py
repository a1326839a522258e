"""The rankings of a delivery run through the queue: made once, read by every shard.

The process that defers a run's send jobs (``digest send`` and ``digest run`` in queue
mode, the daemon's delivery tick) plans the whole run, ranks each topic once per window
its due subscribers need (:func:`share_run`), and keeps the result in the store under the
run's moment. Each shard job of the run (:func:`rankings_for`) reads those rankings
instead of ranking every topic again; what it does not find there (a window that became
due since, or rankings already pruned), it ranks itself. The ledger stays the guarantee:
shared rankings only decide what an edition holds, never whether it goes out.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from digest.compose.personal import SharedRankings
from digest.config import Settings
from digest.deliver.plan import Due, plan, shards
from digest.picks import Pick
from digest.store import SavedRanking, Store

#: How long a run's rankings are kept for its shards (a shard run later ranks itself).
KEEP = timedelta(days=1)


def needs_of(due: Iterable[Due]) -> set[tuple[datetime, str]]:
    """The (window start, topic) pairs the editions of ``due`` are composed from."""
    return {
        (d.existing.window_start if d.existing else d.window_start, t)
        for d in due
        for t in d.subscriber.topics
    }


def share_run(
    settings: Settings, store: Store, now: datetime, period_key: str | None = None
) -> list[tuple[int, int]]:
    """Plan the run at ``now``, rank what its editions need once and keep it for the
    shards; the shards (id ranges of ``[deliver] shard_size`` active subscribers) that
    have anyone due."""
    active = store.recipients()
    ranges = shards([r.id for r in active], settings.deliver.shard_size)
    schedule = plan(settings, store, now, period_key=period_key, subscribers=active)
    firsts = [first for first, _ in ranges]
    wanted = sorted({bisect.bisect_right(firsts, d.subscriber.id) - 1 for d in schedule.due})
    needs = needs_of(schedule.due)
    store.prune_rankings(now - KEEP)
    if needs:
        shared = SharedRankings(settings, store, needs, now, now)
        store.save_rankings(now, saved_rankings(shared))
    return [ranges[i] for i in wanted]


def saved_rankings(shared: SharedRankings) -> list[SavedRanking]:
    return [
        SavedRanking(since, slug, shared.relevant.get((slug, since), 0), [_entry(e) for e in picks])
        for (slug, since), picks in shared.entries.items()
    ]


def _entry(pick: Pick) -> dict[str, Any]:
    """What an edition uses of a ranked paper (its id, not the paper)."""
    return {
        "id": pick.paper.id,
        "score": pick.score,
        "reasons": list(pick.reasons),
        "relevance": pick.relevance,
        "picked": pick.picked,
        "duplicate_of": pick.duplicate_of,
    }


def rankings_for(
    settings: Settings,
    store: Store,
    needs: Sequence[tuple[datetime, str]] | set[tuple[datetime, str]],
    now: datetime,
    *,
    saved: bool = False,
) -> SharedRankings:
    """The rankings ``needs`` asks for at ``now``: with ``saved``, those the run kept in
    the store (ranking only what is missing there); otherwise ranked here."""
    wanted = set(needs)
    if not saved or not wanted:
        return SharedRankings(settings, store, wanted, now, now)
    found = {
        (r.topic, r.window_start): r
        for r in store.rankings(now)
        if (r.window_start, r.topic) in wanted
    }
    if not found:
        return SharedRankings(settings, store, wanted, now, now)
    earliest = min(since for since, _ in wanted)
    papers = {p.id: p for p in store.papers(since=earliest, until=now)}
    ids = {e["id"] for r in found.values() for e in r.entries}
    missing_papers = sorted(ids - papers.keys())
    if missing_papers:
        papers.update((p.id, p) for p in store.papers(ids=missing_papers))
    entries = {
        key: [_pick(e, papers) for e in r.entries if e["id"] in papers] for key, r in found.items()
    }
    first_seen = [p.first_seen for p in papers.values() if earliest <= p.first_seen < now]
    shared = SharedRankings.restored(
        settings, entries, {k: r.relevant for k, r in found.items()}, first_seen
    )
    missing = {(since, slug) for since, slug in wanted if (slug, since) not in found}
    if missing:
        ranked = SharedRankings(settings, store, missing, now, now)
        shared.entries.update(ranked.entries)
        shared.relevant.update(ranked.relevant)
    return shared


def _pick(entry: dict[str, Any], papers: dict[str, Any]) -> Pick:
    return Pick(
        papers[entry["id"]],
        float(entry["score"]),
        tuple(entry["reasons"]),
        relevance=float(entry.get("relevance") or 0.0),
        picked=bool(entry.get("picked", True)),
        duplicate_of=entry.get("duplicate_of"),
    )
