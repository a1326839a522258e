"""What an edition is: a period's picks grouped by topic, with counts of what else arrived."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from digest.config import TopicSettings
from digest.periods import Period
from digest.picks import Pick


@dataclass(frozen=True, slots=True)
class Section:
    topic: TopicSettings
    highlights: tuple[Pick, ...]
    candidates: int
    more_relevant: int
    empty_reason: str | None = None
    #: The relevant papers below the picks, best first (the archive lists them).
    also: tuple[Pick, ...] = ()


@dataclass(frozen=True, slots=True)
class Edition:
    """What one email, one archive page or one feed update shows."""

    period: Period
    sections: tuple[Section, ...]
    arrived: int
    built_at: datetime

    @property
    def highlights(self) -> tuple[Pick, ...]:
        return tuple(h for s in self.sections for h in s.highlights)

    @property
    def top(self) -> Pick | None:
        return self.highlights[0] if self.highlights else None

    @property
    def slug(self) -> str:
        return "+".join(s.topic.slug for s in self.sections)

    @property
    def name(self) -> str:
        return ", ".join(s.topic.name for s in self.sections)
