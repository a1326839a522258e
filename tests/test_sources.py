"""Each parser on the real files in ../shared/data: what they must yield."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter

import pytest
from conftest import (
    API_2016,
    API_BODIES,
    API_QUERY,
    HF_DIR,
    HF_RAW,
    LISTING,
    RSS_ALL,
    RSS_ATOM,
    RSS_EMPTY,
    RSS_ERROR,
    TRICKY,
)

from digest.errors import ParseError
from digest.sources import arxiv_api, arxiv_ids, arxiv_rss, feed, hf_daily, listing


@pytest.mark.realdata
def test_all_archives_feed_gives_1504_papers_569_replacements():
    papers = arxiv_rss.parse(RSS_ALL.read_bytes()).papers
    assert len(papers) == 1504
    assert len({p.id for p in papers}) == 1504
    assert Counter(p.announce_type for p in papers) == {"new": 926, "replace": 569, "cross": 9}
    first = papers[0]
    assert first.id == "arxiv:2411.17700" and first.version == 1
    assert first.title.startswith("Exploring the Impact of Generative AI on Cross-Border")
    assert first.authors == ("Jun Cui",)
    assert first.categories == ("cs.CY",)
    assert first.abstract.startswith("This study investigates the influence of generative")
    assert first.links["abs"] == "https://arxiv.org/abs/2411.17700"
    assert first.published is not None and first.published.isoformat() == (
        "2024-11-28T05:00:00+00:00"
    )
    for paper in papers:
        assert not paper.abstract.startswith("arXiv:"), paper.id
        assert "Announce Type" not in paper.abstract, paper.id
        assert paper.title and paper.authors and paper.categories
        assert "  " not in paper.abstract and "\n" not in paper.abstract
    replaced = [p for p in papers if p.announce_type == "replace"]
    assert all((p.version or 0) >= 2 for p in replaced)
    assert all(p.published is None and p.updated is not None for p in replaced)


@pytest.mark.realdata
def test_all_archives_categories_keep_the_feed_order_primary_first():
    raw = RSS_ALL.read_text(encoding="utf-8")
    items = raw.split("<item>")[1:]
    papers = {p.id: p for p in arxiv_rss.parse(RSS_ALL.read_bytes()).papers}
    multi = 0
    for item in items:
        ident = re.search(r"oai:arXiv.org:(\S+?)v\d+<", item).group(1)
        expected = tuple(re.findall(r"<category>([^<]+)</category>", item))
        assert papers[f"arxiv:{ident}"].categories == expected
        multi += len(expected) > 1
    assert multi > 100


@pytest.mark.realdata
def test_multiple_authors_from_one_dc_creator():
    papers = arxiv_rss.parse(RSS_ALL.read_bytes()).papers
    many = [p for p in papers if len(p.authors) >= 5]
    assert len(many) > 200
    assert all("," not in name for p in many for name in p.authors)


@pytest.mark.realdata
def test_atom_listing_feed():
    papers = arxiv_rss.parse(RSS_ATOM.read_bytes()).papers
    assert len(papers) == 7
    assert Counter(p.announce_type for p in papers) == {"new": 2, "cross": 5}
    align = papers[0]
    assert align.id == "arxiv:2508.13426" and align.version == 1
    assert align.title.startswith("ALIGN: Word Association Learning")
    assert align.categories[:2] == ("cs.CL", "cs.AI")
    assert align.authors == ("Chunhua Liu", "Kabir Manandhar Shrestha", "Sukai Huang")
    assert align.abstract.startswith("As large language models (LLMs) increasingly")


@pytest.mark.realdata
def test_arxiv_error_feed_is_a_source_error_not_zero_papers():
    with pytest.raises(ParseError, match="Bad archive 'astroph'"):
        arxiv_rss.parse(RSS_ERROR.read_bytes())


@pytest.mark.realdata
def test_empty_arxiv_feed_is_zero_papers_and_says_so():
    result = arxiv_rss.parse(RSS_EMPTY.read_bytes())
    assert result.papers == []
    assert "empty listing" in (result.note or "")


OLD_RDF = b"""<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="http://arxiv.org/">
<title>cs.LG updates on arXiv.org</title><link>http://arxiv.org/</link>
<description>Computer Science -- Machine Learning (cs.LG) updates</description>
</channel>
<item rdf:about="http://arxiv.org/abs/2301.00001">
<title>Learning to Rank Papers. (arXiv:2301.00001v1 [cs.LG])</title>
<link>http://arxiv.org/abs/2301.00001</link>
<description rdf:parseType="Literal">&lt;p&gt;We rank papers with $O(n\\log n)$ &amp;amp; more.&lt;/p&gt;</description>
<dc:creator> &lt;a href="http://arxiv.org/find/cs/1/au:+Doe_J/0/1/0/all/0/1"&gt;Jane Doe&lt;/a&gt;, &lt;a href="http://arxiv.org/find/cs/1/au:+Roe_R/0/1/0/all/0/1"&gt;Richard Roe&lt;/a&gt;</dc:creator>
</item>
<item rdf:about="http://arxiv.org/abs/2212.09999">
<title>An Older Idea, Revisited. (arXiv:2212.09999v3 [stat.ML] UPDATED)</title>
<link>http://arxiv.org/abs/2212.09999</link>
<description rdf:parseType="Literal">&lt;p&gt;Revised.&lt;/p&gt;</description>
<dc:creator>&lt;a href="x"&gt;Ann Author&lt;/a&gt;</dc:creator>
</item>
<item rdf:about="http://arxiv.org/abs/2301.00002">
<title>Cross Topic. (arXiv:2301.00002v1 [math.OC] CROSS LISTED)</title>
<link>http://arxiv.org/abs/2301.00002</link>
<description>&lt;p&gt;Cross.&lt;/p&gt;</description>
<dc:creator>B. Writer</dc:creator>
</item>
</rdf:RDF>
"""


def test_older_rss1_rdf_listing_form():
    papers = arxiv_rss.parse(OLD_RDF).papers
    assert [(p.id, p.version, p.announce_type, p.categories) for p in papers] == [
        ("arxiv:2301.00001", 1, "new", ("cs.LG",)),
        ("arxiv:2212.09999", 3, "replace", ("stat.ML",)),
        ("arxiv:2301.00002", 1, "cross", ("math.OC",)),
    ]
    assert papers[0].title == "Learning to Rank Papers"
    assert papers[0].abstract == r"We rank papers with $O(n\log n)$ & more."
    assert papers[0].authors == ("Jane Doe", "Richard Roe")


@pytest.mark.realdata
def test_gzip_body_served_without_content_encoding_is_inflated():
    compressed = gzip.compress(RSS_ATOM.read_bytes())
    assert len(arxiv_rss.parse(compressed).papers) == 7
    assert (
        len(feed.parse((TRICKY / "speedparser-realworld-2011" / "0416.dat").read_bytes()).papers)
        == 10
    )


@pytest.mark.realdata
def test_api_response():
    papers = arxiv_api.parse(API_QUERY.read_bytes()).papers
    assert len(papers) == 25
    first = papers[0]
    assert first.id == "arxiv:2607.28628" and first.version == 1
    assert first.title == "Learning to Trace Seiberg Dualities"
    assert first.categories == ("hep-th", "cs.AI", "cs.LG", "hep-ph")
    assert first.authors == (
        "Jonathan J. Heckman",
        "Shani Meynet",
        "Alessandro Mininno",
        "Gary Shiu",
    )
    assert first.links["pdf"] == "https://arxiv.org/pdf/2607.28628"
    assert first.links["code"] == "https://github.com/alexmininno/GNN-Pathfinders"
    assert first.published.isoformat() == "2026-07-30T17:59:56+00:00"


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("id_list=1111.2011v2.xml", 1),
        ("search_query=au_del_maestro+AND+ti__quantum+criticality_.xml", 2),
        ("search_query=au_del_maestro+AND+ti_checkerboard.xml", 1),
        ("search_query=au_del_maestro+ANDNOT+_28ti_checkerboard+OR+ti_Pyrochlore_29.xml", 10),
        ("search_query=au_del_maestro.xml", 10),
    ],
)
def test_api_responses_in_the_2016_format(name, count):
    papers = arxiv_api.parse((API_2016 / name).read_bytes()).papers
    assert len(papers) == count
    for paper in papers:
        assert paper.title and "\n" not in paper.title and not paper.abstract.startswith(" ")


@pytest.mark.realdata
def test_api_2016_journal_ref_and_doi():
    paper = arxiv_api.parse((API_2016 / "id_list=1111.2011v2.xml").read_bytes()).papers[0]
    assert (paper.id, paper.version) == ("arxiv:1111.2011", 2)
    assert paper.doi == "10.1103/PhysRevB.85.115117"
    assert paper.journal_ref == "Phys. Rev. B 85, 115117 (2012)"
    assert paper.title == (
        "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"
    )


@pytest.mark.realdata
def test_api_2026_bodies_old_style_ids_and_errors():
    counts = {}
    for path in sorted(API_BODIES.glob("*.xml")):
        if path.name.startswith("id_abc"):
            with pytest.raises(ParseError, match="incorrect id format for abc"):
                arxiv_api.parse(path.read_bytes())
            continue
        counts[path.name.split("_s0")[0] if "_s0" in path.name else path.name] = len(
            arxiv_api.parse(path.read_bytes()).papers
        )
    assert counts["id_0000.0000"] == 0
    astro = arxiv_api.parse(next(API_BODIES.glob("id_astro-ph_0601001*")).read_bytes()).papers[0]
    assert (astro.id, astro.version) == ("arxiv:astro-ph/0601001", 1)
    assert astro.authors[0] == "Andrew Gould"
    quant = arxiv_api.parse(next(API_BODIES.glob("id_quant-ph*")).read_bytes()).papers[0]
    assert quant.id == "arxiv:quant-ph/0201082"
    page = arxiv_api.parse_page(next(API_BODIES.glob("q_testing_s0_m100_*")).read_bytes())
    assert (len(page.papers), page.total, page.start) == (100, 214881, 0)


@pytest.mark.realdata
def test_daily_papers_response():
    papers = hf_daily.parse(HF_RAW.read_bytes()).papers
    assert len(papers) == 30
    first = papers[0]
    assert first.id == "arxiv:2607.23193"
    assert first.upvotes == 3 and first.github_stars == 5
    assert first.links["code"] == "https://github.com/MAC-AutoML/OmniScope"
    assert first.authors[0] == "Jinsen Su" and len(first.authors) == 6
    assert first.num_comments is not None
    raw = json.loads(HF_RAW.read_text())
    assert [p.upvotes for p in papers] == [item["paper"]["upvotes"] for item in raw]


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("hf-daily-paper-newsletter-chinese_2024-05-27.json", 13),
        ("hf-daily-paper-newsletter-chinese_2025-01-15.json", 10),
        ("hf-daily-paper-newsletter-chinese_2025-09-08.json", 7),
        ("hf-daily-paper-newsletter-chinese_2026-08-21.json", 17),
    ],
)
def test_daily_papers_responses_of_every_era(name, count):
    raw = json.loads((HF_DIR / name).read_text())
    papers = hf_daily.parse((HF_DIR / name).read_bytes()).papers
    assert len(papers) == count
    for item, paper in zip(raw, papers, strict=True):
        inner = item["paper"]
        assert paper.id == f"arxiv:{inner['id']}"
        assert paper.upvotes == inner.get("upvotes", item.get("upvotes"))
        assert "\n" not in paper.title
        summary = inner.get("ai_summary", item.get("ai_summary"))
        assert paper.ai_summary == (" ".join(summary.split()) if summary else None)
        repo = inner.get("githubRepo") or item.get("githubRepo")
        if repo:
            assert paper.links["code"] == repo


def test_daily_papers_errors():
    with pytest.raises(ParseError, match="not JSON"):
        hf_daily.parse(b"<html>oops</html>")
    with pytest.raises(ParseError, match="not a JSON list"):
        hf_daily.parse(b'{"message": "x"}')
    assert hf_daily.parse(b"[]").papers == []


def _expected_listing() -> list[tuple[str, str]]:
    """The listing file's layout: five header lines, then title and abstract alternating."""
    blocks = LISTING.read_text(encoding="utf-8").split("\n\n")
    body = [b.strip() for b in blocks[5:]]
    return list(zip(body[0::2], body[1::2], strict=True))


@pytest.mark.realdata
def test_pasted_listing_yields_exactly_68_papers_with_titles_and_abstracts():
    papers = listing.parse(LISTING.read_bytes()).papers
    expected = _expected_listing()
    assert len(papers) == len(expected) == 68
    for paper, (title, abstract) in zip(papers, expected, strict=True):
        assert paper.title == title
        assert paper.abstract == " ".join(abstract.split())
        assert paper.id.startswith("title:")
    titles = {p.title for p in papers}
    for header in (
        "new",
        "Get trending papers in your email inbox!",
        "Subscribe",
        "Mar 14",
        "byAK and the research community",
    ):
        assert header not in titles


@pytest.mark.realdata
def test_code_link_at_the_end_of_an_abstract_becomes_the_code_link():
    papers = {p.title.split(":")[0]: p for p in listing.parse(LISTING.read_bytes()).papers}
    assert papers["Attentive WaveBlock"].links["code"] == (
        "https://github.com/WangWenhao0716/Attentive-WaveBlock"
    )
    assert papers["CHASE"].links["code"] == "https://github.com/Necolizer/CHASE"
    assert papers["Align before Fuse"].links["code"] == "https://github.com/salesforce/ALBEF"
    assert papers["METRA"].links == {"project": "https://seohong.me/projects/metra"}
    with_code = [p for p in papers.values() if "code" in p.links]
    assert len(with_code) >= 20
    assert "links" not in papers["Random Teachers are Good Teachers"].abstract


def test_listing_without_papers_is_an_error_and_undecodable_text_too():
    with pytest.raises(ParseError, match="no papers found"):
        listing.parse(b"Subscribe\n\nMar 14\n")
    with pytest.raises(ParseError, match="not UTF-8"):
        listing.parse(b"Titel\n\n" + "é".encode("latin-1") * 400)
    assert listing.parse(b"").papers == []


def test_id_list_file():
    ids, bad = arxiv_ids.parse_id_list(
        b"# editor picks\n2401.01234v2\nhttps://arxiv.org/abs/1707.08567\n\n"
        b"https://arxiv.org/pdf/hep-th/9901001v1\nnot an id\n2401.01234\n"
    )
    assert [(a.id, a.version) for a in ids] == [
        ("2401.01234", 2),
        ("1707.08567", None),
        ("hep-th/9901001", 1),
    ]
    assert bad == ["line 6: 'not an id' is not an arXiv id"]


TRICKY_FILES = sorted(p for p in TRICKY.rglob("*") if p.is_file())


@pytest.mark.realdata
@pytest.mark.parametrize("path", TRICKY_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_tricky_feed_yields_entries_or_one_clear_error(path):
    try:
        result = feed.parse(path.read_bytes())
    except ParseError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 300
        assert "Traceback" not in message
        return
    for paper in result.papers:
        assert paper.title and "\n" not in paper.title
        assert "<" not in paper.title or "&lt;" not in paper.title


@pytest.mark.realdata
def test_tricky_feeds_read_correctly_where_they_can_be():
    def titles(name):
        return [p.title for p in feed.parse(next(TRICKY.rglob(name)).read_bytes()).papers]

    assert titles("illformed__chardet__koi8r.xml") == ["Как пережить новогоднюю ночь"]
    assert len(titles("substack_interconnects_rss.xml")) == 20
    assert len(titles("0014.dat")) == 15
    assert titles("broken-xkcd.xml")[0] == "Chicken Pox and Name Statistics"
    biorxiv = feed.parse(next(TRICKY.rglob("rss_1.0_biorxiv.xml")).read_bytes()).papers[0]
    assert biorxiv.id.startswith("doi:10.1101/")
    with pytest.raises(ParseError, match="HTML page"):
        feed.parse((TRICKY / "speedparser-realworld-2011" / "0256.dat").read_bytes())


@pytest.mark.realdata
def test_script_in_a_title_stays_text():
    papers = feed.parse(
        next(TRICKY.rglob("wellformed__sanitize__entry_title_script.xml")).read_bytes()
    ).papers
    assert papers
    for paper in papers:
        assert "<script" not in paper.title.lower()
