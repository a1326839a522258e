"""Sparse tf-idf of words and word pairs, and the seeds' linear classifier over it.

"More like these" as arxiv-sanity-lite does it: every candidate's title and abstract as a
tf-idf vector of its content words and of its adjacent pairs of them (sublinear term
counts, smoothed idf over the candidates, unit length), and a linear classifier of the
seed papers against the candidates. The classifier is the balanced one in closed form:
the seeds' mean vector minus the candidates' mean vector, the weight vector a strongly
regularized linear SVM or ridge classifier comes down to when five positives face a day
of negatives (a ridge classifier solved exactly ranked no better on the development
days). The index is built once per set of candidates and kept with it.

Arrays in corpus order (by id): the same inputs give the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from digest.models import StoredPaper
from digest.rank.index import Corpus, content_terms, tokenize

DAY_SHARE = 1.0  # how much of the candidates' mean vector is set against the seeds'


@dataclass(frozen=True, slots=True)
class PairIndex:
    """The candidates' tf-idf of words and pairs, by row (document) and by column (term):
    each nonzero once in each layout, a row's or a column's entries between two starts.
    Columns: the words first (``words``), then the pairs of words (``pairs``, the two
    words' columns as one sorted key)."""

    size: int
    words: dict[str, int]
    pairs: np.ndarray
    idf: np.ndarray
    row_starts: np.ndarray
    row_cols: np.ndarray
    row_values: np.ndarray
    col_starts: np.ndarray
    col_rows: np.ndarray
    col_values: np.ndarray
    #: every row's dot product with the mean of all rows
    day: np.ndarray

    @property
    def width(self) -> int:
        return len(self.idf)

    def vector(self, tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """A text's unit-length tf-idf on this index (its columns and weights), from its
        tokens; words and pairs the candidates lack weigh in its length only, with the
        highest idf."""
        ids = np.array([self.words.get(w, -1) for w in content_terms(tokens)], dtype=np.int64)
        keys = ids[:-1] * len(self.words) + ids[1:]
        known = (ids[:-1] >= 0) & (ids[1:] >= 0)
        at = np.searchsorted(self.pairs, keys[known])
        found = at < len(self.pairs)
        found[found] = self.pairs[at[found]] == keys[known][found]
        columns = np.concatenate([ids[ids >= 0], len(self.words) + at[found]])
        unknown = int((ids < 0).sum()) + int(len(keys) - found.sum())
        terms, counts = _distinct(columns)
        weights = (1.0 + np.log(counts)) * self.idf[terms]
        unseen = math.log(self.size + 1) + 1.0
        norm = math.sqrt(float(weights @ weights) + unknown * unseen**2) or 1.0
        return terms, weights / norm

    def mean_of(self, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The mean of the rows ``docs``: its terms and their weights."""
        spans = _spans(self.row_starts, docs)
        terms, weights = _summed(self.row_cols[spans], self.row_values[spans])
        return terms, weights / max(len(docs), 1)

    def times(self, terms: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Every row's dot product with the vector of ``terms`` and their ``weights``."""
        spans = _spans(self.col_starts, terms)
        counts = self.col_starts[terms + 1] - self.col_starts[terms]
        scaled = self.col_values[spans] * np.repeat(weights, counts)
        return np.bincount(self.col_rows[spans], weights=scaled, minlength=self.size)


def _summed(terms: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``terms``, sorted, each with the sum of its ``weights``."""
    distinct, where = np.unique(terms, return_inverse=True)
    return distinct, np.bincount(where, weights=weights, minlength=len(distinct))


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values, sorted, and how often each occurs."""
    ordered = np.sort(values)
    if not len(ordered):
        return ordered, np.zeros(0, dtype=np.intp)
    firsts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    return ordered[firsts], np.diff(np.append(firsts, len(ordered)))


def _spans(starts: np.ndarray, which: np.ndarray) -> np.ndarray:
    """The positions of the entries of rows (or columns) ``which``, one after another."""
    begin = starts[which]
    counts = starts[which + 1] - begin
    offsets = np.repeat(begin - np.cumsum(counts) + counts, counts)
    return offsets + np.arange(int(counts.sum()))


def pair_index(corpus: Corpus) -> PairIndex:
    """The corpus's index of words and pairs, built on first use and kept with it."""
    found = getattr(corpus, "_pair_index", None)
    if found is None:
        found = _build(corpus)
        corpus._pair_index = found  # type: ignore[attr-defined]
    return found


def _build(corpus: Corpus) -> PairIndex:
    """Content words (stop words left out first, as in the usual word n-gram tf-idf) and
    their adjacent pairs, counted with numpy once each word has its column."""
    size = corpus.size
    words: dict[str, int] = {}
    ids: list[int] = []
    lengths = []
    for terms in corpus.content:
        ids += [words.setdefault(w, len(words)) for w in terms]
        lengths.append(len(terms))
    word_ids = np.array(ids, dtype=np.int64)
    doc = np.repeat(np.arange(size), lengths)
    same = doc[1:] == doc[:-1]
    keys = (word_ids[:-1] * len(words) + word_ids[1:])[same]
    pairs = _distinct(keys)[0]
    width = len(words) + len(pairs)
    rows = np.concatenate([doc, doc[1:][same]])
    cols = np.concatenate([word_ids, len(words) + np.searchsorted(pairs, keys)])
    cells, counts = _distinct(rows * width + cols)
    rows, cols = cells // width, cells % width  # by row, then column
    df = np.bincount(cols, minlength=width)
    idf = np.log((size + 1) / (df + 1)) + 1.0
    values = (1.0 + np.log(counts)) * idf[cols]
    norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=size))
    values /= np.where(norms > 0, norms, 1.0)[rows]
    row_starts = np.searchsorted(rows, np.arange(size + 1))
    by_col = np.lexsort((rows, cols))
    col_starts = np.searchsorted(cols[by_col], np.arange(width + 1))
    index = PairIndex(
        size,
        words,
        pairs,
        idf,
        row_starts,
        cols,
        values,
        col_starts,
        rows[by_col],
        values[by_col],
        np.zeros(size),
    )
    index.day[:] = index.times(*index.mean_of(np.arange(size)))
    return index


def seed_classifier(
    corpus: Corpus, docs: Sequence[int], seeds: Sequence[StoredPaper]
) -> np.ndarray:
    """The seeds against the candidates ``docs``: each one's dot product with the seeds'
    mean vector minus ``DAY_SHARE`` times that with the candidates' mean vector."""
    index = pair_index(corpus)
    if not seeds:
        return np.zeros(len(docs))
    parts = []
    for seed in seeds:
        position = corpus.position.get(seed.id)
        if position is None:
            parts.append(index.vector(tokenize(seed.title) + tokenize(seed.abstract)))
        else:
            parts.append(index.mean_of(np.array([position])))
    terms, weights = _summed(
        np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    )
    return _against_day(index, np.asarray(docs, dtype=np.intp), terms, weights / len(seeds))


def _against_day(
    index: PairIndex, docs: np.ndarray, terms: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    near = index.times(terms, weights)[docs]
    if len(docs) == index.size:
        return near - DAY_SHARE * index.day
    day = index.times(*index.mean_of(docs))[docs]
    return near - DAY_SHARE * day
