"""Picks that can be opened: a pasted listing's title-only papers are looked up in the
arXiv API (a real local HTTP server answering as the API does), the rest link a title
search; a Daily Papers paper links its Hugging Face page and shows its votes."""

from __future__ import annotations

from conftest import SAMPLE_NOW, make_settings

from digest.fetch import fetch_sources
from digest.links import main_link, paper_links

ABSTRACT = " ".join(["We study a problem with many words in its abstract."] * 6)
LISTING = f"""Daily Papers

Sparse Mixtures of Experts Route Tokens by Difficulty

{ABSTRACT}

A Paper Nobody Has Put On arXiv Yet

{ABSTRACT}
"""

API_ANSWER = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"
      xmlns:arxiv="http://arxiv.org/schemas/atom">
  <opensearch:totalResults>{total}</opensearch:totalResults>
  <opensearch:startIndex>0</opensearch:startIndex>
  <opensearch:itemsPerPage>5</opensearch:itemsPerPage>
  {entries}
</feed>"""

ENTRY = """<entry>
    <id>http://arxiv.org/abs/2611.04242v2</id>
    <published>2026-11-20T18:00:00Z</published>
    <updated>2026-11-24T18:00:00Z</updated>
    <title>Sparse Mixtures of Experts Route Tokens
      by Difficulty</title>
    <summary>Routing in sparse mixtures of experts, studied at length.</summary>
    <author><name>Ana Lima</name></author>
    <author><name>Bo Chen</name></author>
    <arxiv:primary_category term="cs.LG"/>
    <category term="cs.LG"/>
  </entry>"""


def fetch_listing(tmp_path, api_url: str, open_store, http):  # type: ignore[no-untyped-def]
    listing = tmp_path / "pasted.txt"
    listing.write_text(LISTING)
    settings = make_settings(
        tmp_path, [{"name": "pasted", "kind": "listing", "path": str(listing), "api_url": api_url}]
    )
    store = open_store(settings)
    [report] = fetch_sources(settings, store, http=http, now=lambda: SAMPLE_NOW)
    return store, report


def test_title_only_papers_are_found_on_arxiv_or_link_a_search(
    tmp_path, http_server, open_store, http_client, fake_time
):
    def api(query):
        search = query["search_query"][0]
        known = "Sparse Mixtures" in search
        body = API_ANSWER.format(total=int(known), entries=ENTRY if known else "")
        return 200, body.encode(), {"Content-Type": "application/atom+xml"}

    api_url = http_server.serve("/api/query", api)
    store, report = fetch_listing(tmp_path, api_url, open_store, http_client)
    assert fake_time.sleeps and all(abs(s - 3.0) < 0.01 for s in fake_time.sleeps)  # arXiv's pace
    assert report.status == "ok" and "1 of 2 titles found on arXiv" in report.summary()
    searches = [r.query["search_query"][0] for r in http_server.hits("/api/query")]
    assert searches == [
        'ti:"Sparse Mixtures of Experts Route Tokens by Difficulty"',
        'ti:"A Paper Nobody Has Put On arXiv Yet"',
    ]
    papers = {p.title: p for p in store.papers()}
    found = papers["Sparse Mixtures of Experts Route Tokens by Difficulty"]
    assert (found.id, found.version, found.authors) == (
        "arxiv:2611.04242",
        2,
        ("Ana Lima", "Bo Chen"),
    )
    assert main_link(found) == "https://arxiv.org/abs/2611.04242"
    alone = papers["A Paper Nobody Has Put On arXiv Yet"]
    assert alone.id.startswith("title:")
    search = "https://arxiv.org/search/?query=A+Paper+Nobody+Has+Put+On+arXiv+Yet&searchtype=title"
    assert main_link(alone) == search and paper_links(alone) == [("Search arXiv", search)]


def test_an_unreachable_api_stops_the_lookups_not_the_source(
    tmp_path, http_server, open_store, http_client
):
    failing = http_server.serve("/api/query", lambda q: (400, b"bad query", {}))
    store, report = fetch_listing(tmp_path, failing, open_store, http_client)
    assert report.status == "ok" and "title lookup stopped" in report.summary()
    assert len(http_server.hits("/api/query")) == 1
    assert all(p.id.startswith("title:") for p in store.papers())


def test_daily_papers_link_their_hugging_face_page(store, sample):
    fetch_sources(sample, store, now=lambda: SAMPLE_NOW)
    voted = [p for p in store.papers() if p.upvotes]
    assert voted
    for paper in voted:
        arxiv = paper.id.removeprefix("arxiv:")
        assert ("Hugging Face", f"https://huggingface.co/papers/{arxiv}") in paper_links(paper)
