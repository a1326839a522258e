"""The labelled corpus, split by day into a development half and a held-out half."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.common import DATA
from bench.rank_quality.topics import SeedTopic

CORPUS = DATA / "arxiv-corpus"
SEEDS_PER_TOPIC = 5
SPLITS = ("dev", "held-out")


@dataclass(frozen=True)
class Row:
    id: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]

    @property
    def text(self) -> str:
        return f"{self.title}. {self.abstract}"


@dataclass(frozen=True)
class Day:
    part: str
    date: datetime
    rows: tuple[Row, ...]


def day_files(part: str) -> list[Path]:
    files = sorted((CORPUS / part).glob("*.jsonl"))
    if not files:
        raise SystemExit(f"no day files under {CORPUS / part} (set DIGEST_SHARED_DATA)")
    return files


def split_files(part: str, split: str) -> list[Path]:
    """Days in date order: the first half is for development, the second is held out."""
    files = day_files(part)
    half = len(files) // 2
    return files[:half] if split == "dev" else files[half:]


def read_day(part: str, path: Path) -> Day:
    """The day's listing, one row per id (its first occurrence), sorted by id."""
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
    date = datetime.strptime(path.stem, "%Y-%m-%d").replace(tzinfo=UTC)
    return Day(part, date, tuple(rows[k] for k in sorted(rows)))


def choose_seeds(topic: SeedTopic) -> list[Row]:
    """The first five papers (by id) of the topic's primary category, walking the
    development days in date order: chosen by rule, never by hand."""
    seeds: list[Row] = []
    for path in split_files(topic.part, "dev"):
        day = read_day(topic.part, path)
        seeds += [r for r in day.rows if r.categories[:1] == (topic.category,)]
        if len(seeds) >= SEEDS_PER_TOPIC:
            return seeds[:SEEDS_PER_TOPIC]
    raise SystemExit(f"fewer than {SEEDS_PER_TOPIC} seed papers for {topic.category}")


def spread(files: list[Path], count: int | None) -> list[Path]:
    """``count`` files spread evenly over ``files`` (all of them for None)."""
    if count is None or count >= len(files):
        return files
    step = len(files) / count
    return [files[int(i * step)] for i in range(count)]
