"""Scoring and picking the highlights of one topic among candidate papers.

A candidate's *relevance* is what ties it to the topic: keyword and phrase matches
(title above abstract, a phrase above its words scattered), similarity to the seed
papers, followed authors. Category matches, popularity (damped upvotes), freshness and
an editor's pin are added on top to order the relevant ones; they never make an
unrelated paper a highlight. Below ``relevance_floor`` a paper is not a highlight,
however few candidates there are. The picks are the top ``max_items`` with no two near
copies of one idea. Every score comes with the reasons that made it.

Pure and deterministic: candidates are ordered by id before anything is summed, and
ties are broken by id, so the input order never matters.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from digest.config import RankSettings, TopicSettings
from digest.models import StoredPaper
from digest.picks import Pick
from digest.rank.index import Corpus, Vector, cosine, tokenize
from digest.text import one_line

# points, in relevance units; the default floor is 1.0
TITLE_PHRASE = 3.0
TITLE_WORD = 2.0
ABSTRACT_PHRASE = 1.5
ABSTRACT_WORD = 0.75
SCATTERED_TITLE = 1.0
SCATTERED_ABSTRACT = 0.4
REPEAT_BONUS = 0.5  # per extra occurrence in the abstract, times the first's weight
REPEAT_CAP = 2
SEED_WEIGHT = 8.0
SEED_MIN = 0.08
AUTHOR = 3.0
CATEGORY_PRIMARY = 1.0
CATEGORY_CROSS = 0.5
POPULARITY = 0.2  # times log(1 + upvotes)
FRESHNESS = 0.3
PIN = 1000.0
RARITY_SCALE = math.log(21)  # a keyword matching 1 candidate in 20 keeps its points
RARITY_CAP = 1.5


@dataclass(frozen=True, slots=True)
class TopicRanking:
    topic: TopicSettings
    ranked: tuple[Pick, ...]
    candidates: int
    relevant: int
    empty_reason: str | None = None
    missing_seeds: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def picks(self) -> tuple[Pick, ...]:
        chosen = [r for r in self.ranked if r.picked]
        return tuple(sorted(chosen, key=lambda r: (-r.score, r.paper.id)))

    @property
    def more_relevant(self) -> int:
        """Relevant papers that did not make the top N (for "what else arrived")."""
        return max(0, self.relevant - len(self.picks))


@dataclass(frozen=True, slots=True)
class _Scored:
    index: int
    score: float
    relevance: float
    reasons: tuple[str, ...]
    excluded: str | None
    pinned: bool


def rank_topic(
    topic: TopicSettings,
    corpus: Corpus,
    *,
    settings: RankSettings,
    now: datetime,
    seeds: Sequence[StoredPaper] = (),
    missing_seeds: Sequence[str] = (),
    pins: Mapping[str, str] | None = None,
    candidate_ids: Sequence[str] | None = None,
    picks: int | None = None,
    score_all: bool = True,
) -> TopicRanking:
    """Score ``corpus`` (or the ``candidate_ids`` of it) for ``topic`` and pick highlights.

    ``pins`` maps paper ids to ``"pin"`` or ``"drop"``, the editor's marks. ``picks``
    overrides how many are picked (delivery picks a few more than ``max_items`` and lets
    each subscriber's edition choose); without ``score_all``, papers with no tie to the
    topic at all are not listed.
    """
    pins = pins or {}
    allowed = (
        set(range(corpus.size))
        if candidate_ids is None
        else {corpus.position[i] for i in candidate_ids if i in corpus.position}
    )
    text = _text_scores(topic, corpus, allowed)
    excluded = _exclusions(topic, corpus, allowed)
    seed_scores = _seed_scores(corpus, seeds, allowed)
    only_categories = not (topic.keywords or seeds or topic.authors)
    followed = {_name_key(a) for a in topic.authors}
    categories = set(topic.categories)

    considered = allowed
    if not score_all and not only_categories:
        # only papers with some tie to the topic can be picked: skip scoring the rest
        pinned_positions = {
            corpus.position[i] for i, mark in pins.items() if mark == "pin" and i in corpus.position
        }
        by_author = {
            i
            for i in allowed
            if followed and any(_name_key(a) in followed for a in corpus.papers[i].authors)
        }
        considered = allowed & (set(text) | set(seed_scores) | pinned_positions | by_author)
    scored: list[_Scored] = []
    for index in sorted(considered):
        paper = corpus.papers[index]
        reasons: list[str] = []
        relevance = 0.0
        ordering = 0.0
        for points, rarity, reason in text.get(index, ()):
            relevance += points
            ordering += points * rarity
            reasons.append(reason)
        plain = relevance
        if index in seed_scores:
            similarity, seed = seed_scores[index]
            relevance += SEED_WEIGHT * similarity
            reasons.append(f"similar to '{one_line(seed.title, 60)}' ({similarity:.2f})")
        for author in paper.authors if followed else ():
            if _name_key(author) in followed:
                relevance += AUTHOR
                reasons.append(f"by followed author {author}")
        bonus = 0.0
        for position, category in enumerate(paper.categories):
            if category in categories:
                points = CATEGORY_PRIMARY if position == 0 else CATEGORY_CROSS
                bonus += points
                reasons.append(
                    f"category {category}" if position == 0 else f"cross-listed in {category}"
                )
                break
        if only_categories:
            relevance, bonus = relevance + bonus, 0.0
        if paper.upvotes:
            bonus += POPULARITY * math.log1p(paper.upvotes)
            reasons.append(f"{paper.upvotes} upvote{'s' if paper.upvotes != 1 else ''}")
        age_days = max(0.0, (now - (paper.published or paper.first_seen)).total_seconds() / 86400)
        bonus += FRESHNESS * math.exp(-age_days / settings.freshness_days)
        mark = pins.get(paper.id)
        why_excluded = excluded.get(index)
        if mark == "drop":
            why_excluded = "dropped by the editor"
        elif paper.is_replacement and not settings.include_replacements and mark != "pin":
            why_excluded = "a revised version of an earlier paper"
        pinned = mark == "pin"
        if pinned:
            reasons.insert(0, "pinned by the editor")
            why_excluded = None
        # the text counts with its rarity weights in the order, plainly for the floor
        score = relevance - plain + ordering + bonus + (PIN if pinned else 0.0)
        scored.append(_Scored(index, score, relevance, tuple(reasons), why_excluded, pinned))

    scored.sort(key=lambda s: (-s.score, corpus.papers[s.index].id))
    cap = picks if picks is not None else topic.max_items
    return _pick(topic, corpus, scored, settings, tuple(missing_seeds), len(allowed), cap)


def _pick(
    topic: TopicSettings,
    corpus: Corpus,
    scored: list[_Scored],
    settings: RankSettings,
    missing_seeds: tuple[str, ...],
    candidates: int,
    cap: int,
) -> TopicRanking:
    picked: list[tuple[int, Vector]] = []
    ranked: list[Pick] = []
    relevant = 0
    floor = settings.relevance_floor
    for item in scored:
        paper = corpus.papers[item.index]
        why_not: str | None = None
        twin: int | None = None
        if item.excluded:
            why_not = item.excluded
        elif item.relevance < floor and not item.pinned:
            why_not = f"below the relevance floor ({item.relevance:.2f} < {floor:g})"
        else:
            relevant += 1
            vector = corpus.signatures[item.index]
            if len(picked) >= cap and not item.pinned:
                why_not = f"beyond the top {cap}"
            else:
                twin = next(
                    (
                        other
                        for other, v in picked
                        if cosine(vector, v) >= settings.diversity_threshold
                    ),
                    None,
                )
                if twin is not None and item.pinned:
                    twin = None
                if twin is not None:
                    why_not = f"near-duplicate of '{one_line(corpus.papers[twin].title, 60)}'"
                else:
                    picked.append((item.index, vector))
        ranked.append(
            Pick(
                paper,
                item.score,
                item.reasons,
                relevance=item.relevance,
                picked=why_not is None,
                why_not=why_not,
                duplicate_of=corpus.papers[twin].id if twin is not None else None,
            )
        )
    empty = None
    if not picked:
        empty = _empty_reason(candidates, ranked, floor)
    return TopicRanking(topic, tuple(ranked), candidates, relevant, empty, missing_seeds)


def _empty_reason(candidates: int, ranked: list[Pick], floor: float) -> str:
    if candidates == 0:
        return "no new papers arrived in this period"
    best = next((r for r in ranked if r.why_not and r.why_not.startswith("below")), None)
    if best is None:
        return f"none of the {candidates} new papers could be picked (all excluded)"
    return (
        f"none of the {candidates} new papers matched closely enough (best: "
        f"'{one_line(best.paper.title, 60)}', relevance {best.relevance:.2f} "
        f"below the floor {floor:g})"
    )


def _text_scores(
    topic: TopicSettings, corpus: Corpus, allowed: set[int]
) -> dict[int, list[tuple[float, float, str]]]:
    """Keyword and phrase matches per document: (points, rarity, reason) in keyword order.

    ``rarity`` weighs a keyword by how few of the candidates it matches: one that half
    the day's papers mention orders them less than one that picks out a few. It shapes
    the order only; the relevance floor counts the plain points.
    """
    found: dict[int, list[tuple[float, float, str]]] = {}
    for keyword in topic.keywords:
        phrase = tokenize(keyword)
        if not phrase:
            continue
        multi = len(phrase) > 1
        label = f"phrase '{keyword}'" if multi else f"'{keyword}'"
        in_title = corpus.phrase_counts(phrase, "title")
        in_abstract = corpus.phrase_counts(phrase, "abstract")
        matched = allowed & (set(in_title) | set(in_abstract))
        rarity = _rarity(len(allowed), len(matched))
        for doc in sorted(matched):
            if doc in in_title:
                points = TITLE_PHRASE if multi else TITLE_WORD
                where = "title"
                if doc in in_abstract:
                    points += 0.5 * (ABSTRACT_PHRASE if multi else ABSTRACT_WORD)
                    where = "title and abstract"
                found.setdefault(doc, []).append((points, rarity, f"{label} in {where}"))
            else:
                count = in_abstract[doc]
                base = ABSTRACT_PHRASE if multi else ABSTRACT_WORD
                points = base * (1 + REPEAT_BONUS * min(count - 1, REPEAT_CAP))
                times = f" ({count}×)" if count > 1 else ""
                found.setdefault(doc, []).append((points, rarity, f"{label} in abstract{times}"))
        if multi:
            in_title_words = (allowed & corpus.words_present(phrase, "title")) - matched
            in_abstract_words = (
                (allowed & corpus.words_present(phrase, "abstract")) - matched - in_title_words
            )
            for doc in sorted(in_title_words):
                found.setdefault(doc, []).append(
                    (SCATTERED_TITLE, rarity, f"words of '{keyword}' in title")
                )
            for doc in sorted(in_abstract_words):
                found.setdefault(doc, []).append(
                    (SCATTERED_ABSTRACT, rarity, f"words of '{keyword}' in abstract")
                )
    return found


def _rarity(candidates: int, matches: int) -> float:
    if not matches:
        return 1.0
    return min(RARITY_CAP, math.log(1 + candidates / matches) / RARITY_SCALE)


def _exclusions(topic: TopicSettings, corpus: Corpus, allowed: set[int]) -> dict[int, str]:
    excluded: dict[int, str] = {}
    for term in topic.exclude:
        phrase = tokenize(term)
        hits = set(corpus.phrase_counts(phrase, "title")) | set(
            corpus.phrase_counts(phrase, "abstract")
        )
        for doc in sorted(allowed & hits):
            excluded.setdefault(doc, f"excluded: contains '{term}'")
    return excluded


def _seed_scores(
    corpus: Corpus, seeds: Sequence[StoredPaper], allowed: set[int]
) -> dict[int, tuple[float, StoredPaper]]:
    """Per document: a blend of the best single-seed and the seed-centroid similarity."""
    if not seeds:
        return {}
    seed_ids = {s.id for s in seeds}
    per_seed = [(seed, corpus.similarities(corpus.vector_of(seed))) for seed in seeds]
    centroid: Vector = {}
    for seed in seeds:
        for term, weight in corpus.vector_of(seed).items():
            centroid[term] = centroid.get(term, 0.0) + weight / len(seeds)
    norm = math.sqrt(sum(w * w for w in centroid.values())) or 1.0
    central = corpus.similarities({t: w / norm for t, w in centroid.items()})
    result: dict[int, tuple[float, StoredPaper]] = {}
    for doc in sorted(allowed):
        if corpus.papers[doc].id in seed_ids:
            continue
        best_seed, best = seeds[0], 0.0
        for seed, sims in per_seed:
            if sims.get(doc, 0.0) > best:
                best_seed, best = seed, sims[doc]
        similarity = 0.5 * best + 0.5 * central.get(doc, 0.0)
        if similarity >= SEED_MIN:
            result[doc] = (similarity, best_seed)
    return result


@lru_cache(maxsize=65536)
def _name_key(name: str) -> tuple[str, str]:
    """(last name, first initial), accent- and case-blind: 'J. Doe' matches 'Jane Doe'."""
    text = unicodedata.normalize("NFKD", name).casefold()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    parts = [p for p in text.replace(".", " ").replace(",", " ").split() if p]
    if not parts:
        return ("", "")
    return (parts[-1], parts[0][0] if len(parts) > 1 else "")
