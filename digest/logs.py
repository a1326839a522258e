"""Logging for the commands, the daemon and the workers: stderr, and with ``[log] file``
a file too; ``[log] format = "json"`` writes one JSON object per line (for a log
collector) instead of text."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from digest.config import LogSettings
from digest.errors import ConfigError

#: Libraries whose routine messages are not the operator's business.
QUIET = ("apscheduler", "alembic", "httpx", "httpcore", "flufl.bounce")


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """stderr as it is when a record is written (a test or a tool may have replaced it)."""

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(settings: LogSettings | None, *, stderr_level: int, timestamps: bool = False) -> None:
    """Send records to stderr at ``stderr_level`` (plain messages for a command's user,
    with time and level for the daemon or under --verbose) and, with ``[log] file``, every
    record from INFO up to the file."""
    fmt = settings.format if settings else "text"
    stderr = _Stderr()
    stderr.setLevel(stderr_level)
    stderr.setFormatter(_formatter(fmt, timestamps, plain=stderr_level >= logging.WARNING))
    handlers: list[logging.Handler] = [stderr]
    if settings and settings.file:
        path = Path(settings.file)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            file = logging.FileHandler(path, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"[log] file {str(path)!r} cannot be written: {exc}") from exc
        file.setLevel(logging.INFO)
        file.setFormatter(_formatter(fmt, timestamps=True, plain=False))
        handlers.append(file)
    root = logging.getLogger()
    for old in root.handlers[:]:
        if getattr(old, "paper_digest", False):  # ours, from an earlier call; others stay
            root.removeHandler(old)
            old.close()
    for handler in handlers:
        handler.paper_digest = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(min(h.level for h in handlers))
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def _formatter(fmt: str, timestamps: bool, plain: bool) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    if timestamps:
        return logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    if plain:
        return logging.Formatter("%(message)s")
    return logging.Formatter("%(levelname)s %(name)s: %(message)s")
