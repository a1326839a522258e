"""Compose: editions from rankings.

``edition`` holds the value types (an ``Edition`` of ``Section`` s of ``Pick`` s), ``topic``
the topic edition of a period (the archive, the feeds, the preview), ``personal`` a
subscriber's edition from rankings shared by a delivery run.
"""

from digest.compose.edition import Edition, Section
from digest.compose.topic import Composition, compose, load_edition, save, section_of, seed_ids

__all__ = [
    "Composition",
    "Edition",
    "Section",
    "compose",
    "load_edition",
    "save",
    "section_of",
    "seed_ids",
]
