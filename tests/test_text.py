from digest.text import clean_text, link_kind, one_line, split_names, trailing_link


def test_clean_text_strips_tags_decodes_entities_and_collapses_spaces():
    assert clean_text("<p>Deep &amp; wide\n\n  nets</p><br/>now") == "Deep & wide nets now"
    assert clean_text("A &lt;b&gt; tag") == "A <b> tag"
    assert clean_text("x<script>alert(1)</script>y") == "x y"


def test_clean_text_keeps_mathematics_and_latex():
    text = r"We show $p<q and r>s$ and $\ell_1$-regularised $O(\sqrt{T})$ bounds, $a<b$."
    assert clean_text(text) == text


def test_split_names():
    assert split_names("Ada Lovelace, Charles Babbage and Alan Turing") == (
        "Ada Lovelace",
        "Charles Babbage",
        "Alan Turing",
    )
    assert split_names("") == ()


def test_trailing_link_and_kind():
    assert trailing_link("Code is available at https://github.com/a/b.") == "https://github.com/a/b"
    assert trailing_link("see https://github.com/Necolizer/CHASE .") == (
        "https://github.com/Necolizer/CHASE"
    )
    assert trailing_link("https://x.org/a in the middle of text") is None
    assert link_kind("https://github.com/a/b") == "code"
    assert link_kind("https://taeksuu.github.io/ncho") == "project"


def test_one_line_removes_line_breaks_and_controls():
    assert one_line("a\r\nBcc: x\x00y") == "a Bcc: xy"
    assert one_line("abcdef", 4) == "abc…"
