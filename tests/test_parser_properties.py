"""Parsers on arbitrary bytes: our own error or papers, never anything else."""

from __future__ import annotations

import functools

import pytest
from conftest import API_QUERY, HF_RAW, LISTING, RSS_ATOM, SAMPLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.errors import ParseError
from digest.limits import bounded
from digest.models import Paper
from digest.sources import arxiv_api, arxiv_ids, arxiv_rss, feed, hf_daily, listing

PARSERS = {
    "arxiv-rss": arxiv_rss.parse,
    "arxiv-api": arxiv_api.parse,
    "hf-daily": hf_daily.parse,
    "feed": feed.parse,
    "listing": listing.parse,
    "arxiv-ids": lambda data: arxiv_ids.parse_id_list(data),
}
#: The real document each kind's damaged copies start from (read when a test runs).
SEEDS = {
    "arxiv-rss": lambda: (SAMPLE / "arxiv-listing.xml").read_bytes(),
    "arxiv-api": lambda: API_QUERY.read_bytes()[:6000],
    "hf-daily": lambda: HF_RAW.read_bytes()[:8000],
    "feed": lambda: RSS_ATOM.read_bytes(),
    "listing": lambda: LISTING.read_bytes()[:5000],
    "arxiv-ids": lambda: b"2401.01234v2\nhttps://arxiv.org/abs/hep-th/9901001\n",
}
#: The kinds whose seed is in the real test data.
REAL_SEEDS = {"arxiv-api", "hf-daily", "feed", "listing"}


def check(kind: str, data: bytes) -> None:
    try:
        result = PARSERS[kind](data)
    except ParseError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    papers = result.papers if hasattr(result, "papers") else []
    for paper in papers:
        assert isinstance(paper, Paper) and paper.id and isinstance(paper.title, str)
        assert bounded(paper) is paper  # every field within the stored fields' caps


@pytest.mark.parametrize("kind", sorted(PARSERS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes(kind, data):
    check(kind, data)


@functools.cache
def _seed(kind: str) -> bytes:
    return SEEDS[kind]()


@st.composite
def damaged(draw, kind):
    """A real document cut short, with bytes overwritten and inserted."""
    seed = _seed(kind)
    data = bytearray(seed[: draw(st.integers(0, len(seed)))])
    for _ in range(draw(st.integers(0, 6))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        if draw(st.booleans()):
            data[pos] = draw(st.integers(0, 255))
        else:
            data[pos:pos] = draw(
                st.sampled_from(
                    [b"<", b"&", b"]]>", b"\x00", b"\xff\xfe", b"<item>", b'"', b"\n\n", b"&#0;"]
                )
            )
    return bytes(data)


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(k, marks=pytest.mark.realdata) if k in REAL_SEEDS else k
        for k in sorted(PARSERS)
    ],
)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_real_documents(kind, data):
    check(kind, data.draw(damaged(kind)))


@pytest.mark.parametrize("kind", ["arxiv-rss", "feed"])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.integers(0, 60_000), field=st.sampled_from([b"<title>", b"<dc:creator>"]))
def test_oversized_fields_stay_within_the_caps(kind, size, field):
    seed = _seed("arxiv-rss")
    at = seed.index(field, seed.index(b"<item>")) + len(field)
    check(kind, seed[:at] + b"Long, " * size + seed[at:])
