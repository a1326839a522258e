"""The Jinja environment: the built-in templates under an operator's folder, the filters.

Templates come from ``templates/`` (inside the wheel: ``digest/templates``); an
operator's folder (``[site] templates``) is searched first, and a template there can
extend the one it replaces as ``"default:email/digest.html"``. HTML and XML are
autoescaped and undefined names are errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    select_autoescape,
)

from digest.config import Settings
from digest.errors import ConfigError
from digest.links import main_link, paper_anchor, paper_links, paper_url
from digest.render.lines import excerpt, rfc822, rfc3339, short_authors, wrap
from digest.resources import templates_dir
from digest.text import one_line, safe_url


def environment(settings: Settings) -> Environment:
    builtin = FileSystemLoader(str(templates_dir()))
    loaders: list[Any] = []
    if settings.site.templates:
        folder = Path(settings.site.templates)
        if not folder.is_dir():
            raise ConfigError(f"site.templates: no such folder {folder}")
        loaders.append(FileSystemLoader(str(folder)))
    loaders += [PrefixLoader({"default": builtin}, delimiter=":"), builtin]
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(["html", "xml", "opml"], default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        authors=short_authors,
        excerpt=excerpt,
        wrap=wrap,
        rfc822=rfc822,
        rfc3339=rfc3339,
        links=paper_links,
        anchor=paper_anchor,
        main_link=main_link,
        paper_url=paper_url,
        safe_url=safe_url,
        one_line=one_line,
    )
    env.globals.update(site=settings.site, base_url=settings.site.base_url)
    return env
