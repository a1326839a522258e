"""Ranking-quality benchmark: does a ranker put a topic's papers at the top of a day?

Real arXiv days from the labelled corpus in ../shared/data/arxiv-corpus (its cs and
astro-ph daily listings), split by date: the first half of each part's days is for
development (tune anything on it), the second half is held out and is the one reported
as the result. Topics (``topics.py``) were written before any ranker was scored and are
not edited after: 24 keyword topics of six keywords, 15 seed topics of five seed papers
chosen by rule from the development days. Each topic stands for an arXiv category that
no ranker sees; a paper is relevant when that category is among its categories.

For every topic and day with at least one relevant paper: P@10 and nDCG@10 (binary
gains) of each ranker's full order; a topic's figure is its mean over days, a ranker's
overall figure the mean over topics. Keyword topics: ours against the keyword filter,
BM25 and MiniLM cosine; seed topics: ours against the tf-idf centroid and the tf-idf +
LinearSVC of arxiv-sanity-lite (``baselines.py``). Seed papers are taken out of every
listing they would be scored in.

Run: ``python -m bench rank_quality`` (both halves), ``--split dev`` while tuning.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from bench.common import save
from bench.rank_quality import baselines
from bench.rank_quality.data import SPLITS, Day, Row, choose_seeds, read_day, split_files, spread
from bench.rank_quality.topics import KEYWORD_TOPICS, PARTS, SEED_TOPICS, KeywordTopic, SeedTopic
from digest.config import RankSettings, TopicSettings
from digest.models import StoredPaper
from digest.rank import Corpus, rank_topic
from digest.rank.embed import MINILM, Semantic, keyword_texts

K = 10
QUICK_DAYS = {"daily-arXiv-ai-enhanced_cs": 4, "daily-arXiv-astro-ph": 12}
KEYWORD_RANKERS = ["keyword filter", "BM25", "MiniLM", "ours"]
SEED_RANKERS = ["tf-idf centroid", "tf-idf SVM", "ours"]


def metrics(order: Sequence[str], relevant: set[str]) -> dict[str, float]:
    top = order[:K]
    gains = [1.0 if paper in relevant else 0.0 for paper in top]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(K, len(relevant))))
    return {"p10": sum(gains) / K, "ndcg10": dcg / ideal}


def _stored(row: Row, day: datetime) -> StoredPaper:
    """What our ranker sees: no categories, so category matching cannot leak the label."""
    return StoredPaper(
        id=row.id,
        title=row.title,
        abstract=row.abstract,
        authors=row.authors,
        categories=(),
        version=None,
        published=None,
        updated=None,
        first_seen=day,
        last_seen=day,
        links={},
        sources=("bench",),
    )


def _ours(
    corpus: Corpus,
    rows: Sequence[Row],
    now: datetime,
    keywords: Sequence[str] = (),
    seeds: Sequence[Row] = (),
) -> list[str]:
    topic = TopicSettings(slug="bench", name="Bench", keywords=list(keywords), max_items=K)
    ranking = rank_topic(
        topic, corpus, settings=RankSettings(), now=now, seeds=[_stored(s, now) for s in seeds]
    )
    order = [r.paper.id for r in ranking.ranked]
    seen = set(order)
    return order + [r.id for r in rows if r.id not in seen]


def _timed(
    timings: dict[str, float], name: str, fn: Callable[..., list[str]], *args: Any, **kw: Any
) -> list[str]:
    start = time.perf_counter()
    order = fn(*args, **kw)
    timings[name] += time.perf_counter() - start
    return order


def evaluate(split: str, quick: bool, minilm: baselines.MiniLM | None) -> dict[str, Any]:
    seeds = {t.category: choose_seeds(t) for t in SEED_TOPICS}
    seed_ids = {s.id for rows in seeds.values() for s in rows}
    scores: dict[str, dict[str, dict[str, list[dict[str, float]]]]] = {
        "keyword": defaultdict(lambda: defaultdict(list)),
        "seed": defaultdict(lambda: defaultdict(list)),
    }
    timings: dict[str, float] = defaultdict(float)
    days_used: dict[str, list[str]] = {}
    for part in PARTS:
        files = spread(split_files(part, split), QUICK_DAYS[part] if quick else None)
        days_used[PARTS[part]] = [p.stem for p in files]
        for path in files:
            day = read_day(part, path)
            _score_day(day, seed_ids, seeds, minilm, scores, timings)
    return {
        "days": days_used,
        "keyword": _summary(
            scores["keyword"],
            KEYWORD_RANKERS if minilm else [r for r in KEYWORD_RANKERS if r != "MiniLM"],
        ),
        "seed": _summary(scores["seed"], SEED_RANKERS),
        "seeds": {c: [{"id": s.id, "title": s.title} for s in rows] for c, rows in seeds.items()},
        "seconds": dict(timings),
    }


def _score_day(
    day: Day,
    seed_ids: set[str],
    seeds: dict[str, list[Row]],
    minilm: baselines.MiniLM | None,
    scores: dict[str, Any],
    timings: dict[str, float],
) -> None:
    rows = [r for r in day.rows if r.id not in seed_ids]
    now = day.date
    index = baselines.Bm25(rows)
    semantic = None
    if minilm is not None:
        start = time.perf_counter()
        minilm.embed(rows)
        timings["MiniLM embedding"] += time.perf_counter() - start
        semantic = _semantic(minilm, rows, [s for rows in seeds.values() for s in rows])
    corpus = Corpus((_stored(r, now) for r in rows), semantic)
    for topic in KEYWORD_TOPICS:
        relevant = _relevant(topic, day, rows)
        if not relevant:
            continue
        orders = {
            "keyword filter": _timed(
                timings,
                "keyword filter",
                baselines.keyword_filter,
                topic.keywords,
                rows,
            ),
            "BM25": _timed(timings, "BM25", index.rank, topic.keywords),
            "ours": _timed(timings, "ours (keywords)", _ours, corpus, rows, now, topic.keywords),
        }
        if minilm is not None:
            orders["MiniLM"] = _timed(timings, "MiniLM", minilm.cosine, topic.keywords, rows)
        for name, order in orders.items():
            scores["keyword"][topic.category][name].append(metrics(order, relevant))
    for seed_topic in SEED_TOPICS:
        relevant = _relevant(seed_topic, day, rows)
        if not relevant:
            continue
        mine = seeds[seed_topic.category]
        orders = {
            "tf-idf centroid": _timed(
                timings, "tf-idf centroid", baselines.tfidf_centroid, mine, rows
            ),
            "tf-idf SVM": _timed(timings, "tf-idf SVM", baselines.tfidf_svm, mine, rows),
            "ours": _timed(timings, "ours (seeds)", _ours, corpus, rows, now, seeds=mine),
        }
        for name, order in orders.items():
            scores["seed"][seed_topic.category][name].append(metrics(order, relevant))


def _semantic(minilm: baselines.MiniLM, rows: Sequence[Row], seeds: Sequence[Row]) -> Semantic:
    """What the store gives our ranker: the papers' vectors (embedded once, cached) and
    the keyword texts' vectors."""
    texts = [t for topic in KEYWORD_TOPICS for t in keyword_texts(topic.keywords)]
    return Semantic(
        MINILM,
        dict(zip([r.id for r in [*rows, *seeds]], minilm.embed([*rows, *seeds]), strict=True)),
        {t: minilm.query(t) for t in texts},
    )


def _relevant(topic: KeywordTopic | SeedTopic, day: Day, rows: Sequence[Row]) -> set[str]:
    if topic.part != day.part:
        return set()
    return {r.id for r in rows if topic.category in r.categories}


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _summary(per_topic: dict[str, dict[str, list[dict[str, float]]]], rankers: list[str]) -> dict:
    topics: dict[str, dict[str, Any]] = {}
    for category, by_ranker in per_topic.items():
        topics[category] = {
            "days": len(by_ranker["ours"]),
            **{
                name: {m: _mean([d[m] for d in by_ranker[name]]) for m in ("p10", "ndcg10")}
                for name in rankers
            },
        }
    overall = {
        name: {m: _mean([t[name][m] for t in topics.values()]) for m in ("p10", "ndcg10")}
        for name in rankers
    }
    baseline_names = [r for r in rankers if r != "ours"]
    best = max(baseline_names, key=lambda r: overall[r]["ndcg10"])
    behind = [
        c
        for c, t in topics.items()
        if t["ours"]["ndcg10"] < max(t[b]["ndcg10"] for b in baseline_names) - 0.05
    ]
    return {
        "rankers": rankers,
        "topics": topics,
        "overall": overall,
        "best_baseline": best,
        "margin_ndcg10": overall["ours"]["ndcg10"] - overall[best]["ndcg10"],
        "topics_more_than_0.05_behind_best": behind,
    }


def report(split: str, figures: dict[str, Any]) -> str:
    lines = [
        f"### {split} half ({', '.join(f'{p}: {len(d)} days' for p, d in figures['days'].items())})"
    ]
    for kind in ("keyword", "seed"):
        data = figures[kind]
        rankers = data["rankers"]
        lines.append("")
        lines.append(f"{kind} topics, P@10 / nDCG@10:")
        lines.append("")
        lines.append("| topic | days | " + " | ".join(rankers) + " |")
        lines.append("|---|---:|" + "---:|" * len(rankers))
        for category, t in sorted(data["topics"].items()):
            cells = [f"{t[r]['p10']:.3f} / {t[r]['ndcg10']:.3f}" for r in rankers]
            lines.append(f"| {category} | {t['days']} | " + " | ".join(cells) + " |")
        cells = [
            f"**{data['overall'][r]['p10']:.3f} / {data['overall'][r]['ndcg10']:.3f}**"
            for r in rankers
        ]
        lines.append("| **overall** | | " + " | ".join(cells) + " |")
        lines.append("")
        lines.append(
            f"ours − best baseline ({data['best_baseline']}): {data['margin_ndcg10']:+.3f} "
            f"nDCG@10; topics more than 0.05 behind the best baseline: "
            f"{len(data['topics_more_than_0.05_behind_best'])} "
            f"({', '.join(data['topics_more_than_0.05_behind_best']) or 'none'})"
        )
    seconds = ", ".join(f"{k} {v:.1f}" for k, v in sorted(figures["seconds"].items()))
    lines += ["", f"seconds: {seconds}"]
    return "\n".join(lines)


def run(quick: bool = False, split: str | None = None) -> dict[str, Any]:
    minilm = baselines.load_minilm()
    if minilm is None:
        print("MiniLM baseline left out: install the bench extra (pip install -e '.[bench]')")
    results: dict[str, Any] = {"when": datetime.now(UTC).isoformat(), "quick": quick}
    for name in [split] if split else list(SPLITS):
        results[name] = evaluate(name, quick, minilm)
        print(report(name, results[name]), flush=True)
        print()
        if minilm is not None:
            minilm.save()
    path = save("rank_quality" + (f"-{split}" if split else ""), results)
    print(f"figures: {path}")
    return results
