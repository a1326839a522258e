"""The ``[log]`` section: where the daemon, the workers and the commands log."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from digest.config.checks import Section


class LogSettings(Section):
    """Where the daemon, the workers and the commands log (besides stderr)."""

    file: str | None = Field(
        default=None,
        description="Also append the log to this file (every job's line, retries, failures).",
        examples=["digest.log"],
    )
    format: Literal["text", "json"] = Field(
        default="text",
        description="text (one readable line per event) | json (one JSON object per line).",
    )
