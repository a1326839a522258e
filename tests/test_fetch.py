"""Fetching through the real HTTP client from a real server on 127.0.0.1."""

from __future__ import annotations

import gzip
import re
import socket
import zlib
from datetime import UTC, datetime

import pytest
from conftest import (
    API_BODIES,
    API_QUERY,
    HF_RAW,
    RSS_ALL,
    RSS_ATOM,
    RSS_ERROR,
    SAMPLE,
    make_settings,
)

from digest.errors import FetchError
from digest.fetch import fetch_sources

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def run(open_store, tmp_path, sources, http_client, **kwargs):
    settings = make_settings(tmp_path, sources, **kwargs)
    store = open_store(settings)
    reports = fetch_sources(settings, store, http=http_client, now=lambda: NOW)
    return reports, store


@pytest.mark.realdata
def test_feed_over_http_then_an_unchanged_feed_costs_a_304(
    tmp_path, http_server, http_client, open_store
):
    url = http_server.serve("/rss/all", RSS_ALL)
    sources = [{"name": "all", "kind": "arxiv-rss", "url": url}]
    reports, store = run(open_store, tmp_path, sources, http_client)
    assert reports[0].status == "ok" and reports[0].counts.new == 1504
    assert store.source_state("all").etag
    request = http_server.hits("/rss/all")[0]
    assert request.headers["User-Agent"].startswith("PaperDigest/")
    assert "If-None-Match" not in request.headers

    again = fetch_sources(
        make_settings(tmp_path, sources), store, http=http_client, now=lambda: NOW
    )
    second = http_server.hits("/rss/all")[1]
    assert second.status == 304 and second.headers["If-None-Match"]
    assert again[0].status == "not-modified"
    assert (again[0].counts.new, again[0].counts.unchanged) == (0, 1504)
    assert len(store.papers()) == 1504


@pytest.mark.realdata
def test_retry_after_a_503_honours_retry_after(
    tmp_path, http_server, http_client, fake_time, open_store
):
    url = http_server.serve("/rss/atom", RSS_ATOM)
    http_server.fail_first("/rss/atom", (503, {"Retry-After": "7"}), (500, {}))
    reports, store = run(
        open_store, tmp_path, [{"name": "atom", "kind": "arxiv-rss", "url": url}], http_client
    )
    assert reports[0].status == "ok" and reports[0].counts.new == 7
    assert [r.status for r in http_server.hits("/rss/atom")] == [503, 500, 200]
    assert fake_time.sleeps == [7.0, 2.0]  # Retry-After, then backoff 1 s doubled


@pytest.mark.realdata
def test_429_then_success(tmp_path, http_server, http_client, fake_time, open_store):
    url = http_server.serve("/hf", HF_RAW)
    http_server.fail_first("/hf", (429, {"Retry-After": "3"}))
    reports, _ = run(
        open_store, tmp_path, [{"name": "hf", "kind": "hf-daily", "url": url}], http_client
    )
    assert reports[0].counts.new == 30 and fake_time.sleeps == [3.0]


@pytest.mark.realdata
def test_a_source_that_keeps_failing_is_skipped_and_the_others_stored(
    tmp_path, http_server, http_client, open_store
):
    good = http_server.serve("/atom", RSS_ATOM)
    bad_arxiv = http_server.serve("/rss/astroph", RSS_ERROR)
    http_server.fail_first("/down", *[(503, {})] * 4)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/feed"
    sources = [
        {"name": "missing", "kind": "feed", "url": http_server.url("/nothing-here")},
        {"name": "down", "kind": "feed", "url": http_server.url("/down")},
        {"name": "closed", "kind": "feed", "url": closed},
        {"name": "astroph", "kind": "arxiv-rss", "url": bad_arxiv},
        {"name": "good", "kind": "arxiv-rss", "url": good},
    ]
    reports, store = run(open_store, tmp_path, sources, http_client)
    by_name = {r.name: r for r in reports}
    assert by_name["good"].counts.new == 7 and len(store.papers()) == 7
    assert by_name["missing"].summary() == (
        f"missing: failed: HTTP 404 Not Found from {http_server.url('/nothing-here')}"
    )
    assert "HTTP 503" in by_name["down"].error
    assert by_name["closed"].error == f"cannot connect for {closed} (after 4 attempts)"
    assert "Bad archive 'astroph'" in by_name["astroph"].error
    for report in reports:
        assert "\n" not in report.summary()
    assert store.source_state("missing").last_error.startswith("HTTP 404")


def _api_pages(query):
    start, size = query["start"][0], query["max_results"][0]
    found = list(API_BODIES.glob(f"q_testing_s{start}_m{size}_*.xml"))
    if not found:
        return 400, b"no such page", {}
    return 200, found[0].read_bytes(), {"Content-Type": "application/atom+xml"}


@pytest.mark.realdata
def test_api_pages_politely_up_to_the_cap(
    tmp_path, http_server, http_client, fake_time, open_store
):
    url = http_server.serve("/api/query", _api_pages)
    http_server.fail_first("/api/query", (503, {}))
    source = {
        "name": "search",
        "kind": "arxiv-api",
        "page_size": 10,
        "max_results": 30,
        "url": url + "?search_query=all:testing&sortBy=relevance",
    }
    reports, store = run(open_store, tmp_path, [source], http_client)
    assert reports[0].status == "ok" and reports[0].counts.new == 30
    pages = [r for r in http_server.hits("/api/query") if r.status == 200]
    assert [(r.query["start"], r.query["max_results"]) for r in pages] == [
        (["0"], ["10"]),
        (["10"], ["10"]),
        (["20"], ["10"]),
    ]
    assert pages[0].query["search_query"] == ["all:testing"]
    # a 503 backed off 1 s, then every request at least 3 s after the previous one
    assert fake_time.sleeps == [1.0, 2.0, 3.0, 3.0]


@pytest.mark.realdata
def test_api_stops_at_total_results(tmp_path, http_server, http_client, open_store):
    url = http_server.serve(
        "/api/query",
        lambda q: (
            200,
            API_QUERY.read_bytes().replace(
                b"<opensearch:totalResults>449736", b"<opensearch:totalResults>25"
            ),
            {},
        ),
    )
    reports, _ = run(
        open_store,
        tmp_path,
        [{"name": "q", "kind": "arxiv-api", "url": url, "page_size": 100}],
        http_client,
    )
    assert reports[0].counts.new == 25 and len(http_server.hits("/api/query")) == 1


def _entries(path):
    return re.findall(rb"<entry>.*?</entry>", path.read_bytes(), re.S)


def _id_lookup(query):
    wanted = query["id_list"][0].split(",")
    entries = []
    for ident in wanted:
        for path in API_BODIES.glob("id_*.xml"):
            if path.name.startswith(f"id_{ident.replace('/', '_')}_s0"):
                entries += _entries(path)
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        b'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        b'xmlns:arxiv="http://arxiv.org/schemas/atom"><opensearch:totalResults>'
        + str(len(entries)).encode()
        + b"</opensearch:totalResults>"
        + b"".join(entries)
        + b"</feed>"
    )
    return 200, body, {}


@pytest.mark.realdata
def test_id_list_is_looked_up_through_the_api(tmp_path, http_server, http_client, open_store):
    ids = tmp_path / "picks.txt"
    ids.write_text(
        "# picks\n1605.08386\nhttps://arxiv.org/abs/1707.08567\n"
        "arXiv:astro-ph/0601001\nhttps://arxiv.org/pdf/quant-ph/0201082v1\n"
        "0000.0000\nsomething else\n"
    )
    api = http_server.serve("/api/query", _id_lookup)
    reports, store = run(
        open_store,
        tmp_path,
        [{"name": "picks", "kind": "arxiv-ids", "path": str(ids), "api_url": api}],
        http_client,
    )
    report = reports[0]
    assert report.status == "ok" and report.counts.new == 4
    assert "line 7: 'something else' is not an arXiv id" in report.note
    assert "not found on arXiv: 0000.0000" in report.note
    assert store.paper("arxiv:astro-ph/0601001").authors[0] == "Andrew Gould"
    assert store.paper("arxiv:quant-ph/0201082").version == 1
    request = http_server.hits("/api/query")[0]
    assert request.query["id_list"] == [
        "1605.08386,1707.08567,astro-ph/0601001,quant-ph/0201082v1,0000.0000"
    ]


@pytest.mark.realdata
def test_api_file_and_daily_papers_over_http_merge_into_52_records(
    tmp_path, http_server, http_client, open_store
):
    sources = [
        {"name": "api", "kind": "arxiv-api", "url": "file://" + str(API_QUERY)},
        {"name": "hf", "kind": "hf-daily", "url": http_server.serve("/api/daily_papers", HF_RAW)},
    ]
    reports, store = run(open_store, tmp_path, sources, http_client)
    assert [r.counts.new for r in reports] == [25, 27]
    assert len(store.papers()) == 52
    both = [p for p in store.papers() if len(p.sources) == 2]
    assert len(both) == 3 and all(p.upvotes is not None and p.categories for p in both)


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", _raw_deflate)],
    ids=["gzip", "deflate", "raw-deflate"],
)
def test_compressed_answers_are_inflated(http_server, http_client, encoding, compress):
    body = (SAMPLE / "arxiv-listing.xml").read_bytes()
    url = http_server.serve(
        "/compressed", lambda query: (200, compress(body), {"Content-Encoding": encoding})
    )
    assert http_client.get(url).content == body


def test_an_unsupported_content_encoding_is_one_line(http_server, http_client):
    url = http_server.serve("/br", lambda query: (200, b"\x0b\x02\x80", {"Content-Encoding": "br"}))
    with pytest.raises(FetchError, match="unsupported content encoding 'br'$"):
        http_client.get(url)
