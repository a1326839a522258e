"""What the request handlers share: settings, store, tokens, the renderer, the rate
limit, and the helpers every page family uses (pages, CSRF, the form's values)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import available_timezones

from itsdangerous import BadSignature
from starlette.requests import Request
from starlette.responses import HTMLResponse

from digest.config import Settings
from digest.errors import DigestError
from digest.render import Renderer
from digest.store import Store
from digest.subscribers import WEEKDAYS, Subscriber, Subscription, subscription
from digest.tokens import TokenError, Tokens
from digest.transport import Transport
from digest.web.limits import ClientAddress, RateLimiter

CSRF_MAX_AGE = 24 * 3600
ZONES = sorted(
    z
    for z in available_timezones()
    if "/" in z and not z.startswith(("Etc/", "SystemV/", "posix/", "right/"))
) + ["UTC"]


class CsrfError(DigestError):
    """A form came without its csrf_token, or with another page's."""

    status = 400


class Site:
    """What the request handlers share (``request.app.state.site``)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        tokens: Tokens,
        transport: Transport,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.store = store
        self.tokens = tokens
        self.transport = transport
        self.clock = clock
        self.renderer = Renderer(settings)
        self.limiter = RateLimiter(
            settings.web.subscribe_limit,
            settings.web.subscribe_window,
            settings.web.rate_limit_storage,
            settings.site.base_url,
        )
        self.client_address = ClientAddress(settings.web.trusted_proxies)
        self.csrf = tokens.signer("csrf")
        self.topics = {t.slug: t for t in settings.topics}
        self.home_cache: tuple[object, bytes] | None = None

    def client(self, request: Request) -> str:
        peer = request.client.host if request.client else None
        return self.client_address(peer, request.headers.get("x-forwarded-for"))

    def page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        body = self.renderer.render(
            name,
            root="/",
            feed_url=self.renderer.feed_url,
            zones=ZONES,
            excerpt_limit=360,
            **context,
        )
        return HTMLResponse(body, status_code=status)

    def message(
        self, heading: str, message: str, status: int = 200, headers: Any = None
    ) -> HTMLResponse:
        response = self.page("web/message.html", status, heading=heading, message=message)
        response.headers.update(headers or {})
        return response

    def subscriber(self, purpose: str, token: str) -> Subscriber:
        subscriber = self.store.subscriber_by_id(self.tokens.read(purpose, token))
        if subscriber is None:
            raise TokenError(f"this {purpose} link is for a subscription that no longer exists")
        return subscriber

    def csrf_token(self, token: str) -> str:
        return self.csrf.dumps(token[-16:])

    def check_csrf(self, token: str, form: Any) -> None:
        try:
            bound = self.csrf.loads(str(form.get("csrf_token", "")), max_age=CSRF_MAX_AGE)
        except BadSignature:
            raise CsrfError() from None
        if bound != token[-16:]:
            raise CsrfError()

    def form_context(self, subscriber: Subscriber | None = None, **values: Any) -> dict[str, Any]:
        base = {
            "topics": list(self.topics.values()),
            "chosen": list(subscriber.topics) if subscriber else list(self.topics)[:1],
            "frequency": subscriber.frequency if subscriber else "daily",
            "weekday": WEEKDAYS[subscriber.weekday]
            if subscriber and subscriber.weekday is not None
            else "mon",
            "timezone": subscriber.timezone if subscriber else "UTC",
            "hour": subscriber.hour if subscriber else 8,
            "email": subscriber.email if subscriber else "",
        }
        base.update(values)
        return base

    def subscription(self, data: dict[str, Any]) -> Subscription:
        """The validated subscription a form or JSON object asks for (or ``InputError``)."""
        topics = data.get("topics") or []
        if isinstance(topics, str):
            topics = [topics]
        if not isinstance(topics, list):
            topics = []
        return subscription(
            self.settings,
            email=_text(data.get("email")),
            topics=[t for t in topics if isinstance(t, str)],
            frequency=_text(data.get("frequency")) or "daily",
            weekday=_text(data.get("weekday")) or None,
            timezone=_text(data.get("timezone")) or "UTC",
            hour=_text(data.get("hour")) or "8",
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def site_of(request: Request) -> Site:
    """The ``Site`` of the app serving ``request``."""
    return request.app.state.site  # type: ignore[no-any-return]
