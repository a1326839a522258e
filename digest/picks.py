"""The one value for a paper a topic ranked: from the ranking to the email, page and feed."""

from __future__ import annotations

from dataclasses import dataclass

from digest.models import StoredPaper


@dataclass(frozen=True, slots=True)
class Pick:
    """A paper as ranked for a topic, with its score and the reasons shown to readers.

    The ranking makes one for every candidate (``picked`` and ``why_not`` say whether it
    made the cut); editions, archive pages and feeds hold the picked ones as they are.
    """

    paper: StoredPaper
    score: float
    reasons: tuple[str, ...]
    relevance: float = 0.0
    picked: bool = True
    why_not: str | None = None
    #: For a near-duplicate: the id of the higher-ranked paper it repeats.
    duplicate_of: str | None = None
    #: The period of the stored edition it was picked in (archive and feeds).
    period: str | None = None
    #: The ranking's signals for this paper, by name (lexical, semantic, popularity, ...).
    signals: tuple[tuple[str, float], ...] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.paper.id,
            "title": self.paper.title,
            "score": round(self.score, 3),
            "reasons": list(self.reasons),
            "picked": self.picked,
            "why_not": self.why_not,
            "signals": dict(self.signals),
        }
