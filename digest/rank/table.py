"""A topic's candidates as a table of arrays, and the walk down it that makes the picks.

Relevance (the evidence the floor counts) and the order (the fused signals, plus
categories, popularity, freshness and an editor's pin) are computed for every candidate
at once; excluded candidates are marked. The walk then goes down the order, ties by id:
a paper is excluded, below the floor, a near-duplicate of a paper already picked,
beyond the top N, or picked. Reasons are written only for the papers the walk lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import numpy as np

from digest.config import RankSettings, TopicSettings
from digest.models import StoredPaper
from digest.picks import Pick
from digest.rank.index import Corpus, Vector, cosine
from digest.rank.matches import AUTHOR, Match, name_key
from digest.rank.view import View
from digest.text import one_line

AUTHOR_ORDER = 2.0
CATEGORY_PRIMARY = 0.5
CATEGORY_CROSS = 0.25
POPULARITY = 0.3  # times the damped popularity, in the order of the relevant papers
FRESHNESS = 0.2
PIN = 1000.0


class Table:
    """One topic's candidates (the rows of ``view``): relevance, order and exclusions of
    every row, from the topic's signals (``fused``, the semantic and seed ``relevance``
    with its ``evidence``) and its ``text`` matches and ``excluded`` terms (by corpus
    position)."""

    def __init__(
        self,
        topic: TopicSettings,
        corpus: Corpus,
        view: View,
        settings: RankSettings,
        *,
        now: datetime,
        pins: Mapping[str, str],
        trending: bool,
        fused: np.ndarray,
        relevance: np.ndarray,
        text: dict[int, list[Match]],
        excluded: dict[int, str],
        arrays: dict[str, np.ndarray],
        evidence: dict[int, list[str]],
    ) -> None:
        self.topic, self.corpus, self.view, self.settings = topic, corpus, view, settings
        self.trending, self.arrays, self.evidence = trending, arrays, evidence
        self.pinned = np.zeros(len(view.docs), dtype=bool)
        dropped: set[int] = set()
        for paper_id, mark in pins.items():
            row = int(view.row_of[corpus.position[paper_id]]) if paper_id in corpus.position else -1
            if row >= 0 and mark == "pin":
                self.pinned[row] = True
            elif row >= 0 and mark == "drop":
                dropped.add(row)
        self.fresh = view.freshness(now, settings.freshness_days)
        self.authors: dict[int, list[str]] = {}
        self.category: dict[int, str] = {}
        row_of = view.row_of
        self.text = {int(row_of[doc]): matches for doc, matches in text.items()}
        points = relevance.copy()
        for row, matches in self.text.items():
            total = 0.0
            for found, _ in matches:
                total += found
            points[row] = total + float(relevance[row])
        order = fused.copy()
        self.tied = points > 0
        why: dict[int, str] = {int(row_of[doc]): reason for doc, reason in excluded.items()}
        if topic.authors:
            followed = {name_key(a) for a in topic.authors}
            for row, paper in enumerate(corpus.papers[d] for d in view.docs):
                names = [a for a in paper.authors if name_key(a) in followed]
                if names:
                    self.authors[row] = names
                    points[row] += AUTHOR * len(names)
                    order[row] += AUTHOR_ORDER * len(names)
                    self.tied[row] = True
        if topic.categories:
            self._categories(order, why)
        if trending:
            points = view.popularity.copy()
            order = view.popularity.copy()
            self.tied[:] = True
        else:
            order += POPULARITY * view.popularity
        order += FRESHNESS * self.fresh
        for row in dropped:
            why[row] = "dropped by the editor"
        if not settings.include_replacements:
            for row in np.flatnonzero(view.replacement & ~self.pinned).tolist():
                if row not in dropped:
                    why[row] = "a revised version of an earlier paper"
        for row in np.flatnonzero(self.pinned).tolist():
            why.pop(row, None)
        self.tied |= self.pinned
        self.excluded = why
        self.points = points
        self.score = order + PIN * self.pinned

    def _categories(self, order: np.ndarray, why: dict[int, str]) -> None:
        wanted = set(self.topic.categories)
        for row, doc in enumerate(self.view.docs):
            for position, category in enumerate(self.corpus.papers[doc].categories):
                if category in wanted:
                    order[row] += CATEGORY_PRIMARY if position == 0 else CATEGORY_CROSS
                    self.category[row] = (
                        f"category {category}" if position == 0 else f"cross-listed in {category}"
                    )
                    break
            else:
                if self.trending:
                    why.setdefault(row, "not in the topic's categories")

    def reasons(self, row: int) -> tuple[str, ...]:
        paper = self.corpus.papers[self.view.docs[row]]
        reasons = [reason() for _, reason in self.text.get(row, ())]
        reasons += self.evidence.get(row, [])
        reasons += [f"by followed author {a}" for a in self.authors.get(row, ())]
        if row in self.category:
            reasons.append(self.category[row])
        reasons += _popularity_reasons(paper)
        if self.pinned[row]:
            reasons.insert(0, "pinned by the editor")
        return tuple(reasons)

    def signals(self, row: int) -> tuple[tuple[str, float], ...]:
        shown = [(name, round(float(values[row]), 4)) for name, values in self.arrays.items()]
        shown += [
            ("popularity", round(float(self.view.popularity[row]), 4)),
            ("freshness", round(float(self.fresh[row]), 4)),
        ]
        return tuple(shown)

    def walk(
        self, *, kind: str, floor: float, every: bool, cap: int
    ) -> tuple[tuple[Pick, ...], int, str | None]:
        """Down the order: the listed papers, how many are relevant, and why nothing was
        picked (None when something was). With ``every``, every row is listed; otherwise
        rows with no tie to the topic are passed over and the walk stops at the top
        ``cap`` (pinned papers, ordered first, are all looked at)."""
        size = len(self.view.docs)
        listed = np.ones(size, dtype=bool) if every else self.tied
        clear = np.ones(size, dtype=bool)
        clear[list(self.excluded)] = False
        relevant = int((listed & clear & ((self.points >= floor) | self.pinned)).sum())
        order = np.lexsort((np.arange(size), -self.score))
        pins_left = int(self.pinned.sum())
        threshold = self.settings.diversity_threshold
        corpus, papers, docs = self.corpus, self.corpus.papers, self.view.docs
        picked: list[tuple[int, Vector]] = []
        ranked: list[Pick] = []
        for row in order.tolist():
            if not listed[row]:
                continue
            pinned = bool(self.pinned[row])
            pins_left -= pinned
            if not every and len(picked) >= cap and not pinned and not pins_left:
                break
            doc = docs[row]
            relevance = float(self.points[row])
            why_not: str | None = self.excluded.get(row)
            twin: int | None = None
            if why_not is None and relevance < floor and not pinned:
                why_not = f"below the {kind} floor ({relevance:.2f} < {floor:g})"
            elif why_not is None:
                vector = corpus.signatures[doc]
                if len(picked) >= cap and not pinned:
                    why_not = f"beyond the top {cap}"
                else:
                    if not pinned:
                        twin = next((o for o, v in picked if cosine(vector, v) >= threshold), None)
                    if twin is not None:
                        why_not = f"near-duplicate of '{one_line(papers[twin].title, 60)}'"
                    else:
                        picked.append((doc, vector))
            ranked.append(
                Pick(
                    papers[doc],
                    float(self.score[row]),
                    self.reasons(row),
                    relevance=relevance,
                    picked=why_not is None,
                    why_not=why_not,
                    duplicate_of=papers[twin].id if twin is not None else None,
                    signals=self.signals(row),
                )
            )
        empty = None if picked else _empty_reason(len(self.view.docs), ranked, floor, kind)
        return tuple(ranked), relevant, empty


def _popularity_reasons(paper: StoredPaper) -> list[str]:
    reasons = []
    if paper.upvotes:
        reasons.append(f"{paper.upvotes:,} upvote{'s' if paper.upvotes != 1 else ''}")
    if paper.num_comments:
        reasons.append(f"{paper.num_comments:,} comment{'s' if paper.num_comments != 1 else ''}")
    if paper.github_stars:
        reasons.append(f"{paper.github_stars:,} stars on GitHub")
    return reasons


def _empty_reason(candidates: int, ranked: list[Pick], floor: float, kind: str) -> str:
    if candidates == 0:
        return "no new papers arrived in this period"
    best = next((r for r in ranked if r.why_not and r.why_not.startswith("below")), None)
    if best is None:
        return f"none of the {candidates} new papers could be picked (all excluded)"
    what = "matched closely enough" if kind == "relevance" else "is popular enough"
    return (
        f"none of the {candidates} new papers {what} (best: "
        f"'{one_line(best.paper.title, 60)}', {kind} {best.relevance:.2f} "
        f"below the floor {floor:g})"
    )
