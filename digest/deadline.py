"""A total deadline per HTTP request, enforced at the socket.

httpx's timeouts bound each wait for the network, so a server that sends one byte just
before every timeout holds a request for ever. This network backend gives every connect,
read and write at most the time left until the request's deadline, and refuses any once it
has passed: the request then fails with a timeout, and ``expired`` says why.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

_SocketOption = Any


class DeadlineBackend(httpcore.NetworkBackend):
    """Wraps httpcore's own backend; the deadline is per thread, set by ``within``."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self.inner = inner or httpcore.SyncBackend()
        self._local = threading.local()

    @contextmanager
    def within(self, seconds: float) -> Iterator[None]:
        self._local.deadline = time.monotonic() + seconds
        self._local.expired = False
        try:
            yield
        finally:
            self._local.deadline = None

    @property
    def expired(self) -> bool:
        """Whether the last request of this thread was stopped by its deadline."""
        return bool(getattr(self._local, "expired", False))

    def bound(self, timeout: float | None, error: type[Exception]) -> float | None:
        """``timeout`` shortened to the time left; raises ``error`` when none is left."""
        deadline = getattr(self._local, "deadline", None)
        if deadline is None:
            return timeout
        left = deadline - time.monotonic()
        if left <= 0:
            self._local.expired = True
            raise error("the request's deadline has passed")
        return left if timeout is None else min(timeout, left)

    def note_timeout(self) -> None:
        deadline = getattr(self._local, "deadline", None)
        if deadline is not None and time.monotonic() >= deadline:
            self._local.expired = True

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        limit = self.bound(timeout, httpcore.ConnectTimeout)
        try:
            stream = self.inner.connect_tcp(host, port, limit, local_address, socket_options)
        except httpcore.ConnectTimeout:
            self.note_timeout()
            raise
        return _DeadlineStream(stream, self)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        limit = self.bound(timeout, httpcore.ConnectTimeout)
        stream = self.inner.connect_unix_socket(path, limit, socket_options)
        return _DeadlineStream(stream, self)

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, backend: DeadlineBackend) -> None:
        self._stream = stream
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        limit = self._backend.bound(timeout, httpcore.ReadTimeout)
        try:
            return self._stream.read(max_bytes, limit)
        except httpcore.ReadTimeout:
            self._backend.note_timeout()
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        limit = self._backend.bound(timeout, httpcore.WriteTimeout)
        try:
            self._stream.write(buffer, limit)
        except httpcore.WriteTimeout:
            self._backend.note_timeout()
            raise

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        limit = self._backend.bound(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, limit), self._backend
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


def install(backend: DeadlineBackend, client: httpx.Client) -> None:
    """Open ``client``'s connections through ``backend``: its transport's, and those of the
    proxies the environment names (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY).

    httpx has no public way to hand its connection pools a network backend, so each pool's
    is swapped; a transport without one (a test's ``MockTransport``) is left as it is.
    """
    transports = [getattr(client, "_transport", None)]
    transports += list(getattr(client, "_mounts", {}).values())
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        inner = getattr(pool, "_network_backend", None)
        if isinstance(inner, httpcore.NetworkBackend) and not isinstance(inner, DeadlineBackend):
            backend.inner = inner  # httpcore's sync backends hold no state: any one serves
            pool._network_backend = backend  # type: ignore[union-attr]
