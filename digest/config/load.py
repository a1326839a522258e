"""Reading the settings: the file, the environment, relative paths, the one-line errors."""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from digest.config.sections import Settings
from digest.errors import ConfigError
from digest.resources import sample_dir

DEFAULT_CONFIG_NAME = "digest.toml"
SAMPLE_DIR = sample_dir()
SAMPLE_CONFIG = SAMPLE_DIR / "digest.toml"


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] = os.environ
) -> Settings:
    """Read, validate and resolve the settings.

    ``path`` (from ``--config``) wins over ``DIGEST_CONFIG``; a path given either way must
    exist. With neither, ``./digest.toml`` is read if present, and otherwise the built-in
    sample settings are used, so a fresh checkout works offline.
    """
    explicit = path or environ.get("DIGEST_CONFIG")
    if explicit:
        file = Path(explicit)
        if not file.is_file():
            raise ConfigError(f"{file}: no such configuration file")
    else:
        file = Path(DEFAULT_CONFIG_NAME)
        if not file.is_file():
            return _apply_environment(sample_settings(), environ)
    settings = parse_settings(read_toml(file), origin=str(file))
    return _apply_environment(resolve_paths(settings, file.parent), environ)


def parse_settings(data: dict[str, Any], origin: str = "<settings>") -> Settings:
    try:
        return Settings.model_validate({**data, "origin": origin})
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {describe_validation_error(exc, data)}") from exc


def describe_validation_error(exc: ValidationError, data: Mapping[str, Any]) -> str:
    """One line naming the first offending key, in TOML terms."""
    error = exc.errors()[0]
    loc = _dotted(error["loc"], data)
    kind = error["type"]
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return f"unknown key '{loc}'"
    if kind == "missing":
        return f"missing required key '{loc}'"
    got = error.get("input")
    if kind == "literal_error":
        return f"'{loc}' {message.lower()}, got {got!r}"
    where = f"'{loc}': " if loc else ""
    if kind == "value_error" or not isinstance(got, str | int | float | bool | list):
        return f"{where}{message}".replace("\n", " ")
    return f"{where}{message.lower()}, got {got!r} ({type(got).__name__})".replace("\n", " ")


def _dotted(loc: tuple[Any, ...], data: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1] += f"[{item}]"
        elif item in ("function-after", "function-before") or "[" in str(item):
            continue
        else:
            parts.append(str(item))
    return ".".join(parts)


def resolve_paths(settings: Settings, base: Path) -> Settings:
    """Make the file's relative paths relative to the file's directory."""

    def fix(path: str | None) -> str | None:
        if path is None or Path(path).is_absolute():
            return path
        return str((base / path).resolve())

    store_url = settings.store.url
    match = re.match(r"^(sqlite(?:\+\w+)?:///)(?!/)(.+)$", store_url)
    if match and match.group(2) != ":memory:":
        store_url = match.group(1) + str(fix(match.group(2)))
    return settings.model_copy(
        update={
            "store": settings.store.model_copy(update={"url": store_url}),
            "site": settings.site.model_copy(
                update={
                    "templates": fix(settings.site.templates),
                    "out_dir": fix(settings.site.out_dir),
                }
            ),
            "sources": [s.model_copy(update={"path": fix(s.path)}) for s in settings.sources],
            "log": settings.log.model_copy(update={"file": fix(settings.log.file)}),
            "mail": settings.mail.model_copy(
                update={
                    "outbox_dir": fix(settings.mail.outbox_dir),
                    "dkim": settings.mail.dkim.model_copy(
                        update={"private_key_path": fix(settings.mail.dkim.private_key_path)}
                    )
                    if settings.mail.dkim
                    else None,
                }
            ),
        }
    )


def _apply_environment(settings: Settings, environ: Mapping[str, str]) -> Settings:
    url = environ.get("DIGEST_STORE_URL")
    if url:
        settings = settings.model_copy(
            update={"store": settings.store.model_copy(update={"url": url})}
        )
    return settings


def read_toml(file: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from exc


def sample_settings() -> Settings:
    """The built-in settings (``digest/sample/digest.toml``): the shipped sample listings,
    three topics, and the store, site and outbox relative to the current directory."""
    settings = parse_settings(read_toml(SAMPLE_CONFIG), origin=str(SAMPLE_CONFIG))
    sources = [
        s.model_copy(update={"path": str(SAMPLE_DIR / s.path)}) if s.path else s
        for s in settings.sources
    ]
    return settings.model_copy(update={"sources": sources, "origin": None})


def demo_config() -> str:
    """The built-in sample settings as a file of their own (``make demo`` writes it into
    ``demo/``): the shipped listings by absolute path, the store, the site and the outbox
    beside the file, so the demo never mixes with an operator's own store."""
    text = SAMPLE_CONFIG.read_text(encoding="utf-8")
    header, _, body = text.partition("\n\n")
    body = re.sub(
        r'^path = "([^"]+)"$',
        lambda m: f"path = {json.dumps(str(SAMPLE_DIR / m.group(1)))}",
        body,
        flags=re.MULTILINE,
    )
    return (
        "# The demo's settings (written by `digest init --sample`): the sample listings that\n"
        "# ship with Paper Digest, three topics; the store, site and outbox are beside this\n"
        "# file. Your own configuration belongs in a folder of its own (`digest init`).\n\n" + body
    )
