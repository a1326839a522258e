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
    if not site.limiter.allow(site.client(request)):
        if wants_json(request):
            return JSONResponse({"error": "too many requests, try again later"}, 429)
        return site.message("Too many requests", "Please try again in a few minutes.", 429)
    data = await read_form(request)  # the body is capped before this reads it
    try:
        asked = await run_in_threadpool(site.subscription, data)  # validation: off the loop
    except InputError as exc:
        error = one_line(str(exc), DETAIL_LIMIT)
        if wants_json(request):
            return JSONResponse({"error": error}, 400)
        email = one_line(str(data.get("email") or ""), DETAIL_LIMIT)
        return site.page(
            "web/home.html", 400, **site.form_context(email=email, error=error), editions=[]
        )
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
        names = [site.topics[s].name for s in subscriber.topics if s in site.topics]
        return site.page(
            "web/confirm.html",
            email=subscriber.email,
            frequency=subscriber.frequency,
            topic_names=names,
            csrf_token=site.csrf_token(token),
        )

    async def post(self, request: Request) -> Response:
        site, token = site_of(request), request.path_params["token"]
        subscriber_id, nonce = site.tokens.read_bound("confirm", token)
        site.check_csrf(token, await read_form(request))
        subscriber = await run_in_threadpool(
            subscriptions.confirm, site.store, subscriber_id, nonce, site.clock()
        )
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
        if data.get("action") == "unsubscribe":
            await run_in_threadpool(
                subscriptions.unsubscribe, site.store, subscriber.id, site.clock()
            )
            return site.message(
                "You are unsubscribed", f"{subscriber.email} will get no more digests."
            )
        data["email"] = subscriber.email
        try:
            asked = site.subscription(data)
        except InputError as exc:
            return _preferences(site, token, subscriber, error=one_line(str(exc), DETAIL_LIMIT))
        updated = await run_in_threadpool(
            subscriptions.update, site.store, subscriber, asked, site.clock()
        )
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
    async def get(self, request: Request) -> Response:  # a page with one button
        subscriber = site_of(request).subscriber("unsubscribe", request.path_params["token"])
        return site_of(request).page("web/unsubscribe.html", email=subscriber.email)

    async def post(self, request: Request) -> Response:
        site = site_of(request)
        subscriber = site.subscriber("unsubscribe", request.path_params["token"])
        await run_in_threadpool(subscriptions.unsubscribe, site.store, subscriber.id, site.clock())
        return site.message("You are unsubscribed", f"{subscriber.email} will get no more digests.")


routes = [
    Route("/subscribe", subscribe, methods=["POST"]),
    Route("/confirm/{token}", Confirm),
    Route("/preferences/{token}", Preferences),
    Route("/unsubscribe/{token}", Unsubscribe),
]
