"""The commented starter file (``digest init``, and the README's configuration block),
rendered from the declarations in ``digest.config.sections``: every key of every section,
its help as a comment, its default as the value."""

from __future__ import annotations

import json
import textwrap
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from digest.config.sections import Settings, SourceSettings, TopicSettings
from digest.sources import ADAPTERS

HEADER = """\
# Paper Digest configuration. Every key is optional unless marked required; the value
# shown is the default. Relative paths are relative to this file.
# Secrets (SMTP password, signing key) come from environment variables, never from here.
"""

#: The example tables of the starter file (a source and a topic need values of their own).
EXAMPLE_SOURCES: list[dict[str, Any]] = [
    {
        "name": "arxiv-cs-lg",
        "kind": "arxiv-rss",
        "url": "https://rss.arxiv.org/rss/cs.LG+cs.CL",
        "schedule": "30 0 * * *",
        "schedule_timezone": "America/New_York",
    },
    {"name": "hf-daily", "kind": "hf-daily", "url": "https://huggingface.co/api/daily_papers"},
]
EXAMPLE_TOPICS: list[dict[str, Any]] = [
    {
        "slug": "rl",
        "name": "Reinforcement learning",
        "keywords": ["reinforcement learning", "policy optimization", "reward model"],
        "exclude": ["survey"],
        "categories": ["cs.LG", "cs.AI"],
    }
]
_WIDTH = 92


def starter_toml() -> str:
    """The starter file: it loads as the defaults plus the example sources and topic."""
    lines = HEADER.splitlines()
    for name, field in Settings.model_fields.items():
        model = _model_of(field)
        if model is not None and not field.exclude:
            lines += ["", *_table(model, name)]
    lines += ["", *_comment(_kinds_help())]
    for index, example in enumerate(EXAMPLE_SOURCES):
        lines += ["", *_array_table(SourceSettings, "sources", example, every_key=index == 0)]
    for index, example in enumerate(EXAMPLE_TOPICS):
        lines += ["", *_array_table(TopicSettings, "topics", example, every_key=index == 0)]
    return "\n".join(lines) + "\n"


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _kinds_help() -> str:
    width = max(len(kind) for kind in ADAPTERS)
    kinds = "\n".join(f"  {kind.ljust(width)}  {a.summary}" for kind, a in ADAPTERS.items())
    return f"One [[sources]] table per listing. kind is one of:\n{kinds}"


def _table(model: type[BaseModel], name: str, commented: bool = False) -> list[str]:
    """``[name]`` with each key; a subsection after the keys; ``commented`` for an
    optional subsection that is off by default."""
    lines = _comment(model.__doc__ or "") + [f"[{name}]"]
    nested: list[str] = []
    for key, field in model.model_fields.items():
        sub = _model_of(field)
        if sub is not None:
            off = field.default is None
            nested += ["", *_table(sub, f"{name}.{key}", commented=off)]
            continue
        lines += _key(field.alias or key, field, off=commented)
    if commented:
        lines = [f"# {line}" for line in lines]
    return lines + nested


def _array_table(
    model: type[BaseModel], name: str, values: Mapping[str, Any], every_key: bool
) -> list[str]:
    lines = (_comment(model.__doc__ or "") if every_key else []) + [f"[[{name}]]"]
    for key, field in model.model_fields.items():
        if key in values:
            lines += (_comment(field.description or "") if every_key else []) + [
                f"{key} = {toml_value(values[key])}"
            ]
        elif every_key:
            lines += _key(key, field)
    return lines


def _key(key: str, field: FieldInfo, off: bool = False) -> list[str]:
    """A key with its help; ``off``: in a table that is commented out, so a required key
    shows its example."""
    help_lines = _comment(field.description or "")
    if field.is_required():
        if not (off and field.examples):
            raise ValueError(f"{key}: a required key needs an example table")
        return help_lines + [f"{key} = {toml_value(field.examples[0])}"]
    if field.default is None:  # TOML has no null: the key is shown commented out
        example = toml_value(field.examples[0]) if field.examples else "…"
        return help_lines + [f"# {key} = {example}"]
    return help_lines + [f"{key} = {toml_value(field.default)}"]


def _comment(text: str) -> list[str]:
    out: list[str] = []
    for paragraph in text.strip().splitlines():
        if paragraph.startswith("  "):
            out.append(f"#{paragraph}")
            continue
        out += [f"# {line}" for line in textwrap.wrap(paragraph, _WIDTH - 2)] or ["#"]
    return out if text.strip() else []


def _model_of(field: FieldInfo) -> type[BaseModel] | None:
    """The settings model a field holds (also as ``X | None``), else None."""
    annotation = field.annotation
    candidates = (
        typing.get_args(annotation)
        if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union
        else (annotation,)
    )
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None
