"""What ties a paper to a topic in words a reader checks: keyword matches, excludes,
followed authors. Each match has its points (the evidence the relevance floor counts:
title above abstract, a phrase above its words scattered) and its reason, which quotes
the words as the paper writes them ("'agents' in the title"). A reason is written when
it is read: a run ranking hundreds of topics shows a few dozen papers of each."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import lru_cache, partial

from digest.config import TopicSettings
from digest.rank.index import STOPWORDS, Corpus, surface_in, tokenize

# points, in relevance units; the default floor is 1.0
TITLE_PHRASE = 3.0
TITLE_WORD = 2.0
ABSTRACT_PHRASE = 1.5
ABSTRACT_WORD = 0.75
SCATTERED_TITLE = 1.0
SCATTERED_ABSTRACT = 0.4
REPEAT_BONUS = 0.5  # per extra occurrence in the abstract, times the first's weight
REPEAT_CAP = 2
AUTHOR = 3.0

#: (points, the reason when asked for)
Match = tuple[float, Callable[[], str]]


def _quote(corpus: Corpus, doc: int, phrase: list[str], keyword: str, field: str) -> str:
    paper = corpus.papers[doc]
    if field == "title":
        found = surface_in(paper.title, corpus.titles[doc], phrase)
    else:
        found = surface_in(paper.abstract, corpus.abstracts[doc], phrase)
    return f"'{found or keyword}'"


def _in(corpus: Corpus, doc: int, phrase: list[str], keyword: str, field: str, rest: str) -> str:
    return f"{_quote(corpus, doc, phrase, keyword, field)} {rest}"


def _scattered(corpus: Corpus, doc: int, words: list[str], field: str) -> str:
    quotes = [_quote(corpus, doc, [w], w, field) for w in words]
    listed = " and ".join([", ".join(quotes[:-1]), quotes[-1]] if len(quotes) > 1 else quotes)
    return f"{listed} in the {field}"


def keyword_matches(
    topic: TopicSettings, corpus: Corpus, allowed: set[int]
) -> dict[int, list[Match]]:
    """Keyword and phrase matches per document, ``(points, reason)`` in keyword order."""
    found: dict[int, list[Match]] = {}
    for keyword in topic.keywords:
        phrase = tokenize(keyword)
        if not phrase:
            continue
        multi = len(phrase) > 1
        in_title = corpus.phrase_counts(phrase, "title")
        in_abstract = corpus.phrase_counts(phrase, "abstract")
        matched = allowed & (set(in_title) | set(in_abstract))
        for doc in sorted(matched):
            if doc in in_title:
                points = TITLE_PHRASE if multi else TITLE_WORD
                where = "the title"
                if doc in in_abstract:
                    points += 0.5 * (ABSTRACT_PHRASE if multi else ABSTRACT_WORD)
                    where = "the title and abstract"
                reason = partial(_in, corpus, doc, phrase, keyword, "title", f"in {where}")
                found.setdefault(doc, []).append((points, reason))
            else:
                count = in_abstract[doc]
                base = ABSTRACT_PHRASE if multi else ABSTRACT_WORD
                points = base * (1 + REPEAT_BONUS * min(count - 1, REPEAT_CAP))
                times = f" ({count}×)" if count > 1 else ""
                rest = f"in the abstract{times}"
                reason = partial(_in, corpus, doc, phrase, keyword, "abstract", rest)
                found.setdefault(doc, []).append((points, reason))
        if multi:
            words = [w for w in phrase if w not in STOPWORDS] or phrase
            in_title_words = (allowed & corpus.words_present(phrase, "title")) - matched
            in_abstract_words = (
                (allowed & corpus.words_present(phrase, "abstract")) - matched - in_title_words
            )
            for docs, points, field in (
                (in_title_words, SCATTERED_TITLE, "title"),
                (in_abstract_words, SCATTERED_ABSTRACT, "abstract"),
            ):
                for doc in sorted(docs):
                    reason = partial(_scattered, corpus, doc, words, field)
                    found.setdefault(doc, []).append((points, reason))
    return found


def exclusions(topic: TopicSettings, corpus: Corpus, allowed: set[int]) -> dict[int, str]:
    excluded: dict[int, str] = {}
    for term in topic.exclude:
        phrase = tokenize(term)
        hits = set(corpus.phrase_counts(phrase, "title")) | set(
            corpus.phrase_counts(phrase, "abstract")
        )
        for doc in sorted(allowed & hits):
            excluded.setdefault(doc, f"excluded: contains '{term}'")
    return excluded


@lru_cache(maxsize=65536)
def name_key(name: str) -> tuple[str, str]:
    """(last name, first initial), accent- and case-blind: 'J. Doe' matches 'Jane Doe'."""
    text = unicodedata.normalize("NFKD", name).casefold()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    parts = [p for p in text.replace(".", " ").replace(",", " ").split() if p]
    if not parts:
        return ("", "")
    return (parts[-1], parts[0][0] if len(parts) > 1 else "")
