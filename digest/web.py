"""The web pages behind the "Subscribe" box, on Starlette: subscribe (double opt-in),
confirm, preferences, one-click unsubscribe, the archive, the feeds, a health check.

- Links carry signed tokens that name their purpose (``digest.tokens``).
- Every form but two carries a ``csrf_token``: ``POST /subscribe`` (a subscribe box may
  sit on another site; double opt-in and a per-address rate limit protect it) and
  ``POST /unsubscribe/{token}`` (the RFC 8058 one-click target, which mail providers call
  without cookies or tokens of ours). A GET never changes anything: mail scanners fetch
  every link they see.
- Subscribing answers the same whether the address is new, pending or subscribed, so the
  page tells nobody who is subscribed; a pending address gets at most one confirmation
  mail an hour.
- Every page carries security headers (a Content-Security-Policy without inline scripts);
  bad or expired links get a friendly 400 page, unknown pages 404, errors 500, never a
  traceback.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import available_timezones

import sqlalchemy as sa
from itsdangerous import BadSignature
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from digest.compose import load_edition
from digest.config import Settings
from digest.deliver.confirm import send_confirmation
from digest.errors import DigestError, InputError
from digest.periods import parse_period
from digest.publish import feed_entries
from digest.render import Renderer
from digest.store import Store
from digest.subscribers import WEEKDAYS, Subscriber, subscription
from digest.tokens import TokenError, Tokens
from digest.transport import Transport, transport_for

log = logging.getLogger(__name__)
CONFIRMATION_INTERVAL = timedelta(hours=1)
CSRF_MAX_AGE = 24 * 3600
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
ZONES = sorted(
    z
    for z in available_timezones()
    if "/" in z and not z.startswith(("Etc/", "SystemV/", "posix/", "right/"))
) + ["UTC"]


class SecurityHeaders:
    """Adds the security headers to every response (plain ASGI, no request buffering)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message.setdefault("headers", [])
                for name, value in _HEADER_BYTES:
                    if name not in present:
                        message["headers"].append((name, value))
            await send(message)

        await self.app(scope, receive, with_headers)


_HEADER_BYTES = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


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


class Site:
    """What the request handlers share."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        tokens: Tokens,
        transport: Transport,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.store = store
        self.tokens = tokens
        self.transport = transport
        self.clock = clock
        self.renderer = Renderer(settings)
        self.limiter = RateLimiter(
            settings.web.subscribe_limit, settings.web.subscribe_window, monotonic
        )
        self.csrf = tokens.signer("csrf")
        self.topics = {t.slug: t for t in settings.topics}
        self.home_cache: tuple[object, bytes] | None = None

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

    def message(self, heading: str, message: str, status: int = 200) -> HTMLResponse:
        return self.page("web/message.html", status, heading=heading, message=message)

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


class CsrfError(DigestError):
    """A form came without its csrf_token, or with another page's."""


async def _form(request: Request) -> dict[str, Any]:
    """Form fields or a JSON object, as one mapping; lists for repeated fields."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(await request.body() or b"{}")
        except json.JSONDecodeError:
            raise InputError("the request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise InputError("the request body must be a JSON object")
        return data
    form = await request.form()
    data: dict[str, Any] = {key: form.get(key) for key in form}
    data["topics"] = form.getlist("topics")
    return data


def _client(request: Request, behind_proxy: bool) -> str:
    if behind_proxy and request.headers.get("x-forwarded-for"):
        return request.headers["x-forwarded-for"].split(",")[0].strip()
    return request.client.host if request.client else "unknown"


def _subscription(site: Site, data: dict[str, Any]):  # type: ignore[no-untyped-def]
    topics = data.get("topics") or []
    if isinstance(topics, str):
        topics = [topics]
    return subscription(
        site.settings,
        email=str(data.get("email") or ""),
        topics=[str(t) for t in topics if isinstance(t, str)],
        frequency=str(data.get("frequency") or "daily"),
        weekday=str(data.get("weekday") or "") or None,
        timezone=str(data.get("timezone") or "UTC"),
        hour=str(data.get("hour") or "8"),
    )


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    tokens: Tokens | None = None,
    transport: Transport | None = None,
    clock: Callable[[], datetime] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> Starlette:
    site = Site(
        settings,
        store or Store.open(settings.store.url),
        tokens or Tokens.from_environment(),
        transport or transport_for(settings),
        clock or (lambda: datetime.now(UTC)),
        monotonic,
    )

    async def home(request: Request) -> Response:
        # the same page for everybody until an edition is built again: rendered once
        version = _editions_version(site)
        cached = site.home_cache
        if cached is None or cached[0] != version:
            body = site.page(
                "web/home.html", **site.form_context(), error=None, editions=_latest(site)
            ).body
            cached = site.home_cache = (version, bytes(body))
        return HTMLResponse(cached[1])

    async def subscribe(request: Request) -> Response:
        wants_json = request.headers.get("content-type", "").startswith("application/json")
        if not site.limiter.allow(_client(request, settings.web.behind_proxy)):
            if wants_json:
                return JSONResponse({"error": "too many requests, try again later"}, 429)
            return site.message("Too many requests", "Please try again in a few minutes.", 429)
        data = await _form(request)
        try:
            request_ = _subscription(site, data)
        except InputError as exc:
            if wants_json:
                return JSONResponse({"error": str(exc)}, 400)
            return site.page(
                "web/home.html",
                400,
                **site.form_context(email=str(data.get("email") or ""), error=str(exc)),
                editions=[],
            )
        await run_in_threadpool(_subscribe, site, request_)  # database and mail: off the loop
        if wants_json:
            return JSONResponse({"status": "check your inbox"})
        return site.message(
            "Check your inbox",
            f"If {request_.email} can receive mail, a "
            "link to confirm the subscription is on its way.",
        )

    async def confirm(request: Request) -> Response:
        token = request.path_params["token"]
        subscriber = site.subscriber("confirm", token)
        if request.method == "POST":
            site.check_csrf(token, await request.form())
            if subscriber.status in ("pending", "unsubscribed", "active"):
                site.store.set_subscriber_status(subscriber.id, "active", site.clock())
            return site.message(
                "You are subscribed",
                f"{subscriber.email} will get the digest. Every email has a "
                "link to change or stop it.",
            )
        names = [site.topics[s].name for s in subscriber.topics if s in site.topics]
        return site.page(
            "web/confirm.html",
            email=subscriber.email,
            frequency=subscriber.frequency,
            topic_names=names,
            csrf_token=site.csrf_token(token),
        )

    async def preferences(request: Request) -> Response:
        token = request.path_params["token"]
        subscriber = site.subscriber("preferences", token)
        if request.method == "GET":
            return site.page(
                "web/preferences.html",
                **site.form_context(subscriber),
                state=subscriber.status,
                error=None,
                saved=False,
                csrf_token=site.csrf_token(token),
            )
        form = await request.form()
        site.check_csrf(token, form)
        data = {key: form.get(key) for key in form}
        data["topics"] = form.getlist("topics")
        if data.get("action") == "unsubscribe":
            site.store.set_subscriber_status(subscriber.id, "unsubscribed", site.clock())
            return site.message(
                "You are unsubscribed", f"{subscriber.email} will get no more digests."
            )
        data["email"] = subscriber.email
        try:
            request_ = _subscription(site, data)
        except InputError as exc:
            return site.page(
                "web/preferences.html",
                state=subscriber.status,
                error=str(exc),
                saved=False,
                csrf_token=site.csrf_token(token),
                **site.form_context(subscriber),
            )
        updated, _ = site.store.add_subscriber(request_, status=subscriber.status, now=site.clock())
        return site.page(
            "web/preferences.html",
            **site.form_context(updated),
            state=updated.status,
            error=None,
            saved=True,
            csrf_token=site.csrf_token(token),
        )

    async def unsubscribe(request: Request) -> Response:
        token = request.path_params["token"]
        subscriber = site.subscriber("unsubscribe", token)
        if request.method == "GET":  # a page with one button: scanners prefetch links
            return site.page("web/unsubscribe.html", email=subscriber.email)
        if subscriber.status != "unsubscribed":
            site.store.set_subscriber_status(subscriber.id, "unsubscribed", site.clock())
        return site.message("You are unsubscribed", f"{subscriber.email} will get no more digests.")

    async def archive_index(request: Request) -> Response:
        from digest.publish import archive_periods

        periods = archive_periods(settings, site.store)
        body = site.renderer.archive_index(periods, list(site.topics.values()), root="/")
        return HTMLResponse(body)

    async def archive_page(request: Request) -> Response:
        period_key, slug = request.path_params["period"], request.path_params["topic"]
        topic = site.topics.get(slug)
        records = [r for r in site.store.editions(slug) if r.period == period_key] if topic else []
        if not records:
            raise HTTPException(404)
        period = parse_period(period_key, settings.site.timezone)
        edition = load_edition(site.store, topic, records[0], period)  # type: ignore[arg-type]
        return HTMLResponse(site.renderer.edition_page(edition, root="/"))

    async def feed(request: Request) -> Response:
        slug, kind = request.path_params["topic"], request.path_params["kind"]
        topic = site.topics.get(slug)
        if topic is None or kind not in ("rss", "atom"):
            raise HTTPException(404)
        entries = feed_entries(settings, site.store, topic)
        body = site.renderer.feed(kind, topic, entries, site.clock())
        media = "application/rss+xml" if kind == "rss" else "application/atom+xml"
        return Response(body, media_type=f"{media}; charset=utf-8")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "style.css":
            return Response(site.renderer.stylesheet(), media_type="text/css; charset=utf-8")
        if name == "app.js":
            return Response(
                site.renderer.render("site/app.js"), media_type="text/javascript; charset=utf-8"
            )
        raise HTTPException(404)

    async def healthz(request: Request) -> Response:
        try:
            with site.store.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return JSONResponse({"status": "error", "database": "unreachable"}, 503)
        return JSONResponse({"status": "ok"})

    async def on_http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        if status == 404:
            return site.message("Not found", "There is no page at this address.", 404)
        if status == 405:
            return site.message("Not allowed", "This page does not take that request.", 405)
        return site.message("Something went wrong", "Please try again later.", status)

    async def on_token_error(request: Request, exc: Exception) -> Response:
        return site.message(
            "This link does not work",
            f"{exc}. Links in our emails are "
            "signed; ask for a new one from the last email you got.",
            400,
        )

    async def on_csrf_error(request: Request, exc: Exception) -> Response:
        return site.message(
            "Please try again",
            "The form was sent without the token it "
            "was given (or has expired). Reload the page and send it again.",
            400,
        )

    async def on_input_error(request: Request, exc: Exception) -> Response:
        return site.message("Not accepted", str(exc), 400)

    async def on_error(request: Request, exc: Exception) -> Response:
        log.exception("error serving %s", request.url.path)
        return site.message("Something went wrong", "Please try again later.", 500)

    routes = [
        Route("/", home),
        Route("/subscribe", subscribe, methods=["POST"]),
        Route("/confirm/{token}", confirm, methods=["GET", "POST"]),
        Route("/preferences/{token}", preferences, methods=["GET", "POST"]),
        Route("/unsubscribe/{token}", unsubscribe, methods=["GET", "POST"]),
        Route("/archive/", archive_index),
        Route("/archive/index.html", archive_index),
        Route("/archive/{period}/{topic}", archive_page),
        Route("/archive/{period}/{topic}/", archive_page),
        Route("/archive/{period}/{topic}/index.html", archive_page),
        Route("/feeds/{topic}.{kind}", feed),
        Route("/static/{name}", static),
        Route("/healthz", healthz),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={
            HTTPException: on_http_error,
            TokenError: on_token_error,
            CsrfError: on_csrf_error,
            InputError: on_input_error,
            Exception: on_error,
        },
    )

    app.state.site = site
    return app


def _subscribe(site: Site, request: Any) -> None:
    """Create or refresh a pending subscriber and mail them a confirmation (at most
    hourly); an active subscriber is left as they are. The caller answers the same."""
    existing = site.store.subscriber(request.email)
    now = site.clock()
    if existing is not None and existing.status == "active":
        return
    if existing is not None and existing.status == "bounced":
        return
    subscriber, _ = site.store.add_subscriber(request, status="pending", now=now)
    if subscriber.status != "pending":
        site.store.set_subscriber_status(subscriber.id, "pending", now)
        subscriber = site.store.subscriber_by_id(subscriber.id) or subscriber
    last = subscriber.confirmation_sent_at
    if last is not None and now - last < CONFIRMATION_INTERVAL:
        return
    result = send_confirmation(
        site.settings,
        site.store,
        subscriber,
        tokens=site.tokens,
        transport=site.transport,
        now=now,
        renderer=site.renderer,
    )
    if result.status != "sent":
        log.warning("confirmation to %s not sent: %s", subscriber.email, result.detail)


def _editions_version(site: Site) -> object:
    from digest.store.schema import editions

    with site.store.engine.connect() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count(), sa.func.max(editions.c.built_at))).one()
        )


def _editions_version(site: Site) -> object:
    from digest.store.schema import editions

    with site.store.engine.connect() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count(), sa.func.max(editions.c.built_at))).one()
        )


def _latest(site: Site) -> list[Any]:
    editions = []
    for topic in site.topics.values():
        records = site.store.editions(topic.slug)
        if records:
            period = parse_period(records[0].period, site.settings.site.timezone)
            editions.append(load_edition(site.store, topic, records[0], period))
    return editions
