"""The relevance signals of a topic over one set of candidates, each as an array.

* lexical: BM25 over title and abstract, a keyword's phrase counted as one term, the
  title counting ``TITLE_BOOST`` times, the words of a phrase counted on their own at a
  lower weight (a phrase is more than its scattered words);
* semantic: cosine between each paper's embedding and the keywords (joined, and each
  alone), when the papers are embedded;
* seeds: a linear classifier learned from the seed papers against the candidates, over
  the embeddings (here), and one over the tf-idf of words and word pairs (``sparse.py``);
* feedback: a second classifier over the embeddings, trained on the first fused order's
  most confident papers against the rest (pseudo-relevance feedback).

Signals are put on one scale by z-scores over the candidates and summed. All of it is
pure arithmetic over arrays in id order: the same inputs give the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from digest.rank.index import STOPWORDS, Corpus, Vector, tokenize
from digest.rank.view import View

K1 = 1.2
B = 0.75
TITLE_BOOST = 2.0
WORD_SHARE = 0.5  # weight of a phrase's words on their own, shared among them
FEEDBACK_TOP = 20
FEEDBACK_WEIGHT = 1.0
RIDGE = 1.0


def zscore(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values
    spread = values.std()
    centred = values - values.mean()
    return centred / spread if spread > 1e-12 else np.zeros_like(centred)


def lexical(keywords: Sequence[str], corpus: Corpus, docs: Sequence[int]) -> np.ndarray:
    """BM25 of the keywords for each of ``docs`` (corpus positions)."""
    scores = np.zeros(len(docs))
    if not docs:
        return scores
    lengths = _field_lengths(corpus)[docs]
    norm = K1 * (1 - B + B * lengths / max(lengths.mean(), 1.0))
    where = np.full(corpus.size, -1)
    where[docs] = np.arange(len(docs))
    for keyword in keywords:
        phrase = tokenize(keyword)
        if not phrase:
            continue
        terms: list[tuple[list[str], float]] = [(phrase, 1.0)]
        if len(phrase) > 1:
            words = [w for w in phrase if w not in STOPWORDS]
            terms += [([w], WORD_SHARE / len(words)) for w in words]
        for term, weight in terms:
            tf = np.zeros(len(docs))
            for doc, count in corpus.phrase_counts(term, "title").items():
                if where[doc] >= 0:
                    tf[where[doc]] += TITLE_BOOST * count
            for doc, count in corpus.phrase_counts(term, "abstract").items():
                if where[doc] >= 0:
                    tf[where[doc]] += count
            df = int((tf > 0).sum())
            if not df:
                continue
            idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
            scores += weight * idf * tf * (K1 + 1) / (tf + norm)
    return scores


def _field_lengths(corpus: Corpus) -> np.ndarray:
    """Each document's length in tokens, the title counted ``TITLE_BOOST`` times (once
    per corpus)."""
    found = getattr(corpus, "_bm25_lengths", None)
    if found is None:
        found = np.array(
            [
                TITLE_BOOST * len(t) + len(a)
                for t, a in zip(corpus.titles, corpus.abstracts, strict=True)
            ],
            float,
        )
        corpus._bm25_lengths = found  # type: ignore[attr-defined]
    return found


def cosines(matrix: np.ndarray, present: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Cosine of each row with ``query``; rows with no vector get the mean (a z of 0)."""
    values = matrix @ query
    if not present.all():
        fill = float(values[present].mean()) if present.any() else 0.0
        values = np.where(present, values, fill)
    return values.astype(np.float64)


def classifier(view: View, positive: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
    """A balanced ridge classifier (least squares on ±1 with an L2 penalty) over the
    embedded rows of ``view`` and any ``extra`` rows (positives, e.g. seed papers that
    are not candidates), trained on those marked ``positive`` (one flag per embedded row)
    plus the extra rows against the rest; its scores for every embedded row, then every
    extra row. Closed form from the view's Gram matrix: only the positives' part is
    computed per topic."""
    x = view.embedded
    added = np.zeros((0, x.shape[1])) if extra is None else np.asarray(extra, np.float64)
    chosen = np.vstack([x[positive], added])
    size, count = len(x) + len(added), len(chosen)
    if count == 0 or count == size:
        return np.zeros(size)
    wp, wn = 0.5 / count, 0.5 / (size - count)
    total = view.total + added.sum(axis=0)
    total_p = chosen.sum(axis=0)
    weight = wp * count + wn * (size - count)
    mean = (wn * total + (wp - wn) * total_p) / weight
    target = wp * total_p - wn * (total - total_p) - mean * (wp * count - wn * (size - count))
    if len(added) or wp <= wn:
        moments = wn * (view.gram + added.T @ added) + (wp - wn) * (chosen.T @ chosen)
        gram = moments - weight * np.outer(mean, mean) + RIDGE / size * np.eye(x.shape[1])
        solution = np.linalg.solve(gram, target)
    else:
        solution = _updated_solve(view, wn, RIDGE / size, chosen, wp - wn, mean, -weight, target)
    return np.concatenate([x @ solution, added @ solution]) - float(mean @ solution)


def _updated_solve(
    view: View,
    scale: float,
    ridge: float,
    rows: np.ndarray,
    row_weight: float,
    mean: np.ndarray,
    mean_weight: float,
    target: np.ndarray,
) -> np.ndarray:
    """Solves ``(scale·G + ridge·I + row_weight·RᵀR + mean_weight·m mᵀ) s = target`` from
    the inverse of its first part, which every topic of a view shares: the rest is a
    low-rank update (Woodbury), a few rows per topic instead of a full solve."""
    key = (scale, ridge)
    base = view.inverses.get(key)
    if base is None:
        base = np.linalg.inv(scale * view.gram + ridge * np.eye(len(view.gram)))
        view.inverses[key] = base
    update = np.vstack([rows, mean]).T
    weights = np.concatenate([np.full(len(rows), 1.0 / row_weight), [1.0 / mean_weight]])
    applied = base @ update
    start = base @ target
    inner = np.diag(weights) + update.T @ applied
    return start - applied @ np.linalg.solve(inner, update.T @ start)


def top_mask(scores: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` best rows (ties by row, which is id order), as a mask."""
    order = np.lexsort((np.arange(len(scores)), -np.asarray(scores)))
    mask = np.zeros(len(scores), dtype=bool)
    mask[order[:count]] = True
    return mask


def feedback(fused: np.ndarray, view: View) -> np.ndarray:
    """Pseudo-relevance feedback: a classifier over the embeddings, trained on the day's
    ``FEEDBACK_TOP`` best by ``fused`` against the rest."""
    present = view.present
    if len(fused) <= FEEDBACK_TOP * 2 or present.sum() <= FEEDBACK_TOP * 2:
        return np.zeros(len(fused))
    positive = top_mask(fused, FEEDBACK_TOP) & present
    scores = classifier(view, positive[present])
    result = np.zeros(len(fused))
    result[present] = scores
    if not present.all():
        result[~present] = scores.mean()
    return result


def centroid_of(vectors: Sequence[Vector]) -> Vector:
    total: Vector = {}
    for vector in vectors:
        for term, weight in vector.items():
            total[term] = total.get(term, 0.0) + weight / len(vectors)
    norm = math.sqrt(sum(w * w for w in total.values())) or 1.0
    return {t: w / norm for t, w in total.items()}
