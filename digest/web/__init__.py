"""The web pages behind the "Subscribe" box, on Starlette: subscribe (double opt-in),
confirm, preferences, one-click unsubscribe, the archive, the feeds, a health check.

- ``security``: the security headers on every response (errors included) and the cap
  on request bodies; ``limits``: the subscribe rate limit and the client address;
  ``forms``: reading forms and JSON; ``errors``: the one error handler.
- ``subscription``: the subscription pages (the rules are ``digest.subscriptions``);
  ``archive``: the home page, archive, feeds, static files and health check.
- ``worker``: the background sender of the queued confirmation mails.
- Links carry signed tokens that name their purpose (``digest.tokens``); bad or expired
  links get a friendly 400 page, unknown pages 404, errors 500, never a traceback.

``create_app`` only assembles these.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from digest.config import Settings
from digest.errors import DigestError
from digest.store import Store
from digest.tokens import Tokens
from digest.transport import Transport, transport_for
from digest.web import archive, subscription
from digest.web.errors import on_error
from digest.web.security import BodyLimit, SecurityHeaders
from digest.web.site import Site
from digest.web.worker import ConfirmationSender

__all__ = ["Site", "create_app"]


class _App(Starlette):
    def build_middleware_stack(self) -> Any:
        # outermost, so the answers of the error handler of last resort carry them too
        return SecurityHeaders(super().build_middleware_stack())


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    tokens: Tokens | None = None,
    transport: Transport | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    site = Site(
        settings,
        store or Store.open(settings.store.url),
        tokens or Tokens.from_environment(),
        transport or transport_for(settings),
        clock or (lambda: datetime.now(UTC)),
    )
    sender = ConfirmationSender(site)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sender.start()
        try:
            yield
        finally:
            sender.stop()

    app = _App(
        routes=[*archive.routes, *subscription.routes],
        middleware=[Middleware(BodyLimit)],
        exception_handlers={HTTPException: on_error, DigestError: on_error, Exception: on_error},
        lifespan=lifespan,
    )
    app.state.site = site
    app.state.confirmations = sender
    return app


def app_from_environment() -> Starlette:
    """The app of the settings named by ``DIGEST_CONFIG`` (and ``DIGEST_STORE_URL``): what
    each process of `digest serve --workers N` builds."""
    from digest.config import load_settings

    return create_app(load_settings())
