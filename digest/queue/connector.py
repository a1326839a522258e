"""The engine's connection to PostgreSQL, riding out a database restart.

Procrastinate's worker stops (and exits 0) when one of its queries or its LISTEN
connection meets a lost database, leaving the job it was finishing marked as running.
This connector tries such a query again, every second, until the database answers or
:data:`RECONNECT_FOR` seconds have passed (then the error stands, the worker stops and
``digest worker`` exits non-zero for its supervisor to start it again).

Its connections wait for the database on the socket alone (:class:`QuietConnection`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import procrastinate
import psycopg
from procrastinate.exceptions import ConnectorException

from digest.queue import RECONNECT_FOR

log = logging.getLogger("digest.worker")

#: The pause between two tries while the database is away (seconds).
RETRY_EVERY = 1.0
#: How often a connection waiting for the database wakes without its socket (seconds).
WAIT_WAKE_EVERY = 10.0

T = TypeVar("T")


def lost_database(exc: BaseException) -> bool:
    """Whether the error says the connection to the database is gone (not a bad query)."""
    cause = exc.__cause__ if isinstance(exc, ConnectorException) else exc
    return isinstance(cause, psycopg.OperationalError)


class QuietConnection(psycopg.AsyncConnection):
    """An async connection that, waiting for the database, wakes when its socket is ready,
    and else every :data:`WAIT_WAKE_EVERY` seconds instead of every 0.1 s.

    psycopg wakes a waiting connection ten times a second so that blocking code notices a
    Ctrl-C; the worker's event loop notices its signals by itself. The worker's LISTEN
    connection waits all the time it is idle: those ten wakes a second were most of an
    idle worker's CPU (12 s an hour; with this, 2)."""

    async def wait(
        self, gen: Any, interval: float = WAIT_WAKE_EVERY, timeout: float | None = None
    ) -> Any:
        return await super().wait(gen, interval=interval, timeout=timeout)


class Connector(procrastinate.PsycopgConnector):
    """The psycopg connector, whose queries and LISTEN outlast a database restart, on
    :class:`QuietConnection` connections."""

    async def _create_pool(self, pool_args: dict[str, Any]) -> Any:
        return await super()._create_pool({**pool_args, "connection_class": QuietConnection})

    def __init__(self, *, stopping: threading.Event | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stopping = stopping or threading.Event()

    async def _again(self, attempt: Callable[[], Awaitable[T]]) -> T:
        lost_since: float | None = None
        while True:
            try:
                result = await attempt()
            except ConnectorException as exc:
                if not lost_database(exc) or self.stopping.is_set():
                    raise
                now = time.monotonic()
                if lost_since is None:
                    lost_since = now
                    log.warning("lost the database (%s): trying again", _first_line(exc))
                elif now - lost_since > RECONNECT_FOR:
                    raise
                await asyncio.sleep(RETRY_EVERY)
                continue
            if lost_since is not None:
                log.info("the database answers again")
            return result

    async def execute_query_async(self, query: Any, **arguments: Any) -> None:
        await self._again(lambda: super(Connector, self).execute_query_async(query, **arguments))

    async def execute_query_one_async(self, query: Any, **arguments: Any) -> dict[str, Any]:
        parent = super().execute_query_one_async
        return await self._again(lambda: parent(query, **arguments))

    async def execute_query_all_async(self, query: Any, **arguments: Any) -> list[dict[str, Any]]:
        parent = super().execute_query_all_async
        return await self._again(lambda: parent(query, **arguments))

    async def listen_notify(self, on_notification: Any, channels: Iterable[str]) -> None:
        parent = super().listen_notify
        await self._again(lambda: parent(on_notification, channels))


def _first_line(exc: BaseException) -> str:
    text = str(exc.__cause__ or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
