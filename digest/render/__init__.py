"""Render: editions into HTML and text email, RSS and Atom, and archive pages.

``environment`` builds the Jinja environment and its filters, ``lines`` the plain lines
(subject, summary, numbers), ``slots`` the per-recipient slots filled by position,
``kit`` the shared parts of a period's emails, ``renderer`` the ``Renderer`` over them.
"""

from digest.render.kit import EmailKit
from digest.render.lines import EXCERPT, MAX_AUTHORS, excerpt, short_authors, wrap
from digest.render.renderer import HTML_LIMIT, Renderer
from digest.render.slots import RenderedEmail

__all__ = [
    "EXCERPT",
    "HTML_LIMIT",
    "MAX_AUTHORS",
    "EmailKit",
    "RenderedEmail",
    "Renderer",
    "excerpt",
    "short_authors",
    "wrap",
]
