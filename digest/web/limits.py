"""The subscribe rate limit, and the client address it counts by.

Behind reverse proxies the address comes from ``X-Forwarded-For``, trusting only the hops
configured in ``[web] trusted_proxies`` and reading from the right, as uvicorn does: each
proxy appends the address it saw, so every entry left of the last trusted one was written
by the client and proves nothing.
"""

from __future__ import annotations

import ipaddress
import math
import threading
from collections import deque
from collections.abc import Callable, Sequence


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds per key (a sliding window)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self.events: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self.clock()
        with self.lock:
            events = self.events.setdefault(key, deque())
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            return True

    def retry_after(self, key: str) -> int:
        """Whole seconds until ``key`` may try again (0 if it may now)."""
        now = self.clock()
        with self.lock:
            events = self.events.get(key)
            if not events or len(events) < self.limit:
                return 0
            return max(1, math.ceil(events[0] + self.window - now))


def _networks(entries: Sequence[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(e, strict=False) for e in entries]


def _trusted(
    address: str, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in networks)


class ClientAddress:
    """The client's address from the peer and ``X-Forwarded-For``.

    ``trusted`` is a number of proxy hops in front of the app (0: none; the peer is the
    client), or the addresses/networks of the trusted proxies.
    """

    def __init__(self, trusted: int | Sequence[str]) -> None:
        self.hops = trusted if isinstance(trusted, int) else None
        self.networks = _networks(trusted) if not isinstance(trusted, int) else []

    def __call__(self, peer: str | None, forwarded: str | None) -> str:
        peer = peer or "unknown"
        if not forwarded or self.hops == 0:
            return peer
        entries = [e.strip() for e in forwarded.split(",") if e.strip()]
        if self.hops is not None:
            chain = [*entries, peer]  # the peer is the nearest proxy
            return chain[max(len(chain) - 1 - self.hops, 0)]
        if not _trusted(peer, self.networks):
            return peer  # not from a proxy of ours: its header means nothing
        for entry in reversed(entries):
            if not _trusted(entry, self.networks):
                return entry
        return entries[0] if entries else peer
