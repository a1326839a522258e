"""The subscribe rate limit (shared between processes through ``[web] rate_limit_storage``),
and the client address it counts by.

Behind reverse proxies the address comes from ``X-Forwarded-For``, trusting only the hops
configured in ``[web] trusted_proxies`` and reading from the right, as uvicorn does: each
proxy appends the address it saw, so every entry left of the last trusted one was written
by the client and proves nothing.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Sequence


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds per key (a moving window), counted
    by the ``limits`` library in ``storage``: ``memory://`` counts in this process only;
    a shared store (``redis://host:port``) counts for every worker and machine at once."""

    def __init__(
        self, limit: int, window: float, storage: str = "memory://", namespace: str = ""
    ) -> None:
        from limits import RateLimitItemPerSecond
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        self.item = RateLimitItemPerSecond(limit, max(1, math.ceil(window)))
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage))
        self.namespace = namespace  # sites sharing one Redis count apart

    def allow(self, key: str) -> bool:
        return bool(self.limiter.hit(self.item, "digest-subscribe", self.namespace, key))

    def retry_after(self, key: str) -> int:
        """Whole seconds until ``key`` may try again (0 if it may now)."""
        stats = self.limiter.get_window_stats(self.item, "digest-subscribe", self.namespace, key)
        if stats.remaining > 0:
            return 0
        return max(1, math.ceil(stats.reset_time - time.time()))


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
