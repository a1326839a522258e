"""Filling what differs per recipient by position, never by searching the text.

A document is rendered once with a *slot marker* wherever a per-recipient value goes
(the unsubscribe link, say), then cut at the markers once: literal pieces with slot
names between them. Filling joins the pieces with one reader's values. Each marker
carries a random nonce drawn when the renderer is made and never written to any output,
so no paper's title, abstract or link can contain a marker or be turned into one: text
from a feed is only ever a literal piece.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

UNSUBSCRIBE = "unsubscribe_url"
PREFERENCES = "preferences_url"
#: Lines that depend on what exactly an email holds (filled per recipient by the kit).
PERSONAL = ("subject", "preheader", "heading", "summary", "counts")
MORE = "more"
SLOTS = (UNSUBSCRIBE, PREFERENCES, *PERSONAL, MORE)


class Marks:
    """The markers of one renderer: ``PD<nonce><nn>PD``, 23 characters each."""

    def __init__(self, nonce: str | None = None) -> None:
        self.nonce = nonce or secrets.token_hex(8)
        self._pattern = re.compile(f"PD{self.nonce}([0-9]{{3}})PD")
        self._markers = {name: f"PD{self.nonce}{i:03d}PD" for i, name in enumerate(SLOTS)}

    def slot(self, name: str) -> str:
        """The marker standing for slot ``name`` in a template's output."""
        return self._markers[name]

    def structure(self, name: str) -> str:
        """A marker for where a part of a document starts (not a slot)."""
        return f"pd{self.nonce}:{name}"

    def cut(self, text: str) -> Slotted:
        pieces = self._pattern.split(text)
        items: list[str | Slot] = []
        for index, piece in enumerate(pieces):
            if index % 2:
                items.append(Slot(SLOTS[int(piece)]))
            elif piece:
                items.append(piece)
        return Slotted(tuple(items), None if len(pieces) > 1 else text)

    def join(self, slotted: Slotted) -> str:
        """The text with its open slots written as their markers (for sizes and tests)."""
        return "".join(
            item if isinstance(item, str) else self.slot(item.name) for item in slotted.items
        )


@dataclass(frozen=True, slots=True)
class Slot:
    name: str


@dataclass(frozen=True, slots=True)
class Slotted:
    """Text cut at its slots: literal strings and ``Slot`` items, in order."""

    items: tuple[str | Slot, ...]
    #: The whole text, when it has no slot.
    plain: str | None = None

    def fill(self, values: Mapping[str, str]) -> str:
        """The text with every slot replaced by its value (a missing value is an error)."""
        return "".join(item if isinstance(item, str) else values[item.name] for item in self.items)

    def partial(self, values: Mapping[str, str]) -> list[str | Slot]:
        """The items with the slots named in ``values`` filled, the others left open."""
        if self.plain is not None:
            return [self.plain]
        return [
            values[item.name] if isinstance(item, Slot) and item.name in values else item
            for item in self.items
        ]


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """One edition's email, its reader's links still open."""

    subject: str
    preheader: str
    html_parts: Slotted
    text_parts: Slotted
    marks: Marks

    @property
    def html(self) -> str:
        return self.marks.join(self.html_parts)

    @property
    def text(self) -> str:
        return self.marks.join(self.text_parts)

    def fill(self, unsubscribe_url: str, preferences_url: str) -> tuple[str, str]:
        """The HTML and text bodies for one recipient."""
        body_html = self.html_parts.fill(
            {UNSUBSCRIBE: html.escape(unsubscribe_url), PREFERENCES: html.escape(preferences_url)}
        )
        body_text = self.text_parts.fill(
            {UNSUBSCRIBE: unsubscribe_url, PREFERENCES: preferences_url}
        )
        return body_html, body_text
