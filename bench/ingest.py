"""Ingest benchmark: real feeds parsed and stored into a fresh SQLite store, end to end.

For each real file in ../shared/data, served by a local HTTP server and fetched through
the real client: items per second from request to committed rows, and, in the same
run, feedparser's parse rate alone on the same bytes (the baseline most feed tools
pay) and a plain XML parser's. Then a second fetch of the unchanged feeds (answered
304) against the first. Targets: >= 2,000 items/s end to end, second fetch >= 10x faster.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import feedparser
from lxml import etree

from bench.common import DATA, best_and_median, save, serve_directory, table
from digest.config import FetchSettings, parse_settings
from digest.fetch import fetch_sources
from digest.http import HttpClient
from digest.store import Store

FILES = [
    ("arxiv-rss", "arxiv-rss/rss.arxiv.org_all-archives_2024-11-28.xml"),
    ("arxiv-rss", "arxiv-rss/rss.arxiv.org_atom_cs.AI_2025-08-20.xml"),
    ("arxiv-api", "arxiv-api/export.arxiv.org_query_cs.AI-LG-CL_25_2026-08-02.xml"),
    ("hf-daily", "hf-daily/api_daily_papers_raw_2026-07-31.json"),
    ("feed", "feeds-tricky/realworld/substack_interconnects_rss.xml"),
    ("listing", "listing/000_f818781e1eb7ac74.txt"),
]


def _settings(base_url: str, db: Path, files: list[tuple[str, str]]):
    sources = []
    for index, (kind, rel) in enumerate(files):
        source = {"name": f"s{index}", "kind": kind, "url": f"{base_url}/{rel}"}
        if kind == "arxiv-api":  # a saved response: one page, read as it is
            source["url"] = (DATA / rel).as_uri()
        sources.append(source)
    return parse_settings({"store": {"url": f"sqlite:///{db}"}, "sources": sources})


def _fetch_once(
    base_url: str, files: list[tuple[str, str]], workdir: Path
) -> tuple[float, float, int]:
    """Fresh store; first fetch and second (unchanged) fetch; returns seconds and items."""
    db = workdir / f"bench-{time.perf_counter_ns()}.db"
    settings = _settings(base_url, db, files)
    store = Store.open(settings.store.url)
    with HttpClient(FetchSettings()) as http:
        start = time.perf_counter()
        reports = fetch_sources(settings, store, http=http)
        first = time.perf_counter() - start
        start = time.perf_counter()
        again = fetch_sources(settings, store, http=http)
        second = time.perf_counter() - start
    store.close()
    assert all(r.status == "ok" for r in reports), [r.summary() for r in reports]
    assert all(r.status == "not-modified" for r in again), [r.summary() for r in again]
    return first, second, sum(r.counts.new + r.counts.updated for r in reports)


def _parse_rates(rel: str, repeat: int) -> tuple[int, float, float | None]:
    data = (DATA / rel).read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        count = len(feedparser.parse(data).entries)
        fp_best, _ = best_and_median(lambda: feedparser.parse(data), repeat)
    if not rel.endswith(".xml"):
        return count, fp_best, None
    xml_best, _ = best_and_median(lambda: etree.fromstring(data), repeat)
    return count, fp_best, xml_best


def run(quick: bool = False) -> dict:
    repeat = 3 if quick else 7
    workdir = Path(tempfile.mkdtemp(prefix="digest-bench-"))
    rows = []
    figures: dict = {"when": datetime.now(UTC).isoformat(), "repeat": repeat, "files": {}}
    try:
        with serve_directory(DATA) as base_url:
            for kind, rel in FILES:
                runs = [_fetch_once(base_url, [(kind, rel)], workdir) for _ in range(repeat)]
                first = min(r[0] for r in runs)
                second = min(r[1] for r in runs)
                items = runs[0][2]
                count, fp, xml = _parse_rates(rel, repeat) if kind != "listing" else (0, 0, None)
                figures["files"][rel] = {
                    "items": items,
                    "end_to_end_s": first,
                    "items_per_s": items / first,
                    "second_fetch_s": second,
                    "speedup_second": first / second,
                    "feedparser_items_per_s": count / fp if count else None,
                    "xml_items_per_s": items / xml if xml else None,
                }
                rows.append(
                    [
                        Path(rel).name[:44],
                        items,
                        f"{items / first:,.0f}",
                        f"{count / fp:,.0f}" if count else "-",
                        f"{items / xml:,.0f}" if xml else "-",
                        f"{first * 1000:.1f}",
                        f"{second * 1000:.1f}",
                        f"{first / second:.0f}x",
                    ]
                )
            # all files in one fetch, as a daily run sees them
            runs = [_fetch_once(base_url, FILES, workdir) for _ in range(repeat)]
            first, second, items = min(r[0] for r in runs), min(r[1] for r in runs), runs[0][2]
            figures["all"] = {
                "items": items,
                "end_to_end_s": first,
                "items_per_s": items / first,
                "second_fetch_s": second,
                "speedup_second": first / second,
            }
            rows.append(
                [
                    "ALL FILES, one fetch",
                    items,
                    f"{items / first:,.0f}",
                    "",
                    "",
                    f"{first * 1000:.1f}",
                    f"{second * 1000:.1f}",
                    f"{first / second:.0f}x",
                ]
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        table(
            [
                "file",
                "items",
                "items/s e2e",
                "feedparser/s",
                "lxml/s",
                "first ms",
                "second ms",
                "2nd faster",
            ],
            rows,
        )
    )
    big = figures["files"][FILES[0][1]]
    print(
        f"\n1,504-item arXiv feed: {big['items_per_s']:,.0f} items/s end to end "
        f"({big['items_per_s'] / big['feedparser_items_per_s']:.1f}x feedparser alone), "
        f"second fetch {big['speedup_second']:.0f}x faster. Targets: >= 2,000 items/s, >= 10x."
    )
    print(f"results: {save('ingest', figures)}")
    return figures
