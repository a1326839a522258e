"""Where the files shipped with the package are, installed or in a source checkout."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def templates_dir() -> Path:
    """The built-in templates: inside the installed wheel, or the checkout's top level."""
    installed = PACKAGE / "templates"
    return installed if installed.is_dir() else PACKAGE.parent / "templates"


def sample_dir() -> Path:
    return PACKAGE / "sample"
