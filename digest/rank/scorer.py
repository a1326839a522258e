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
from digest.rank.index import Corpus
from digest.rank.matches import exclusions, keyword_matches
from digest.rank.table import Table
from digest.rank.view import View, view_of
from digest.text import one_line

SEED_WEIGHT = 8.0  # relevance points per unit of tf-idf similarity to the seeds
SEED_MIN = 0.08
SEMANTIC_BASE = 0.35  # MiniLM cosine where closeness in meaning starts to count
SEMANTIC_POINTS = 5.0  # relevance points per unit of cosine above the base
SEED_SEMANTIC_BASE = 0.45
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
    each subscriber's edition choose). With ``score_all`` every candidate is listed with
    its reasons (``digest rank``, the preview); without it only the papers looked at to
    make the picks are (the picks, their near-duplicates and what fell below the floor
    or was excluded on the way), and papers with no tie to the topic at all are passed
    over: a run ranking hundreds of topics writes reasons for a few dozen papers each.
    """
    pins = pins or {}
    allowed = (
        set(range(corpus.size))
        if candidate_ids is None
        else {corpus.position[i] for i in candidate_ids if i in corpus.position}
    )
    view = view_of(corpus, sorted(allowed))
    trending = not (topic.keywords or seeds or topic.authors)
    arrays, relevance, evidence = _signals(topic, corpus, view, seeds)
    weights = dict(WEIGHTS)
    if seeds and not topic.keywords:
        weights["feedback"] = FEEDBACK_SEEDS
    fused = np.zeros(len(view.docs))
    for name, values in arrays.items():
        fused += weights[name] * sig.zscore(values)
    table = Table(
        topic,
        corpus,
        view,
        settings,
        now=now,
        pins=pins,
        trending=trending,
        fused=fused,
        relevance=relevance,
        text=keyword_matches(topic, corpus, allowed),
        excluded=exclusions(topic, corpus, allowed),
        arrays=arrays,
        evidence=evidence,
    )
    floor = settings.popularity_floor if trending else settings.relevance_floor
    ranked, relevant, empty = table.walk(
        kind="popularity" if trending else "relevance",
        floor=floor,
        every=score_all,
        cap=picks if picks is not None else topic.max_items,
    )
    used = [*arrays] or (["popularity"] if trending else [])
    return TopicRanking(
        topic, ranked, len(allowed), relevant, empty, tuple(missing_seeds), signals=tuple(used)
    )


def _signals(
    topic: TopicSettings, corpus: Corpus, view: View, seeds: Sequence[StoredPaper]
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[int, list[str]]]:
    """The topic's signals over the view's rows (one array each), the relevance points
    of the semantic and seed evidence, and that evidence's reasons per row."""
    arrays: dict[str, np.ndarray] = {}
    size = len(view.docs)
    relevance = np.zeros(size)
    evidence: dict[int, list[str]] = {}
    if not size:
        return arrays, relevance, evidence
    semantic, matrix, present = corpus.semantic, view.matrix, view.present
    embedded = semantic is not None and bool(present.any())
    if topic.keywords:
        arrays["lexical"] = sig.lexical(topic.keywords, corpus, view.docs)
        texts = keyword_texts(topic.keywords)
        if embedded and semantic and all(t in semantic.queries for t in texts):
            each = np.stack([sig.cosines(matrix, present, semantic.queries[t]) for t in texts[1:]])
            arrays["semantic"] = sig.cosines(matrix, present, semantic.queries[texts[0]])
            arrays["semantic_each"] = each.mean(axis=0)
            best = each.argmax(axis=0)
            closeness = np.where(present, each[best, np.arange(size)], 0.0)
            for row in np.flatnonzero(closeness > SEMANTIC_BASE).tolist():
                relevance[row] += SEMANTIC_POINTS * (float(closeness[row]) - SEMANTIC_BASE)
                keyword = topic.keywords[int(best[row])]
                evidence.setdefault(row, []).append(f"close in meaning to '{keyword}'")
    if seeds:
        _seed_signals(corpus, view, seeds, arrays, relevance, evidence)
    if embedded and arrays:
        fused = sum(WEIGHTS[n] * sig.zscore(v) for n, v in arrays.items())
        arrays["feedback"] = sig.feedback(np.asarray(fused), view)
    return arrays, relevance, evidence


def _seed_signals(
    corpus: Corpus,
    view: View,
    seeds: Sequence[StoredPaper],
    arrays: dict[str, np.ndarray],
    relevance: np.ndarray,
    evidence: dict[int, list[str]],
) -> None:
    """ "More like these": linear classifiers of the seeds against the candidates, over the
    tf-idf of words and word pairs and, with embeddings, over those; the closest seed is
    the reason."""
    docs, matrix, present = view.docs, view.matrix, view.present
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
        embedded = int(present.sum())
        scores = sig.classifier(view, np.zeros(embedded, dtype=bool), extra=seed_matrix)
        values = np.full(len(docs), float(scores[:embedded].mean()))
        values[present] = scores[:embedded]
        arrays["seeds_semantic"] = values
        near = matrix @ seed_matrix.T
        which = near.argmax(axis=1)
        nearest = near[np.arange(len(docs)), which]
        with_vectors = [s for s in seeds if s.id in semantic.papers]
        for row in np.flatnonzero(present & (nearest > SEED_SEMANTIC_BASE)).tolist():
            if view.ids[row] in seed_ids:
                continue
            relevance[row] += SEMANTIC_POINTS * float(nearest[row] - SEED_SEMANTIC_BASE)
            closest[row] = (1.0, seeds.index(with_vectors[int(which[row])]))
    for row in np.flatnonzero(relevance > 0).tolist():
        if view.ids[row] not in seed_ids:
            title = one_line(seeds[closest[row][1]].title, 60)
            evidence.setdefault(row, []).append(f"close to your seed paper '{title}'")
