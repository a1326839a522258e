"""Settings are declared once: the starter file, the README block and the sample come from
the declarations, and the source kinds from the adapter registry."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from digest.config import (
    SAMPLE_CONFIG,
    SAMPLE_DIR,
    Settings,
    load_settings,
    parse_settings,
    sample_settings,
    starter_toml,
)
from digest.config.starter import EXAMPLE_SOURCES, EXAMPLE_TOPICS, _model_of
from digest.errors import ConfigError
from digest.sources import ADAPTERS, SOURCE_KINDS, SOURCE_PRIORITY

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- starter:[^\n]*-->\n```toml\n)(.*?)(```\n<!-- /starter -->)", re.DOTALL)


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = [model]
    for field in model.model_fields.values():
        sub = _model_of(field)
        if sub is not None and sub not in found:
            found += [m for m in _models(sub) if m not in found]
    return found


def test_every_key_of_every_section_has_help():
    missing = [
        f"{model.__name__}.{name}"
        for model in _models(Settings)
        if model is not Settings
        for name, field in model.model_fields.items()
        if not field.description
        or (field.default is None and not field.examples and _model_of(field) is None)
    ]
    assert not missing, "each setting needs a description, and an example if it has no default"


def test_the_starter_file_loads_as_the_defaults_and_its_examples():
    settings = parse_settings(tomllib.loads(starter_toml()), origin="starter")
    assert settings == Settings(sources=EXAMPLE_SOURCES, topics=EXAMPLE_TOPICS, origin="starter")
    for model in _models(Settings):
        for name, field in model.model_fields.items():
            if model is not Settings and not field.is_required():
                assert (field.alias or name) in starter_toml(), name


def test_the_readme_shows_the_starter_file():
    text = README.read_text(encoding="utf-8")
    match = BLOCK.search(text)
    assert match, "README.md has no generated configuration block"
    if os.environ.get("DIGEST_REGEN_GOLDEN"):
        README.write_text(
            text[: match.start(2)] + starter_toml() + text[match.end(2) :], encoding="utf-8"
        )
        return
    assert match.group(2) == starter_toml(), (
        "README's configuration block is stale: DIGEST_REGEN_GOLDEN=1 pytest tests/test_config.py"
    )


def test_kinds_and_priorities_come_from_the_adapter_registry():
    assert tuple(ADAPTERS) == SOURCE_KINDS and set(SOURCE_PRIORITY) == set(ADAPTERS)
    for kind, adapter in ADAPTERS.items():
        assert adapter.kind == kind and SOURCE_PRIORITY[kind] == adapter.priority
        assert adapter.summary and f"  {kind}" in starter_toml()
        source = {"name": "s", "kind": kind, "url": "https://example.org/x"}
        assert parse_settings({"sources": [source]}).sources[0].kind == kind


def test_an_unknown_kind_is_one_line_naming_the_allowed_kinds():
    with pytest.raises(ConfigError) as caught:
        parse_settings({"sources": [{"name": "a", "kind": "rss", "url": "https://x.org"}]}, "f")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("f: 'sources[0].kind'")
    assert "'rss'" in message and ", ".join(SOURCE_KINDS) in message


def test_the_sample_settings_are_the_shipped_file(tmp_path, monkeypatch):
    assert SAMPLE_CONFIG == SAMPLE_DIR / "digest.toml" and SAMPLE_CONFIG.is_file()
    settings = sample_settings()
    assert settings.origin is None
    assert [s.name for s in settings.sources] == ["arxiv-sample", "hf-sample"]
    assert all(Path(s.path or "").is_file() for s in settings.sources)
    assert [t.slug for t in settings.topics] == ["rl", "nlp", "vision", "trending"]
    # the store and the site stay relative to where a command runs
    assert settings.store.url == "sqlite:///digest.db" and settings.site.out_dir == "site"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    monkeypatch.delenv("DIGEST_STORE_URL", raising=False)
    assert load_settings() == settings
