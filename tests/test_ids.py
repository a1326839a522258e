import pytest

from digest.ids import (
    canonical_id,
    is_arxiv_id,
    normalize_doi,
    normalize_link,
    parse_arxiv_id,
    title_key,
)


@pytest.mark.parametrize(
    ("text", "ident", "version"),
    [
        ("2401.01234v3", "2401.01234", 3),
        ("2401.01234", "2401.01234", None),
        ("0704.0001", "0704.0001", None),
        ("arXiv:2411.17700v1", "2411.17700", 1),
        ("oai:arXiv.org:2508.13426v1", "2508.13426", 1),
        ("https://arxiv.org/abs/2411.17700", "2411.17700", None),
        ("http://arxiv.org/abs/2607.28628v2", "2607.28628", 2),
        ("https://arxiv.org/pdf/2401.01234v3.pdf", "2401.01234", 3),
        ("https://arxiv.org/pdf/2401.01234v3", "2401.01234", 3),
        ("hep-th/9901001", "hep-th/9901001", None),
        ("hep-th/9901001v2", "hep-th/9901001", 2),
        ("http://arxiv.org/abs/astro-ph/0601001v1", "astro-ph/0601001", 1),
        ("quant-ph/0201082v1", "quant-ph/0201082", 1),
        ("math.GT/0309136", "math.GT/0309136", None),
        ("oai:arXiv.org:cond-mat/0102536v1", "cond-mat/0102536", 1),
    ],
)
def test_arxiv_ids_keep_the_version_apart(text, ident, version):
    parsed = parse_arxiv_id(text)
    assert parsed is not None
    assert (parsed.id, parsed.version) == (ident, version)
    assert parsed.key == f"arxiv:{ident}"


@pytest.mark.parametrize(
    "text", ["", "abc", "12345.678", "doi:10.1000/xyz", "https://example.org/1"]
)
def test_non_arxiv_text_has_no_arxiv_id(text):
    assert parse_arxiv_id(text) is None


def test_whole_string_arxiv_id_check():
    assert is_arxiv_id("2401.01234v2")
    assert is_arxiv_id("hep-th/9901001")
    assert not is_arxiv_id("see 2401.01234")


def test_canonical_id_prefers_arxiv_then_doi_then_link_then_title():
    arxiv = parse_arxiv_id("2401.01234v3")
    assert canonical_id(arxiv=arxiv, doi="10.1/x", link="https://a.org") == "arxiv:2401.01234"
    assert canonical_id(doi="https://doi.org/10.1101/2024.01.01.123456v1") == (
        "doi:10.1101/2024.01.01.123456v1"
    )
    assert canonical_id(link="HTTP://WWW.Example.org/Paper/?utm_source=x#top") == (
        "url:example.org/Paper"
    )
    key = canonical_id(title="  Attention Is  All You Need ")
    assert key == title_key("attention is all you need") and key.startswith("title:")
    with pytest.raises(ValueError):
        canonical_id(title="  ")


def test_doi_and_link_normalization():
    assert normalize_doi("doi:10.1103/PhysRevB.85.115117") == "10.1103/physrevb.85.115117"
    assert normalize_doi("no doi here") is None
    assert normalize_link("ftp://x.org/a") is None
    assert normalize_link("https://x.org/a/?b=1&utm_medium=y") == "https://x.org/a?b=1"


def test_title_key_ignores_case_accents_and_punctuation():
    assert title_key("Zoë's Model: A Study") == title_key("zoes model a study")
    assert title_key("A Study") != title_key("Another Study")
