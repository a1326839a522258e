"""The text side of ranking: tokens, stems, postings with positions, tf-idf vectors.

Built once per set of candidate papers and shared by every topic ranked over them.
Title and abstract are indexed apart (a match in the title counts more); positions are
kept so a phrase is told apart from its words scattered through the text.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import islice
from typing import TYPE_CHECKING

import Stemmer

from digest.models import StoredPaper

if TYPE_CHECKING:
    from digest.rank.embed import Semantic

_TOKEN_RE = re.compile(r"[^\W_]+")
_STEMMER = Stemmer.Stemmer("english")  # Snowball English, in C
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his how
    i if in into is it its itself just me more most my myself no nor not now of off on
    once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves via using use used based new paper propose
    proposed show shows results method methods approach work""".split()
)

Vector = dict[str, float]


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    stemmed = _STEMMER.stemWord(word)
    # acronyms in the plural: "LLMs" and "GPUs" mean "LLM" and "GPU"
    if stemmed == word and len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return stemmed


def tokenize(text: str) -> list[str]:
    """Stemmed, lower-case word tokens in order (stop words kept, for phrases)."""
    return [stem(word) for word in _TOKEN_RE.findall(text.lower())]


def _find(tokens: Sequence[str], phrase: Sequence[str]) -> int | None:
    """Where the token sequence ``phrase`` first starts in ``tokens``."""
    wanted, size, at = list(phrase), len(phrase), -1
    while wanted:
        try:
            at = tokens.index(wanted[0], at + 1)
        except ValueError:
            return None
        if list(tokens[at : at + size]) == wanted:
            return at
    return None


def surface(text: str, phrase: Sequence[str]) -> str | None:
    """The words of ``text`` that match the stemmed ``phrase``, as they are written there."""
    spans, stems = _spans(text)
    at = _find(stems, phrase)
    return None if at is None else text[spans[at][0] : spans[at + len(phrase) - 1][1]]


def surface_in(text: str, tokens: list[str], phrase: Sequence[str]) -> str | None:
    """``surface`` for a text whose ``tokens`` are at hand (a corpus's title or abstract):
    the phrase is found among them, then only the words up to it are spanned."""
    at = _find(tokens, phrase)
    if at is None:
        return surface(text, phrase)
    words = list(islice(_TOKEN_RE.finditer(text), at, at + len(phrase)))
    if [stem(m.group().lower()) for m in words] == list(phrase):  # lower() kept words apart
        return text[words[0].start() : words[-1].end()]
    return surface(text, phrase)


@lru_cache(maxsize=16384)
def _spans(text: str) -> tuple[tuple[tuple[int, int], ...], tuple[str, ...]]:
    words = list(_TOKEN_RE.finditer(text))
    return tuple(m.span() for m in words), tuple(stem(m.group().lower()) for m in words)


def content_terms(tokens: Iterable[str]) -> list[str]:
    return [t for t in tokens if t not in STOPWORDS and not t.isdigit() and len(t) > 1]


def _doc_index(docs: Sequence[list[str]]) -> dict[str, dict[int, int]]:
    """Token -> {document: how often it holds the token}, in document order."""
    index: dict[str, dict[int, int]] = {}
    for doc, tokens in enumerate(docs):
        for token, count in Counter(tokens).items():
            index.setdefault(token, {})[doc] = count
    return index


def _occurrences(tokens: list[str], phrase: Sequence[str]) -> int:
    if len(phrase) == 1:
        return tokens.count(phrase[0])
    first, rest, size = phrase[0], list(phrase[1:]), len(phrase)
    return sum(
        1 for i, token in enumerate(tokens) if token == first and tokens[i + 1 : i + size] == rest
    )


class Corpus:
    """Candidate papers, indexed. Paper order is by id, so results never depend on input order."""

    def __init__(self, papers: Iterable[StoredPaper], semantic: Semantic | None = None) -> None:
        #: the papers' embeddings (and the keyword texts'), when semantic ranking is on
        self.semantic = semantic
        unique = {p.id: p for p in papers}
        self.papers: list[StoredPaper] = [unique[k] for k in sorted(unique)]
        self.position = {p.id: i for i, p in enumerate(self.papers)}
        self.titles = [tokenize(p.title) for p in self.papers]
        self.abstracts = [tokenize(p.abstract) for p in self.papers]
        self.title_index = _doc_index(self.titles)
        self.abstract_index = _doc_index(self.abstracts)
        self.size = len(self.papers)
        lengths = [len(a) for a in self.abstracts]
        self.avg_abstract = (sum(lengths) / len(lengths)) if lengths else 1.0
        terms = [content_terms(t + a) for t, a in zip(self.titles, self.abstracts, strict=True)]
        #: each paper's content words, in order
        self.content = terms
        self.df: Counter[str] = Counter()
        for doc_terms in terms:
            self.df.update(set(doc_terms))
        self._idf = {t: self.idf(t) for t in self.df}
        self.vectors = [self._weigh(Counter(doc_terms)) for doc_terms in terms]
        self.signatures = [_signature(v) for v in self.vectors]
        self.term_docs: dict[str, list[tuple[int, float]]] = {}
        for doc, vector in enumerate(self.vectors):
            for term, weight in vector.items():
                self.term_docs.setdefault(term, []).append((doc, weight))

    def idf(self, term: str) -> float:
        return math.log((self.size + 1) / (self.df.get(term, 0) + 1)) + 1.0

    def _weigh(self, counts: Counter[str]) -> Vector:
        idf = self._idf
        vector = {t: (1.0 + math.log(c)) * (idf.get(t) or self.idf(t)) for t, c in counts.items()}
        norm = math.sqrt(sum(w * w for w in vector.values())) or 1.0
        return {t: w / norm for t, w in vector.items()}

    def vector_of(self, paper: StoredPaper) -> Vector:
        """A tf-idf vector for any paper (a seed need not be a candidate), on this corpus's idf."""
        if paper.id in self.position:
            return self.vectors[self.position[paper.id]]
        return self._weigh(Counter(content_terms(tokenize(paper.title) + tokenize(paper.abstract))))

    def similarities(self, vector: Vector) -> dict[int, float]:
        """Cosine similarity of ``vector`` with every candidate that shares a term with it."""
        scores: dict[int, float] = {}
        for term, weight in vector.items():
            for doc, other in self.term_docs.get(term, ()):
                scores[doc] = scores.get(doc, 0.0) + weight * other
        return scores

    def phrase_counts(self, phrase: Sequence[str], field: str) -> dict[int, int]:
        """How often the token sequence occurs in each document's title or abstract."""
        if len(phrase) == 1:
            index = self.title_index if field == "title" else self.abstract_index
            return dict(index.get(phrase[0], {}))
        docs = self.words_present(phrase, field)
        texts = self.titles if field == "title" else self.abstracts
        counts = {doc: _occurrences(texts[doc], phrase) for doc in sorted(docs)}
        return {doc: n for doc, n in counts.items() if n}

    def words_present(self, phrase: Sequence[str], field: str) -> set[int]:
        """Documents whose field holds every word of the phrase, anywhere."""
        index = self.title_index if field == "title" else self.abstract_index
        docs: set[int] | None = None
        for token in phrase:
            found = set(index.get(token, ()))
            docs = found if docs is None else docs & found
            if not docs:
                return set()
        return docs or set()


SIGNATURE_TERMS = 24


def _signature(vector: Vector) -> Vector:
    """A vector's strongest terms, renormalized: enough to tell near-copies apart, cheap."""
    top = sorted(vector.items(), key=lambda item: (-item[1], item[0]))[:SIGNATURE_TERMS]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    return {t: w / norm for t, w in top}


def cosine(a: Vector, b: Vector) -> float:
    return sum(a[t] * b[t] for t in a.keys() & b.keys())
