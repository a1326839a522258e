"""The subscription pages: subscribe, confirm, preferences, unsubscribe.

A GET (and so a HEAD) only shows a page: mail scanners and link checkers fetch every
link they see. State changes only in ``post``, and every form there but two carries a
``csrf_token``: ``POST /subscribe`` (a subscribe box may sit on another site; double
opt-in and the rate limit protect it) and ``POST /unsubscribe/{token}`` (the RFC 8058
one-click target, which mail providers call without cookies or tokens of ours).

Subscribing answers the same, after the same work, whether the address is new, pending,
active or unsubscribed: the rules run in one transaction and only *queue* a confirmation,
which the app's background sender mails after the answer has gone.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from digest import subscriptions
from digest.errors import InputError
from digest.subscribers import Subscriber
from digest.text import one_line
from digest.web.errors import DETAIL_LIMIT
from digest.web.forms import read_form, wants_json
from digest.web.site import Site, site_of


async def subscribe(request: Request) -> Response:
    site = site_of(request)
    data = await read_form(request)  # the body is capped before this reads it
    try:
        asked = await run_in_threadpool(site.subscription, data)  # validation: off the loop
    except InputError as exc:  # a typing mistake: answered, not counted toward the limit
        error = one_line(str(exc), DETAIL_LIMIT)
        if wants_json(request):
            return JSONResponse({"error": error}, 400)
        email = one_line(str(data.get("email") or ""), DETAIL_LIMIT)
        return site.page(
            "web/home.html", 400, **site.form_context(email=email, error=error), editions=[]
        )
    client = site.client(request)
    if not site.limiter.allow(client):
        wait = {"Retry-After": str(site.limiter.retry_after(client))}
        if wants_json(request):
            return JSONResponse({"error": "too many requests, try again later"}, 429, wait)
        return site.message("Too many requests", "Please try again in a few minutes.", 429, wait)
    await run_in_threadpool(subscriptions.subscribe, site.store, asked, site.clock())
    request.app.state.confirmations.nudge()  # mailed after the answer, whoever it is
    if wants_json(request):
        return JSONResponse({"status": "check your inbox"})
    return site.message(
        "Check your inbox",
        f"If {asked.email} can receive mail, a link to confirm the subscription is on its way.",
    )


class Confirm(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        site, token = site_of(request), request.path_params["token"]
        subscriber_id, nonce = site.tokens.read_bound("confirm", token)
        subscriber = subscriptions.confirmable(site.store, subscriber_id, nonce)
        return site.page("web/confirm.html", **_about(site, token, subscriber))

    async def post(self, request: Request) -> Response:
        site, token = site_of(request), request.path_params["token"]
        subscriber_id, nonce = site.tokens.read_bound("confirm", token)
        site.check_csrf(token, await read_form(request))
        subscriber = await run_in_threadpool(
            subscriptions.confirm, site.store, subscriber_id, nonce, site.clock()
        )
        request.app.state.confirmations.nudge()  # the welcome mail
        return site.message(
            "You are subscribed",
            f"{subscriber.email} will get the digest. Every email has a link to change or stop it.",
        )


class Preferences(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        site, token = site_of(request), request.path_params["token"]
        return _preferences(site, token, site.subscriber("preferences", token))

    async def post(self, request: Request) -> Response:
        site, token = site_of(request), request.path_params["token"]
        subscriber = site.subscriber("preferences", token)
        data = await read_form(request)
        site.check_csrf(token, data)
        action = data.get("action")
        if action == "unsubscribe":
            await run_in_threadpool(
                subscriptions.unsubscribe, site.store, subscriber.id, site.clock()
            )
            return _preferences(site, token, site.subscriber("preferences", token), saved=True)
        data["email"] = subscriber.email
        try:
            asked = site.subscription(data)
        except InputError as exc:
            return _preferences(site, token, subscriber, error=one_line(str(exc), DETAIL_LIMIT))
        updated = await run_in_threadpool(
            subscriptions.update, site.store, subscriber, asked, site.clock()
        )
        if action == "resubscribe":
            await run_in_threadpool(
                subscriptions.resubscribe, site.store, subscriber.id, site.clock()
            )
            updated = site.subscriber("preferences", token)
        return _preferences(site, token, updated, saved=True)


def _preferences(
    site: Site, token: str, subscriber: Subscriber, error: str | None = None, saved: bool = False
) -> Response:
    return site.page(
        "web/preferences.html",
        **site.form_context(subscriber),
        state=subscriber.status,
        error=error,
        saved=saved,
        csrf_token=site.csrf_token(token),
    )


class Unsubscribe(HTTPEndpoint):
    """One button to stop; once stopped, the page says so and offers to undo it.

    A POST without ``action`` is the RFC 8058 one-click unsubscribe (no CSRF token: mail
    providers send it); ``action=undo`` resubscribes and must carry the page's token.
    """

    async def get(self, request: Request) -> Response:
        site, token = site_of(request), request.path_params["token"]
        return _unsubscribe_page(site, token, site.subscriber("unsubscribe", token))

    async def post(self, request: Request) -> Response:
        site, token = site_of(request), request.path_params["token"]
        subscriber = site.subscriber("unsubscribe", token)
        data = await read_form(request)
        if data.get("action") == "undo":
            site.check_csrf(token, data)
            await run_in_threadpool(
                subscriptions.resubscribe, site.store, subscriber.id, site.clock()
            )
            changed = "resubscribed"
        else:
            await run_in_threadpool(
                subscriptions.unsubscribe, site.store, subscriber.id, site.clock()
            )
            changed = "unsubscribed"
        current = site.subscriber("unsubscribe", token)
        return _unsubscribe_page(site, token, current, changed=changed)


def _about(site: Site, token: str, subscriber: Subscriber) -> dict[str, Any]:
    """What a page about one subscription shows, and its form's CSRF token."""
    return {
        "email": subscriber.email,
        "frequency": subscriber.frequency,
        "topic_names": [site.topics[s].name for s in subscriber.topics if s in site.topics],
        "csrf_token": site.csrf_token(token),
    }


def _unsubscribe_page(
    site: Site, token: str, subscriber: Subscriber, changed: str | None = None
) -> Response:
    return site.page(
        "web/unsubscribe.html",
        **_about(site, token, subscriber),
        state=subscriber.status,
        changed=changed,
        preferences_url=site.renderer.links.preferences(
            site.tokens.make("preferences", subscriber.id)
        ),
    )


routes = [
    Route("/subscribe", subscribe, methods=["POST"]),
    Route("/confirm/{token}", Confirm),
    Route("/preferences/{token}", Preferences),
    Route("/unsubscribe/{token}", Unsubscribe),
]
