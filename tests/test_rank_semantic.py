"""Ranking by meaning: embeddings stored once and reused, the semantic and seed signals
with their reasons, trending topics, and the lexical-only fallback.

A small deterministic embedder implements the ``Embedder`` protocol (words mapped to a
few concepts), so these run without the semantic extra; the one test of the real model
is skipped with a reason when the extra is not installed.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from conftest import SAMPLE_DAY, SAMPLE_NOW, fetched_store
from test_rank import NOW
from test_rank import paper as ranked_paper

from digest.compose import compose
from digest.config import RankSettings, TopicSettings
from digest.fetch import fetch_sources
from digest.models import StoredPaper
from digest.periods import parse_period
from digest.rank import Corpus, rank_topic, signals
from digest.rank import embed as embed_module
from digest.rank.embed import MiniLM, Semantic, keyword_texts, semantic_installed
from digest.rank.view import view_of

CONCEPTS = {
    "robot": "robot",
    "manipulator": "robot",
    "grasping": "robot",
    "gripper": "robot",
    "protein": "biology",
    "folding": "biology",
    "galaxy": "astro",
    "galaxies": "astro",
}


class ConceptEmbedder:
    """Deterministic: each word votes for its concept (or a hashed slot); counts calls."""

    name = "test-concepts"
    dimension = 32

    def __init__(self) -> None:
        self.calls = 0
        self.texts: list[str] = []

    def embed(self, texts):
        self.calls += 1
        self.texts += list(texts)
        rows = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().replace(",", " ").replace(".", " ").split():
                key = CONCEPTS.get(word, word)
                slot = int(hashlib.sha256(key.encode()).hexdigest(), 16) % self.dimension
                rows[i, slot] += 3.0 if word in CONCEPTS else 0.2
            norm = np.linalg.norm(rows[i]) or 1.0
            rows[i] /= norm
        return rows


def paper(pid: str, title: str, abstract: str = "", **kw) -> StoredPaper:
    """The ranking tests' paper, filed under robotics unless told otherwise."""
    return ranked_paper(pid, title, abstract, **{"categories": ("cs.RO",), **kw})


def semantic_corpus(papers, keywords=(), seeds=()):
    embedder = ConceptEmbedder()
    everything = [*papers, *seeds]
    vectors = embedder.embed([embed_module.paper_text(p) for p in everything])
    texts = keyword_texts(list(keywords))
    queries = dict(zip(texts, embedder.embed(texts), strict=True)) if texts else {}
    semantic = Semantic(
        embedder.name, {p.id: vectors[i] for i, p in enumerate(everything)}, queries
    )
    return Corpus(papers, semantic)


FILLER = [
    paper(f"f{i}", f"Notes on topic {i}", f"We study subject {i} with tables and plots.")
    for i in range(8)
]


def test_a_paper_that_never_says_the_keyword_is_found_by_meaning_and_says_why():
    papers = [
        paper("grasp", "Learning to pick up cups", "A manipulator with a gripper for grasping."),
        paper("fold", "Protein folding at scale", "Folding proteins."),
        *FILLER,
    ]
    topic = TopicSettings(slug="r", name="R", keywords=["robot"], max_items=3)
    words = rank_topic(topic, Corpus(papers), settings=RankSettings(), now=NOW)
    assert words.signals == ("lexical",) and not words.picks
    result = rank_topic(
        topic, semantic_corpus(papers, topic.keywords), settings=RankSettings(), now=NOW
    )
    assert {"lexical", "semantic", "semantic_each"} <= set(result.signals)
    top = result.ranked[0]
    assert top.paper.id == "grasp" and top.picked
    assert "close in meaning to 'robot'" in top.reasons
    assert dict(top.signals)["semantic"] > dict(result.ranked[-1].signals)["semantic"]


def test_seed_topics_learn_from_the_seeds_and_name_the_closest_one():
    seeds = [
        paper("s1", "Gripper design for grasping", "A robot gripper."),
        paper("s2", "Galaxy rotation curves", "Galaxies rotate."),
    ]
    papers = [paper("grasp", "Manipulator control", "Grasping with a manipulator."), *FILLER]
    topic = TopicSettings(slug="s", name="S", seed_papers=["s1", "s2"], max_items=2)
    result = rank_topic(
        topic,
        semantic_corpus(papers, seeds=seeds),
        settings=RankSettings(),
        now=NOW,
        seeds=seeds,
    )
    assert "seeds_semantic" in result.signals
    top = result.ranked[0]
    assert top.paper.id == "grasp" and top.picked
    assert "close to your seed paper 'Gripper design for grasping'" in top.reasons


def test_popularity_orders_the_relevant_papers_and_never_makes_relevance():
    papers = [
        paper("quiet", "Robot arm calibration", "We calibrate a robot arm with a camera."),
        paper("loud", "Robot grasping benchmarks", "A robot grasps things.", upvotes=283),
        paper("viral", "Protein folding", "Folding.", upvotes=5000),
        *FILLER,
    ]
    topic = TopicSettings(slug="r", name="R", keywords=["robot"], max_items=5)
    result = rank_topic(topic, Corpus(papers), settings=RankSettings(), now=NOW)
    order = [r.paper.id for r in result.picks]
    assert order[:2] == ["loud", "quiet"] and "viral" not in order
    assert "283 upvotes" in result.picks[0].reasons


def test_a_topic_with_no_keywords_seeds_or_authors_is_trending():
    papers = [
        paper("a", "Anything", upvotes=292, num_comments=4),
        paper("b", "Something", upvotes=40, github_stars=1200),
        paper("c", "Quiet", upvotes=None),
        paper("d", "Elsewhere", upvotes=900, categories=("astro-ph.GA",)),
    ]
    trending = TopicSettings(slug="t", name="Trending", max_items=5)
    result = rank_topic(trending, Corpus(papers), settings=RankSettings(), now=NOW)
    assert [r.paper.id for r in result.picks] == ["d", "a", "b"]
    assert result.signals == ("popularity",)
    assert "292 upvotes" in result.picks[1].reasons
    assert "1,200 stars on GitHub" in result.picks[2].reasons
    quiet = next(r for r in result.ranked if r.paper.id == "c")
    assert quiet.why_not.startswith("below the popularity floor")
    in_cs = trending.model_copy(update={"categories": ["cs.RO"]})
    result = rank_topic(in_cs, Corpus(papers), settings=RankSettings(), now=NOW)
    assert [r.paper.id for r in result.picks] == ["a", "b"]
    nothing = rank_topic(trending, Corpus(papers[2:3]), settings=RankSettings(), now=NOW)
    assert nothing.empty_reason.startswith("none of the 1 new papers is popular enough")


def test_papers_are_embedded_once_at_ingest_and_a_second_ranking_calls_the_model_zero_times(
    sample, monkeypatch
):
    embedder = ConceptEmbedder()
    monkeypatch.setattr(embed_module, "default_embedder", lambda: embedder)
    store = fetched_store(sample)
    try:
        stored = store.papers()
        assert embedder.calls >= 1 and store.unembedded(embedder.name) == []
        assert {embed_module.paper_text(p) for p in stored} <= set(embedder.texts)
        blob = store.vectors(embedder.name, [stored[0].id])[stored[0].id]
        assert blob[0] == embedder.dimension and len(blob[1]) == 4 * embedder.dimension
        period = parse_period(SAMPLE_DAY, "UTC")
        at_ingest = len(embedder.texts)
        first = compose(sample, store, period, sample.topics, SAMPLE_NOW)
        keyword_only = set(embedder.texts[at_ingest:])
        assert keyword_only <= {t for topic in sample.topics for t in keyword_texts(topic.keywords)}
        calls = embedder.calls
        second = compose(sample, store, period, sample.topics, SAMPLE_NOW)
        assert embedder.calls == calls  # a second ranking: the model is never called
        assert [[p.paper.id for p in r.picks] for r in first.rankings] == [
            [p.paper.id for p in r.picks] for r in second.rankings
        ]
        assert "semantic" in first.rankings[0].signals
        fetch_sources(sample, store, now=lambda: SAMPLE_NOW)  # nothing new: nothing embedded
        assert embedder.calls == calls
    finally:
        store.close()


def test_without_the_extra_ranking_is_lexical_and_says_so(sample, monkeypatch):
    monkeypatch.setattr(embed_module, "default_embedder", lambda: None)
    store = fetched_store(sample)
    try:
        composition = compose(
            sample, store, parse_period(SAMPLE_DAY, "UTC"), sample.topics, SAMPLE_NOW
        )
    finally:
        store.close()
    by_slug = {r.topic.slug: r for r in composition.rankings}
    assert by_slug["rl"].signals == ("lexical",) and by_slug["rl"].picks
    assert by_slug["trending"].signals == ("popularity",) and by_slug["trending"].picks
    assert all("upvote" in " ".join(p.reasons) for p in by_slug["trending"].picks)


def test_a_stored_vector_of_another_size_is_embedded_again(store):
    embedder = ConceptEmbedder()
    papers = [paper("x", "Robot")]
    store.save_vectors(embedder.name, 3, {"x": np.zeros(3, dtype="<f4").tobytes()})
    semantic = Semantic.load(store, embedder, papers)
    assert semantic is not None and semantic.papers["x"].shape == (embedder.dimension,)
    assert embedder.calls == 1
    again = Semantic.load(store, embedder, papers)
    assert again is not None and embedder.calls == 1
    assert Semantic.load(store, None, papers) is None


@pytest.mark.skipif(
    not semantic_installed(), reason="the semantic extra (sentence-transformers) is not installed"
)
def test_the_minilm_model_loads_offline_and_embeds_by_meaning():
    model = MiniLM()
    vectors = model.embed(
        [
            "robot",
            "A manipulator learns to grasp cups with a two-finger gripper.",
            "Stellar populations in nearby dwarf galaxies.",
        ]
    )
    assert vectors.shape == (3, model.dimension) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[1] @ vectors[0] > vectors[2] @ vectors[0]


def test_the_classifiers_from_the_shared_gram_matrix_equal_a_direct_solve():
    """The feedback and seed classifiers reuse the candidates' Gram matrix (and, for the
    feedback, a low-rank update of its shared inverse): the same scores as solving the
    balanced ridge problem over the rows themselves."""
    rng = np.random.default_rng(5)
    papers = [paper(f"p{i:03d}", f"Paper {i}") for i in range(120)]
    vectors = rng.normal(size=(120, 24)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    seeds = rng.normal(size=(3, 24)).astype(np.float32)
    semantic = Semantic("test", {p.id: vectors[i] for i, p in enumerate(papers)}, {})
    view = view_of(Corpus(papers, semantic), list(range(120)))

    def direct(x, positive):
        x = np.asarray(x, np.float64)
        y = np.where(positive, 1.0, -1.0)
        count = positive.sum()
        w = np.where(positive, 0.5 / count, 0.5 / (len(y) - count))
        mean = (w[:, None] * x).sum(axis=0) / w.sum()
        c = x - mean
        gram = c.T @ (w[:, None] * c) + signals.RIDGE / len(y) * np.eye(x.shape[1])
        return c @ np.linalg.solve(gram, c.T @ (w * y))

    top = np.zeros(120, dtype=bool)
    top[rng.choice(120, 20, replace=False)] = True
    for _ in range(2):  # the second time from the kept inverse
        assert np.allclose(signals.classifier(view, top), direct(vectors, top), atol=1e-9)
    with_seeds = signals.classifier(view, np.zeros(120, dtype=bool), extra=seeds)
    marks = np.r_[np.zeros(120, dtype=bool), np.ones(3, dtype=bool)]
    assert np.allclose(with_seeds, direct(np.vstack([vectors, seeds]), marks), atol=1e-9)
