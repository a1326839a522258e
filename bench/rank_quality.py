"""Ranking-quality benchmark: does the ranker put a topic's papers at the top of a day?

Real arXiv days from the labelled corpus in ../shared/data/arxiv-corpus (the cs and the
astro-ph daily listings). Each topic is one arXiv category, described the way a user
would set up an alert: a handful of hand-written keywords and five seed papers of that
category from an earlier day. Every ranker sees the day's listing with the categories
*hidden*; a paper counts as relevant when the topic's category is anywhere in its real
category list (cross-lists count). Per topic, averaged over the evaluation days:
precision at 5 and 10 and nDCG@10 (binary gains), for three rankers in the same run:

* keyword filter: what arXiv alerts and alert filters do; a paper matches when a keyword
  occurs as a word (case-insensitive, plural allowed) in title or abstract; matches are
  ranked by how many distinct keywords they hit, then by id; the rest follow by id.
* tf-idf to seeds: arxiv-sanity's approach; sublinear tf-idf (smooth idf over the day's
  listing plus the seeds, l2 norm, unigrams, stop words removed) of title and abstract,
  scored by cosine similarity to the seeds (centroid or best single seed, whichever
  does better overall, named in the output).
* ours: ``digest.rank.rank_topic`` with the same keywords and seeds and the default
  settings; the full ranked order (best score first), not only the picks.

Seeds: walking the day files of a corpus part in date order, the first 5 (by id) papers
whose *primary* category is the topic's, from the first days that hold 5. Evaluation
days: every later day file of the part (17 cs days, 134 astro-ph days; --quick: 5 and 10
of them, spread evenly); seed papers are taken out of the evaluation listings, and a
topic with no relevant paper on a day is not scored that day. Also reported: ours
against each baseline topic-day by topic-day (wins/ties/losses on nDCG@10).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from bench.common import DATA, save, table
from digest.config import RankSettings, TopicSettings
from digest.models import StoredPaper
from digest.rank import Corpus, rank_topic

CORPUS = DATA / "arxiv-corpus"
SEEDS_PER_TOPIC = 5
K_SMALL, K = 5, 10


@dataclass(frozen=True)
class Topic:
    part: str  # sub-folder of the corpus
    category: str
    name: str
    keywords: tuple[str, ...]

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.category.lower()).strip("-")


CS = "daily-arXiv-ai-enhanced_cs"
ASTRO = "daily-arXiv-astro-ph"
PARTS = {CS: "cs", ASTRO: "astro-ph"}

# Written by hand, as a person would fill in an alert filter for the field; not tuned
# on the evaluation days. (cs.CR has too few papers in this corpus: about 2 a day and
# almost none as primary category, so no seeds; cs.LG takes its place.)
TOPICS = [
    Topic(
        CS,
        "cs.CV",
        "Computer vision",
        (
            "computer vision",
            "image",
            "video",
            "object detection",
            "segmentation",
            "visual recognition",
            "pose estimation",
            "3D reconstruction",
        ),
    ),
    Topic(
        CS,
        "cs.CL",
        "Computation and language",
        (
            "natural language processing",
            "NLP",
            "language model",
            "LLM",
            "text",
            "machine translation",
            "question answering",
            "dialogue",
        ),
    ),
    Topic(
        CS,
        "cs.LG",
        "Machine learning",
        (
            "machine learning",
            "deep learning",
            "neural network",
            "reinforcement learning",
            "optimization",
            "generalization",
            "representation learning",
            "gradient",
        ),
    ),
    Topic(
        CS,
        "cs.IT",
        "Information theory",
        (
            "information theory",
            "channel capacity",
            "coding",
            "entropy",
            "mutual information",
            "MIMO",
            "wireless",
            "rate-distortion",
            "error-correcting code",
        ),
    ),
    Topic(
        CS,
        "cs.RO",
        "Robotics",
        (
            "robot",
            "robotics",
            "manipulation",
            "grasping",
            "locomotion",
            "motion planning",
            "navigation",
            "autonomous driving",
        ),
    ),
    Topic(
        CS,
        "cs.GR",
        "Graphics",
        (
            "computer graphics",
            "rendering",
            "mesh",
            "animation",
            "texture",
            "shading",
            "gaussian splatting",
            "geometry processing",
        ),
    ),
    Topic(
        ASTRO,
        "astro-ph.GA",
        "Galaxies",
        (
            "galaxy",
            "galaxies",
            "interstellar medium",
            "star formation",
            "Milky Way",
            "dark matter halo",
            "molecular cloud",
            "active galactic nuclei",
            "stellar populations",
        ),
    ),
    Topic(
        ASTRO,
        "astro-ph.CO",
        "Cosmology",
        (
            "cosmology",
            "cosmological",
            "dark energy",
            "cosmic microwave background",
            "CMB",
            "large-scale structure",
            "Hubble constant",
            "inflation",
            "baryon acoustic oscillations",
            "weak lensing",
        ),
    ),
    Topic(
        ASTRO,
        "astro-ph.HE",
        "High-energy astrophysics",
        (
            "gamma-ray",
            "X-ray",
            "neutron star",
            "black hole",
            "gravitational wave",
            "cosmic ray",
            "neutrino",
            "pulsar",
            "supernova remnant",
            "accretion",
        ),
    ),
    Topic(
        ASTRO,
        "astro-ph.SR",
        "Solar and stellar",
        (
            "stellar",
            "star",
            "solar",
            "sun",
            "binary",
            "asteroseismology",
            "white dwarf",
            "stellar evolution",
            "red giant",
            "flare",
        ),
    ),
    Topic(
        ASTRO,
        "astro-ph.EP",
        "Exoplanets and the solar system",
        (
            "exoplanet",
            "planet",
            "planetary",
            "protoplanetary disk",
            "asteroid",
            "comet",
            "planetary atmosphere",
            "transit",
            "solar system",
            "habitable",
        ),
    ),
]

# evaluation days per corpus part: every day file after the last seed day (17 cs days,
# 134 astro-ph days); --quick takes a few spread evenly over the same range
EVAL_DAYS: dict[str, int | None] = {CS: None, ASTRO: None}
EVAL_DAYS_QUICK: dict[str, int | None] = {CS: 5, ASTRO: 10}

RANKERS = ["keyword filter", "tf-idf to seeds", "ours"]


# --- data -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Row:
    id: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]

    @cached_property
    def text(self) -> str:
        """Title and abstract, lower-case (what the keyword filter searches)."""
        return f"{self.title}\n{self.abstract}".lower()

    @cached_property
    def term_counts(self) -> Counter[str]:
        """Word counts for the tf-idf baseline (stop words removed)."""
        return Counter(_terms(f"{self.title} {self.abstract}"))


def _day_files(part: str) -> list[Path]:
    return sorted((CORPUS / part).glob("*.jsonl"))


def _read_day(path: Path) -> list[Row]:
    """The day's listing, one row per id (the first occurrence), sorted by id."""
    rows: dict[str, Row] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            item = json.loads(line)
            if item["id"] in rows:
                continue
            rows[item["id"]] = Row(
                id=item["id"],
                title=" ".join((item.get("title") or "").split()),
                abstract=" ".join((item.get("summary") or "").split()),
                authors=tuple(item.get("authors") or ()),
                categories=tuple(item.get("categories") or ()),
            )
    return [rows[k] for k in sorted(rows)]


def _stored(row: Row, day: datetime) -> StoredPaper:
    """What the rankers see: no categories, so category matching cannot leak the label."""
    return StoredPaper(
        id=row.id,
        title=row.title,
        abstract=row.abstract,
        authors=row.authors,
        categories=(),
        version=None,
        published=None,
        updated=None,
        first_seen=day,
        last_seen=day,
        links={},
        sources=("bench",),
    )


def _day_of(path: Path) -> datetime:
    return datetime.strptime(path.stem, "%Y-%m-%d").replace(tzinfo=UTC)


def _choose_seeds(
    files: list[Path], listings: dict[Path, list[Row]], category: str
) -> tuple[list[Row], int]:
    """Walk the days in order until 5 papers of primary ``category`` are seen; the first 5
    by id. Returns the seeds and the index of the last day file used."""
    pool: list[Row] = []
    for index, path in enumerate(files):
        pool += [r for r in listings[path] if r.categories[:1] == (category,)]
        if len(pool) >= SEEDS_PER_TOPIC:
            return sorted(pool, key=lambda r: r.id)[:SEEDS_PER_TOPIC], index
    raise RuntimeError(f"fewer than {SEEDS_PER_TOPIC} {category} papers in the corpus")


def _spread(items: list[Path], count: int | None) -> list[Path]:
    if count is None or count >= len(items):
        return items
    if count == 1:
        return [items[-1]]
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)]


# --- baselines --------------------------------------------------------------------------


def keyword_filter(keywords: Sequence[str], rows: Sequence[Row]) -> list[str]:
    """Alert-filter ranking: distinct keywords matched (word match, plural allowed)."""
    patterns = [
        (k.lower(), re.compile(r"\b" + re.escape(k.lower()) + r"(?:s|es)?\b")) for k in keywords
    ]
    hits = []
    for row in rows:
        text = row.text
        hits.append((-sum(1 for k, p in patterns if k in text and p.search(text)), row.id))
    return [paper_id for _, paper_id in sorted(hits)]


# a standard English stop-word list (the classic van Rijsbergen/Glasgow list, as used by
# scikit-learn's TfidfVectorizer(stop_words="english"))
STOP_WORDS = frozenset(
    """
a about above across after afterwards again against all almost alone along already also
although always am among amongst amoungst amount an and another any anyhow anyone anything
anyway anywhere are around as at back be became because become becomes becoming been before
beforehand behind being below beside besides between beyond bill both bottom but by call can
cannot cant co con could couldnt cry de describe detail do done down due during each eg eight
either eleven else elsewhere empty enough etc even ever every everyone everything everywhere
except few fifteen fifty fill find fire first five for former formerly forty found four from
front full further get give go had has hasnt have he hence her here hereafter hereby herein
hereupon hers herself him himself his how however hundred i ie if in inc indeed interest into
is it its itself keep last latter latterly least less ltd made many may me meanwhile might
mill mine more moreover most mostly move much must my myself name namely neither never
nevertheless next nine no nobody none noone nor not nothing now nowhere of off often on once
one only onto or other others otherwise our ours ourselves out over own part per perhaps
please put rather re same see seem seemed seeming seems serious several she should show side
since sincere six sixty so some somehow someone something sometime sometimes somewhere still
such system take ten than that the their them themselves then thence there thereafter thereby
therefore therein thereupon these they thick thin third this those though three through
throughout thru thus to together too top toward towards twelve twenty two un under until up
upon us very via was we well were what whatever when whence whenever where whereafter whereas
whereby wherein whereupon wherever whether which while whither who whoever whole whom whose
why will with within without would yet you your yours yourself yourselves
""".split()
)
_WORD = re.compile(r"(?u)\b\w\w+\b")


def _terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]


def _sparse_dot(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


def tfidf_to_seeds(seeds: Sequence[Row], rows: Sequence[Row]) -> dict[str, list[str]]:
    """arxiv-sanity-style ranking by tf-idf cosine to the seeds: both variants."""
    docs = [r.term_counts for r in (*rows, *seeds)]
    df: Counter[str] = Counter()
    for counts in docs:
        df.update(counts.keys())
    n = len(docs)
    idf = {t: math.log((1 + n) / (1 + d)) + 1.0 for t, d in df.items()}
    vectors = []
    for counts in docs:
        vector = {t: (1.0 + math.log(c)) * idf[t] for t, c in counts.items()}
        norm = math.sqrt(sum(w * w for w in vector.values())) or 1.0
        vectors.append({t: w / norm for t, w in vector.items()})
    listing, seed_vectors = vectors[: len(rows)], vectors[len(rows) :]
    centroid: dict[str, float] = {}
    for vector in seed_vectors:
        for term, weight in vector.items():
            centroid[term] = centroid.get(term, 0.0) + weight / len(seed_vectors)
    norm = math.sqrt(sum(w * w for w in centroid.values())) or 1.0
    centroid = {t: w / norm for t, w in centroid.items()}
    by_centroid = [(-_sparse_dot(v, centroid), r.id) for r, v in zip(rows, listing, strict=True)]
    by_max = [
        (-max(_sparse_dot(v, s) for s in seed_vectors), r.id)
        for r, v in zip(rows, listing, strict=True)
    ]
    return {"centroid": [i for _, i in sorted(by_centroid)], "max": [i for _, i in sorted(by_max)]}


# --- metrics ----------------------------------------------------------------------------


def precision_at(order: Sequence[str], relevant: set[str], k: int) -> float:
    return sum(1 for paper_id in order[:k] if paper_id in relevant) / k


def ndcg_at(order: Sequence[str], relevant: set[str], k: int) -> float:
    dcg = sum(
        1 / math.log2(rank + 2) for rank, paper_id in enumerate(order[:k]) if paper_id in relevant
    )
    ideal = sum(1 / math.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def _metrics(order: Sequence[str], relevant: set[str]) -> dict[str, float]:
    return {
        "p5": precision_at(order, relevant, K_SMALL),
        "p10": precision_at(order, relevant, K),
        "ndcg10": ndcg_at(order, relevant, K),
    }


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _average(items: Sequence[dict[str, float]]) -> dict[str, float]:
    return {m: _mean([i[m] for i in items]) for m in ("p5", "p10", "ndcg10")}


# --- the run ----------------------------------------------------------------------------


def evaluate(quick: bool = False, ours: Callable[..., list[str]] | None = None) -> dict:
    """All figures, without printing. ``ours`` may replace the project's ranker (for
    experiments); it is called as ``ours(topic_settings, corpus, seeds, now)``."""
    ours = ours or _ours
    n_days = EVAL_DAYS_QUICK if quick else EVAL_DAYS
    per_topic: dict[str, dict] = {}
    days_used: dict[str, list[str]] = {}
    timings = {"keyword filter": 0.0, "tf-idf to seeds": 0.0, "ours": 0.0, "index": 0.0}
    for part in PARTS:
        files = _day_files(part)
        topics = [t for t in TOPICS if t.part == part]
        listings: dict[Path, list[Row]] = {}
        seeds: dict[str, list[Row]] = {}
        last_seed_day = 0
        for path in files:  # read lazily: seeds come from the first days
            listings[path] = _read_day(path)
            if all(t.category in seeds for t in topics):
                break
            for topic in topics:
                if topic.category in seeds:
                    continue
                try:
                    chosen, index = _choose_seeds(list(listings), listings, topic.category)
                except RuntimeError:
                    continue
                seeds[topic.category] = chosen
                last_seed_day = max(last_seed_day, index)
        missing = [t.category for t in topics if t.category not in seeds]
        if missing:
            raise RuntimeError(f"no seeds for {missing}")
        eval_files = _spread(files[last_seed_day + 1 :], n_days[part])
        days_used[part] = [p.stem for p in eval_files]
        seed_ids = {r.id for rows in seeds.values() for r in rows}
        for topic in topics:
            per_topic[topic.category] = {
                "part": PARTS[part],
                "name": topic.name,
                "keywords": list(topic.keywords),
                "seeds": [{"id": r.id, "title": r.title} for r in seeds[topic.category]],
                "seed_days_until": files[last_seed_day].stem,
                "days": {},
            }
        for path in eval_files:
            rows = [r for r in (listings.get(path) or _read_day(path)) if r.id not in seed_ids]
            now = _day_of(path)
            start = time.perf_counter()
            corpus = Corpus(_stored(r, now) for r in rows)
            timings["index"] += time.perf_counter() - start
            for topic in topics:
                relevant = {r.id for r in rows if topic.category in r.categories}
                if not relevant:
                    continue  # nothing to find: every ranker scores 0, nDCG undefined
                topic_seeds = seeds[topic.category]
                settings = TopicSettings(
                    slug=topic.slug,
                    name=topic.name,
                    keywords=list(topic.keywords),
                    categories=[],
                    seed_papers=[],
                    max_items=10,
                )
                orders: dict[str, list[str]] = {}
                start = time.perf_counter()
                orders["keyword filter"] = keyword_filter(topic.keywords, rows)
                timings["keyword filter"] += time.perf_counter() - start
                start = time.perf_counter()
                tfidf = tfidf_to_seeds(topic_seeds, rows)
                timings["tf-idf to seeds"] += time.perf_counter() - start
                orders["tf-idf (centroid)"] = tfidf["centroid"]
                orders["tf-idf (max)"] = tfidf["max"]
                start = time.perf_counter()
                orders["ours"] = ours(settings, corpus, [_stored(r, now) for r in topic_seeds], now)
                timings["ours"] += time.perf_counter() - start
                per_topic[topic.category]["days"][path.stem] = {
                    "listing": len(rows),
                    "relevant": len(relevant),
                    **{name: _metrics(order, relevant) for name, order in orders.items()},
                }
    # the tf-idf variant that does better for the baseline, by overall nDCG@10, then P@10
    variant_scores = {}
    for variant in ("tf-idf (centroid)", "tf-idf (max)"):
        topic_means = [
            _average([d[variant] for d in t["days"].values()]) for t in per_topic.values()
        ]
        overall = _average(topic_means)
        variant_scores[variant] = (overall["ndcg10"], overall["p10"])
    best_variant = max(variant_scores, key=lambda v: variant_scores[v])
    names = {"keyword filter": "keyword filter", "tf-idf to seeds": best_variant, "ours": "ours"}
    for data in per_topic.values():
        days = list(data["days"].values())
        data["evaluated_days"] = len(days)
        data["relevant_per_day"] = _mean([d["relevant"] for d in days])
        data["listing_per_day"] = _mean([d["listing"] for d in days])
        data["mean"] = {
            name: _average([d[name] for d in days])
            for name in ("keyword filter", "tf-idf (centroid)", "tf-idf (max)", "ours")
        }
    macro: dict[str, dict[str, dict[str, float]]] = {}
    for label, members in [
        *[(p, [c for c, t in per_topic.items() if t["part"] == p]) for p in PARTS.values()],
        ("overall", list(per_topic)),
    ]:
        macro[label] = {
            name: _average([per_topic[c]["mean"][name] for c in members])
            for name in ("keyword filter", "tf-idf (centroid)", "tf-idf (max)", "ours")
        }
    # ours against each baseline, topic-day by topic-day: wins, ties, losses on nDCG@10
    paired = {}
    for ranker in ("keyword filter", "tf-idf to seeds"):
        counts = [0, 0, 0]
        for data in per_topic.values():
            for day in data["days"].values():
                diff = day["ours"]["ndcg10"] - day[names[ranker]]["ndcg10"]
                counts[0 if diff > 1e-9 else 2 if diff < -1e-9 else 1] += 1
        paired[ranker] = counts
    return {
        "when": datetime.now(UTC).isoformat(),
        "quick": quick,
        "evaluation_days": days_used,
        "tfidf_variant": best_variant,
        "rankers": names,
        "topics": per_topic,
        "macro": macro,
        "paired_ndcg10": paired,
        "seconds": timings,
    }


def _ours(
    topic: TopicSettings, corpus: Corpus, seeds: list[StoredPaper], now: datetime
) -> list[str]:
    ranking = rank_topic(topic, corpus, settings=RankSettings(), now=now, seeds=seeds)
    return [r.paper.id for r in ranking.ranked]


def _fmt(metrics: dict[str, float]) -> list[str]:
    return [f"{metrics['p5']:.2f}", f"{metrics['p10']:.2f}", f"{metrics['ndcg10']:.2f}"]


def report(figures: dict) -> str:
    names = figures["rankers"]
    columns = [names[r] for r in RANKERS]
    header = ["topic", "days", "rel/day", "listing"]
    for short in ("kw", "tfidf", "ours"):
        header += [f"{short} P@5", f"{short} P@10", f"{short} nDCG"]
    rows = []
    for part in PARTS.values():
        for category, data in figures["topics"].items():
            if data["part"] != part:
                continue
            row = [
                category,
                data["evaluated_days"],
                f"{data['relevant_per_day']:.1f}",
                f"{data['listing_per_day']:.0f}",
            ]
            for name in columns:
                row += _fmt(data["mean"][name])
            rows.append(row)
        row = [f"MEAN {part}", "", "", ""]
        for name in columns:
            row += _fmt(figures["macro"][part][name])
        rows.append(row)
    row = ["MEAN overall", "", "", ""]
    for name in columns:
        row += _fmt(figures["macro"]["overall"][name])
    rows.append(row)
    legend = (
        f"kw = keyword filter, tfidf = {names['tf-idf to seeds']} to the 5 seeds, "
        f"ours = digest.rank.rank_topic (keywords + seeds); rel/day = relevant papers "
        f"per evaluated day, listing = papers per day; MEAN = macro average over topics"
    )
    return table(header, rows) + "\n" + legend


def summary(figures: dict) -> str:
    names = figures["rankers"]
    overall = figures["macro"]["overall"]
    kw, tf, ours = (overall[names[r]] for r in RANKERS)
    labels = {"p5": "P@5", "p10": "P@10", "ndcg10": "nDCG@10"}
    wins = [m for m in labels if ours[m] > kw[m] and ours[m] > tf[m]]
    losses = []
    for category, data in figures["topics"].items():
        mean = data["mean"]
        for short, name in (
            ("keyword filter", "keyword filter"),
            ("tf-idf", names["tf-idf to seeds"]),
        ):
            behind = [labels[m] for m in labels if mean["ours"][m] < mean[name][m] - 1e-9]
            if behind:
                losses.append(
                    f"{category} behind the {short} on {'/'.join(behind)} (nDCG@10 "
                    f"{mean['ours']['ndcg10']:.2f} vs {mean[name]['ndcg10']:.2f})"
                )
    verdict = (
        "beats both baselines on all three overall macro averages"
        if len(wins) == 3
        else f"beats both baselines overall on {', '.join(labels[m] for m in wins) or 'none'}"
        f" of the three metrics"
    )
    paired = figures["paired_ndcg10"]
    days = figures["evaluation_days"]
    return (
        f"Over {len(figures['topics'])} topics and {sum(len(v) for v in days.values())} "
        f"evaluation days (cs: {len(days[CS])} days from {days[CS][0]} to {days[CS][-1]}; "
        f"astro-ph: {len(days[ASTRO])} days from {days[ASTRO][0]} to {days[ASTRO][-1]}), "
        f"the project's ranker reaches overall P@5 {ours['p5']:.2f}, P@10 {ours['p10']:.2f} "
        f"and nDCG@10 {ours['ndcg10']:.2f}, against {kw['p5']:.2f}/{kw['p10']:.2f}/"
        f"{kw['ndcg10']:.2f} for the keyword filter and {tf['p5']:.2f}/{tf['p10']:.2f}/"
        f"{tf['ndcg10']:.2f} for {names['tf-idf to seeds']} to the seeds: it {verdict}. "
        f"Day by day (nDCG@10, wins/ties/losses over {sum(paired['keyword filter'])} "
        f"topic-days) it beats the keyword filter {'/'.join(map(str, paired['keyword filter']))}"
        f" and the tf-idf baseline {'/'.join(map(str, paired['tf-idf to seeds']))}. "
        + (
            f"It trails a baseline on: {'; '.join(losses)}. "
            if losses
            else "It is at least level with both baselines on every topic. "
        )
        + "Labels are arXiv categories, hidden from all rankers; a paper cross-listed in "
        "the topic's category counts as relevant, so the figures are a lower bound on what "
        "a reader would call relevant."
    )


def run(quick: bool = False) -> dict:
    start = time.perf_counter()
    figures = evaluate(quick=quick)
    figures["seconds"]["total"] = time.perf_counter() - start
    print(report(figures))
    print()
    print(summary(figures))
    print(f"\n({figures['seconds']['total']:.1f} s) results: {save('rank_quality', figures)}")
    return figures
