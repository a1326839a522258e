"""The functions the job store names (APScheduler keeps jobs as "module:function" plus
plain arguments, so a restart finds them again). Each hands over to the running daemon."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scheduler.daemon import Daemon

_running: list[Daemon] = []


def attach(daemon: Daemon) -> None:
    _running[:] = [daemon]


def detach(daemon: Daemon) -> None:
    if _running and _running[0] is daemon:
        _running.clear()


def _daemon() -> Daemon:
    if not _running:
        raise RuntimeError("no Paper Digest daemon is running in this process")
    return _running[0]


def fetch(source: str) -> None:
    _daemon().fetch(source)


def deliver() -> None:
    _daemon().deliver()


def heartbeat() -> None:
    _daemon().heartbeat()
