"""Embedding benchmark: how fast papers are embedded for semantic ranking.

Stores the 1,504-paper arXiv listing (../shared/data/arxiv-rss, 2024-11-28) in a fresh
store without embedding, then embeds every stored paper as the fetch does after an
ingest (``embed_stored``: all-MiniLM-L6-v2, 128 tokens, CPU, vectors written to the
store), and reports the model's load time, the papers per second and the time for the
whole listing. Needs the ``semantic`` extra.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import DATA, save
from digest.config import load_settings
from digest.fetch import fetch_sources
from digest.rank.embed import MiniLM, embed_stored, semantic_installed
from digest.store import Store

LISTING = DATA / "arxiv-rss" / "rss.arxiv.org_all-archives_2024-11-28.xml"


def run(quick: bool = False) -> dict[str, Any]:
    if not semantic_installed():
        print("left out: install the semantic extra (pip install -e '.[semantic]')")
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "digest.toml"
        config.write_text(
            f'[store]\nurl = "sqlite:///{Path(tmp) / "digest.db"}"\n'
            "[rank]\nsemantic = false\n"
            f'[[sources]]\nname = "all"\nkind = "arxiv-rss"\npath = "{LISTING}"\n'
        )
        settings = load_settings(config)
        with Store.open(settings.store.url) as store:
            start = time.perf_counter()
            fetch_sources(settings, store, now=lambda: datetime.now(UTC))
            ingest = time.perf_counter() - start
            papers = len(store.papers())
            embedder = MiniLM()
            start = time.perf_counter()
            embedder.embed(["warm-up"])
            load = time.perf_counter() - start
            start = time.perf_counter()
            done = embed_stored(store, embedder)
            seconds = time.perf_counter() - start
            assert done == papers and not store.unembedded(embedder.name)
    figures = {
        "papers": papers,
        "ingest_seconds": round(ingest, 2),
        "model_load_seconds": round(load, 2),
        "embed_seconds": round(seconds, 2),
        "papers_per_second": round(papers / seconds, 1),
    }
    print(
        f"{papers} papers: ingest {ingest:.1f} s; model load {load:.1f} s; embedding and "
        f"storing {seconds:.1f} s ({papers / seconds:.1f} papers/s)"
    )
    print(f"figures: {save('embed', figures)}")
    return figures
