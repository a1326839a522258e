"""The functions the job store names (APScheduler keeps jobs as "module:function" plus
plain arguments, so a restart finds them again). Each hands over to the running daemon,
known here only as something that runs jobs (so this module does not import the daemon)."""

from __future__ import annotations

from typing import Protocol


class JobRunner(Protocol):
    """What the daemon offers its jobs."""

    def fetch(self, source: str) -> None: ...

    def deliver(self) -> None: ...


_running: list[JobRunner] = []


def attach(runner: JobRunner) -> None:
    _running[:] = [runner]


def detach(runner: JobRunner) -> None:
    if _running and _running[0] is runner:
        _running.clear()


def _runner() -> JobRunner:
    if not _running:
        raise RuntimeError("no Paper Digest daemon is running in this process")
    return _running[0]


def fetch(source: str) -> None:
    _runner().fetch(source)


def deliver() -> None:
    _runner().deliver()


def heartbeat() -> None:
    """Planned by earlier versions, before the heartbeat had a thread of its own: kept so
    a plan they saved still loads (the daemon then removes the job from it)."""
