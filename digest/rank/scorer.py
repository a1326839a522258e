"""Scoring and picking the highlights of one topic among candidate papers.

A candidate's *relevance* is what ties it to the topic, in evidence a reader can check:
keyword and phrase matches (title above abstract, a phrase above its words scattered),
closeness in meaning to the keywords or to a seed paper, followed authors. Below
``relevance_floor`` a paper is not a highlight, however few candidates there are.

The *order* of the candidates is the sum of the topic's signals on one scale (z-scores
over the candidates, ``signals.py``): lexical BM25, semantic similarity to the keywords,
the seed classifiers, pseudo-relevance feedback. Categories, popularity (damped upvotes,
comments, stars), freshness and an editor's pin are added to the order; they never make
an unrelated paper a highlight. A topic with no keywords, seeds or authors is a
*trending* topic: the period's papers (of its categories, if it names some) ordered by
popularity, with a floor on popularity instead of relevance. The picks are the top
``max_items`` with no two near copies of one idea. Every score comes with its reasons.

Pure and deterministic: candidates are ordered by id before anything is summed, and
ties are broken by id, so the input order never matters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

import digest.rank.signals as sig
import digest.rank.sparse as sparse
from digest.config import RankSettings, TopicSettings
from digest.models import StoredPaper
from digest.picks import Pick
from digest.rank.embed import keyword_texts
from digest.rank.index import Corpus, Vector, cosine
from digest.rank.matches import AUTHOR, exclusions, keyword_matches, name_key
from digest.text import one_line

SEED_WEIGHT = 8.0  # relevance points per unit of tf-idf similarity to the seeds
SEED_MIN = 0.08
SEMANTIC_BASE = 0.35  # MiniLM cosine where closeness in meaning starts to count
SEMANTIC_POINTS = 5.0  # relevance points per unit of cosine above the base
SEED_SEMANTIC_BASE = 0.45
AUTHOR_ORDER = 2.0
CATEGORY_PRIMARY = 0.5
CATEGORY_CROSS = 0.25
POPULARITY = 0.3  # times the damped popularity, in the order of the relevant papers
FRESHNESS = 0.2
PIN = 1000.0
# signal weights of the fused order (z units)
WEIGHTS = {
    "lexical": 1.0,
    "semantic": 1.0,
    "semantic_each": 1.0,
    "seeds": 2.0,
    "seeds_semantic": 2.5,
    "feedback": 2.0,
}
FEEDBACK_SEEDS = 1.5  # the feedback weight of a topic of seed papers only


@dataclass(frozen=True, slots=True)
class TopicRanking:
    topic: TopicSettings
    ranked: tuple[Pick, ...]
    candidates: int
    relevant: int
    empty_reason: str | None = None
    missing_seeds: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    #: the signals that ordered this ranking ("lexical", "semantic", "popularity", ...)
    signals: tuple[str, ...] = ()

    @property
    def picks(self) -> tuple[Pick, ...]:
        chosen = [r for r in self.ranked if r.picked]
        return tuple(sorted(chosen, key=lambda r: (-r.score, r.paper.id)))

    @property
    def more_relevant(self) -> int:
        """Relevant papers that did not make the top N (for "what else arrived")."""
        return max(0, self.relevant - len(self.picks))


@dataclass(frozen=True, slots=True)
class _Scored:
    index: int
    score: float
    relevance: float
    reasons: tuple[str, ...]
    excluded: str | None
    pinned: bool
    signals: tuple[tuple[str, float], ...] = ()


def popularity(paper: StoredPaper) -> float:
    """Damped popularity: log upvotes, plus comments and code stars at lower weights."""
    return (
        math.log1p(paper.upvotes or 0)
        + 0.5 * math.log1p(paper.num_comments or 0)
        + 0.25 * math.log1p(paper.github_stars or 0)
    )


def _popularity_reasons(paper: StoredPaper) -> list[str]:
    reasons = []
    if paper.upvotes:
        reasons.append(f"{paper.upvotes:,} upvote{'s' if paper.upvotes != 1 else ''}")
    if paper.num_comments:
        reasons.append(f"{paper.num_comments:,} comment{'s' if paper.num_comments != 1 else ''}")
    if paper.github_stars:
        reasons.append(f"{paper.github_stars:,} stars on GitHub")
    return reasons


def rank_topic(
    topic: TopicSettings,
    corpus: Corpus,
    *,
    settings: RankSettings,
    now: datetime,
    seeds: Sequence[StoredPaper] = (),
    missing_seeds: Sequence[str] = (),
    pins: Mapping[str, str] | None = None,
    candidate_ids: Sequence[str] | None = None,
    picks: int | None = None,
    score_all: bool = True,
) -> TopicRanking:
    """Score ``corpus`` (or the ``candidate_ids`` of it) for ``topic`` and pick highlights.

    ``pins`` maps paper ids to ``"pin"`` or ``"drop"``, the editor's marks. ``picks``
    overrides how many are picked (delivery picks a few more than ``max_items`` and lets
    each subscriber's edition choose); without ``score_all``, papers with no tie to the
    topic at all are not listed.
    """
    pins = pins or {}
    allowed = (
        set(range(corpus.size))
        if candidate_ids is None
        else {corpus.position[i] for i in candidate_ids if i in corpus.position}
    )
    docs = sorted(allowed)
    trending = not (topic.keywords or seeds or topic.authors)
    text = keyword_matches(topic, corpus, allowed)
    excluded = exclusions(topic, corpus, allowed)
    followed = {name_key(a) for a in topic.authors}
    categories = set(topic.categories)
    arrays, relevance, evidence = _signals(topic, corpus, docs, seeds)
    weights = dict(WEIGHTS)
    if seeds and not topic.keywords:
        weights["feedback"] = FEEDBACK_SEEDS
    fused = np.zeros(len(docs))
    for name, values in arrays.items():
        fused += weights[name] * sig.zscore(values)
    used = [*arrays] or (["popularity"] if trending else [])

    scored: list[_Scored] = []
    for row, index in enumerate(docs):
        paper = corpus.papers[index]
        matches = text.get(index, ())
        points = sum(p for p, _ in matches) + float(relevance[row])
        tied = points > 0 or trending or pins.get(paper.id) == "pin"
        if not (score_all or tied or any(name_key(a) in followed for a in paper.authors)):
            continue  # no tie to the topic at all: not worth listing
        reasons = [r for _, r in matches] + evidence.get(row, [])
        order = float(fused[row])
        authors = [a for a in paper.authors if followed and name_key(a) in followed]
        for author in authors:
            points += AUTHOR
            order += AUTHOR_ORDER
            reasons.append(f"by followed author {author}")
        why_excluded = excluded.get(index)
        for position, category in enumerate(paper.categories):
            if category in categories:
                order += CATEGORY_PRIMARY if position == 0 else CATEGORY_CROSS
                reasons.append(
                    f"category {category}" if position == 0 else f"cross-listed in {category}"
                )
                break
        else:
            if trending and categories:
                why_excluded = why_excluded or "not in the topic's categories"
        popular = popularity(paper)
        reasons += _popularity_reasons(paper)
        if trending:
            points = popular
            order = popular
        else:
            order += POPULARITY * popular
        age_days = max(0.0, (now - (paper.published or paper.first_seen)).total_seconds() / 86400)
        fresh = math.exp(-age_days / settings.freshness_days)
        order += FRESHNESS * fresh
        mark = pins.get(paper.id)
        if mark == "drop":
            why_excluded = "dropped by the editor"
        elif paper.is_replacement and not settings.include_replacements and mark != "pin":
            why_excluded = "a revised version of an earlier paper"
        pinned = mark == "pin"
        if pinned:
            reasons.insert(0, "pinned by the editor")
            why_excluded = None
        shown = [(name, round(float(arrays[name][row]), 4)) for name in arrays]
        shown += [("popularity", round(popular, 4)), ("freshness", round(fresh, 4))]
        score = order + (PIN if pinned else 0.0)
        scored.append(
            _Scored(index, score, points, tuple(reasons), why_excluded, pinned, tuple(shown))
        )

    scored.sort(key=lambda s: (-s.score, corpus.papers[s.index].id))
    return _pick(
        topic,
        corpus,
        scored,
        settings,
        kind="popularity" if trending else "relevance",
        floor=settings.popularity_floor if trending else settings.relevance_floor,
        missing_seeds=tuple(missing_seeds),
        candidates=len(allowed),
        cap=picks if picks is not None else topic.max_items,
        used=tuple(used),
    )


def _signals(
    topic: TopicSettings, corpus: Corpus, docs: list[int], seeds: Sequence[StoredPaper]
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[int, list[str]]]:
    """The topic's signals over ``docs`` (one array each), the relevance points of the
    semantic and seed evidence, and that evidence's reasons per row."""
    arrays: dict[str, np.ndarray] = {}
    relevance = np.zeros(len(docs))
    evidence: dict[int, list[str]] = {}
    if not docs:
        return arrays, relevance, evidence
    semantic = corpus.semantic
    ids = [corpus.papers[d].id for d in docs]
    matrix, present = semantic.matrix(ids) if semantic else (np.zeros((0, 0)), np.zeros(0))
    embedded = semantic is not None and bool(present.any())
    if topic.keywords:
        arrays["lexical"] = sig.lexical(topic.keywords, corpus, docs)
        texts = keyword_texts(topic.keywords)
        if embedded and semantic and all(t in semantic.queries for t in texts):
            each = np.stack([sig.cosines(matrix, present, semantic.queries[t]) for t in texts[1:]])
            arrays["semantic"] = sig.cosines(matrix, present, semantic.queries[texts[0]])
            arrays["semantic_each"] = each.mean(axis=0)
            best = each.argmax(axis=0)
            for row in range(len(docs)):
                closeness = float(each[best[row], row]) if present[row] else 0.0
                if closeness > SEMANTIC_BASE:
                    relevance[row] += SEMANTIC_POINTS * (closeness - SEMANTIC_BASE)
                    keyword = topic.keywords[int(best[row])]
                    evidence.setdefault(row, []).append(f"close in meaning to '{keyword}'")
    if seeds:
        _seed_signals(corpus, docs, seeds, matrix, present, arrays, relevance, evidence)
    if embedded and arrays:
        fused = sum(WEIGHTS[n] * sig.zscore(v) for n, v in arrays.items())
        arrays["feedback"] = sig.feedback(np.asarray(fused), matrix, present, ids)
    return arrays, relevance, evidence


def _seed_signals(
    corpus: Corpus,
    docs: list[int],
    seeds: Sequence[StoredPaper],
    matrix: np.ndarray,
    present: np.ndarray,
    arrays: dict[str, np.ndarray],
    relevance: np.ndarray,
    evidence: dict[int, list[str]],
) -> None:
    """ "More like these": linear classifiers of the seeds against the candidates, over the
    tf-idf of words and word pairs and, with embeddings, over those; the closest seed is
    the reason."""
    seed_ids = {s.id for s in seeds}
    vectors = [corpus.vector_of(s) for s in seeds]
    arrays["seeds"] = sparse.seed_classifier(corpus, docs, seeds)
    per_seed = [corpus.similarities(v) for v in vectors]
    central = corpus.similarities(sig.centroid_of(vectors))
    closest: list[tuple[float, int]] = []
    for row, doc in enumerate(docs):
        best, which = max(
            ((sims.get(doc, 0.0), i) for i, sims in enumerate(per_seed)), key=lambda t: t[0]
        )
        closest.append((best, which))
        similarity = 0.5 * best + 0.5 * central.get(doc, 0.0)
        if similarity >= SEED_MIN and corpus.papers[doc].id not in seed_ids:
            relevance[row] += SEED_WEIGHT * similarity
    semantic = corpus.semantic
    seed_rows = [semantic.papers[s.id] for s in seeds if semantic and s.id in semantic.papers]
    if semantic and seed_rows and present.any():
        seed_matrix = np.stack(seed_rows)
        features = np.vstack([matrix[present], seed_matrix])
        positive = np.zeros(len(features), dtype=bool)
        positive[len(features) - len(seed_rows) :] = True
        scores = sig.classifier(features, positive)[: int(present.sum())]
        values = np.full(len(docs), float(scores.mean()) if len(scores) else 0.0)
        values[present] = scores
        arrays["seeds_semantic"] = values
        near = matrix @ seed_matrix.T
        with_vectors = [s for s in seeds if s.id in semantic.papers]
        for row in range(len(docs)):
            if not present[row] or corpus.papers[docs[row]].id in seed_ids:
                continue
            which = int(near[row].argmax())
            if near[row, which] > SEED_SEMANTIC_BASE:
                relevance[row] += SEMANTIC_POINTS * float(near[row, which] - SEED_SEMANTIC_BASE)
                closest[row] = (1.0, seeds.index(with_vectors[which]))
    for row, doc in enumerate(docs):
        if relevance[row] > 0 and corpus.papers[doc].id not in seed_ids:
            title = one_line(seeds[closest[row][1]].title, 60)
            evidence.setdefault(row, []).append(f"close to your seed paper '{title}'")


def _pick(
    topic: TopicSettings,
    corpus: Corpus,
    scored: list[_Scored],
    settings: RankSettings,
    *,
    kind: str,
    floor: float,
    missing_seeds: tuple[str, ...],
    candidates: int,
    cap: int,
    used: tuple[str, ...],
) -> TopicRanking:
    picked: list[tuple[int, Vector]] = []
    ranked: list[Pick] = []
    relevant = 0
    for item in scored:
        paper = corpus.papers[item.index]
        why_not: str | None = None
        twin: int | None = None
        if item.excluded:
            why_not = item.excluded
        elif item.relevance < floor and not item.pinned:
            why_not = f"below the {kind} floor ({item.relevance:.2f} < {floor:g})"
        else:
            relevant += 1
            vector = corpus.signatures[item.index]
            if len(picked) >= cap and not item.pinned:
                why_not = f"beyond the top {cap}"
            else:
                twin = next(
                    (
                        other
                        for other, v in picked
                        if cosine(vector, v) >= settings.diversity_threshold
                    ),
                    None,
                )
                if twin is not None and item.pinned:
                    twin = None
                if twin is not None:
                    why_not = f"near-duplicate of '{one_line(corpus.papers[twin].title, 60)}'"
                else:
                    picked.append((item.index, vector))
        ranked.append(
            Pick(
                paper,
                item.score,
                item.reasons,
                relevance=item.relevance,
                picked=why_not is None,
                why_not=why_not,
                duplicate_of=corpus.papers[twin].id if twin is not None else None,
                signals=item.signals,
            )
        )
    empty = None
    if not picked:
        empty = _empty_reason(candidates, ranked, floor, kind)
    return TopicRanking(
        topic, tuple(ranked), candidates, relevant, empty, missing_seeds, signals=used
    )


def _empty_reason(candidates: int, ranked: list[Pick], floor: float, kind: str) -> str:
    if candidates == 0:
        return "no new papers arrived in this period"
    best = next((r for r in ranked if r.why_not and r.why_not.startswith("below")), None)
    if best is None:
        return f"none of the {candidates} new papers could be picked (all excluded)"
    what = "matched closely enough" if kind == "relevance" else "is popular enough"
    return (
        f"none of the {candidates} new papers {what} (best: "
        f"'{one_line(best.paper.title, 60)}', {kind} {best.relevance:.2f} "
        f"below the floor {floor:g})"
    )
