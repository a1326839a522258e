"""What every topic ranked over one set of candidates shares, computed once per set.

A run ranks hundreds of topics over the same window of papers. Their embeddings as one
matrix, that matrix's Gram matrix (the costly part of every linear classifier over
them), each paper's damped popularity, publication time and whether it is a revision do
not depend on the topic: a ``View`` holds them, kept with the corpus by candidate set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from digest.models import StoredPaper
from digest.rank.index import Corpus

VIEWS_KEPT = 8  # candidate sets kept per corpus (a run has one per window start)


def popularity(paper: StoredPaper) -> float:
    """Damped popularity: log upvotes, plus comments and code stars at lower weights."""
    return (
        math.log1p(paper.upvotes or 0)
        + 0.5 * math.log1p(paper.num_comments or 0)
        + 0.25 * math.log1p(paper.github_stars or 0)
    )


@dataclass(frozen=True, slots=True)
class View:
    """The candidates ``docs`` (corpus positions, ascending: rows are in id order)."""

    docs: list[int]
    ids: list[str]
    #: corpus position -> row, -1 for papers that are not candidates
    row_of: np.ndarray
    #: embeddings by row (zeros where a paper has none) and which rows have one
    matrix: np.ndarray
    present: np.ndarray
    #: the embedded rows in float64, their Gram matrix and their column sums
    embedded: np.ndarray
    gram: np.ndarray
    total: np.ndarray
    popularity: np.ndarray
    replacement: np.ndarray
    published: np.ndarray  # POSIX seconds (publication, else first seen)
    #: inverses of the classifiers' shared part (``signals.classifier``), by its terms
    inverses: dict[tuple[float, float], np.ndarray] = field(default_factory=dict)

    def freshness(self, now: datetime, days: float) -> np.ndarray:
        age = np.maximum(0.0, (now.timestamp() - self.published) / 86400)
        return np.exp(-age / days)


def view_of(corpus: Corpus, docs: Sequence[int]) -> View:
    """The view of the candidates ``docs`` (sorted), built on first use and kept."""
    views: dict[tuple[int, ...], View] = corpus.__dict__.setdefault("_views", {})
    key = tuple(docs)
    found = views.get(key)
    if found is None:
        if len(views) >= VIEWS_KEPT:
            views.pop(next(iter(views)))
        found = views[key] = _build(corpus, list(docs))
    return found


def _build(corpus: Corpus, docs: list[int]) -> View:
    papers = [corpus.papers[d] for d in docs]
    ids = [p.id for p in papers]
    row_of = np.full(corpus.size, -1, dtype=np.intp)
    row_of[docs] = np.arange(len(docs))
    semantic = corpus.semantic
    if semantic is not None and docs:
        matrix, present = semantic.matrix(ids)
    else:
        matrix, present = np.zeros((len(docs), 0), dtype=np.float32), np.zeros(len(docs), bool)
    embedded = matrix[present].astype(np.float64)
    return View(
        docs,
        ids,
        row_of,
        matrix,
        present,
        embedded,
        embedded.T @ embedded,
        embedded.sum(axis=0),
        np.array([popularity(p) for p in papers], dtype=np.float64),
        np.array([p.is_replacement for p in papers], dtype=bool),
        np.array([(p.published or p.first_seen).timestamp() for p in papers], dtype=np.float64),
    )
