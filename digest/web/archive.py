"""The read-only pages: the home page (the form and the latest editions), the archive,
the feeds, the static files and the health check. GET (and HEAD) only."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from digest.compose import load_edition
from digest.periods import parse_period
from digest.publish import archive_periods, feed_entries, topic_periods
from digest.store.schema import editions
from digest.web.site import Site, site_of


def editions_version(site: Site) -> object:
    """Changes whenever an edition is built: the home page is cached until then."""
    with site.store.engine.connect() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count(), sa.func.max(editions.c.built_at))).one()
        )


def latest(site: Site) -> list[Any]:
    found = []
    for topic in site.topics.values():
        records = site.store.editions(topic.slug)
        if records:
            period = parse_period(records[0].period, site.settings.site.timezone)
            found.append(load_edition(site.store, topic, records[0], period))
    return found


async def home(request: Request) -> Response:
    # the same page for everybody until an edition is built again: rendered once
    site = site_of(request)
    version = editions_version(site)
    cached = site.home_cache
    if cached is None or cached[0] != version:
        body = site.page(
            "web/home.html", **site.form_context(), error=None, editions=latest(site)
        ).body
        cached = site.home_cache = (version, bytes(body))
    return HTMLResponse(cached[1])


async def archive_index(request: Request) -> Response:
    site = site_of(request)
    periods = archive_periods(site.settings, site.store)
    return HTMLResponse(site.renderer.archive_index(periods, list(site.topics.values()), root="/"))


async def topic_page(request: Request) -> Response:
    site = site_of(request)
    topic = site.topics.get(request.path_params["topic"])
    if topic is None:
        raise HTTPException(404)
    periods = topic_periods(archive_periods(site.settings, site.store), topic.slug)
    return HTMLResponse(site.renderer.topic_page(topic, periods, root="/"))


async def opml(request: Request) -> Response:
    site = site_of(request)
    body = site.renderer.opml(list(site.topics.values()))
    return Response(body, media_type="text/x-opml; charset=utf-8")


async def archive_page(request: Request) -> Response:
    site = site_of(request)
    period_key, slug = request.path_params["period"], request.path_params["topic"]
    topic = site.topics.get(slug)
    if topic is None:
        raise HTTPException(404)
    records = [r for r in site.store.editions(slug) if r.period == period_key]
    if not records:
        raise HTTPException(404)
    period = parse_period(period_key, site.settings.site.timezone)
    edition = load_edition(site.store, topic, records[0], period)
    return HTMLResponse(site.renderer.edition_page(edition, root="/"))


async def feed(request: Request) -> Response:
    site = site_of(request)
    slug, kind = request.path_params["topic"], request.path_params["kind"]
    topic = site.topics.get(slug)
    if topic is None or kind not in ("rss", "atom"):
        raise HTTPException(404)
    entries = feed_entries(site.settings, site.store, topic)
    body = site.renderer.feed(kind, topic, entries, site.clock())
    media = "application/rss+xml" if kind == "rss" else "application/atom+xml"
    return Response(body, media_type=f"{media}; charset=utf-8")


async def static(request: Request) -> Response:
    site, name = site_of(request), request.path_params["name"]
    if name == "style.css":
        return Response(site.renderer.stylesheet(), media_type="text/css; charset=utf-8")
    if name == "app.js":
        return Response(
            site.renderer.render("site/app.js"), media_type="text/javascript; charset=utf-8"
        )
    raise HTTPException(404)


async def healthz(request: Request) -> Response:
    try:
        with site_of(request).store.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        return JSONResponse({"status": "error", "database": "unreachable"}, 503)
    return JSONResponse({"status": "ok"})


routes = [
    Route("/", home, methods=["GET"]),
    Route("/archive/", archive_index, methods=["GET"]),
    Route("/archive/index.html", archive_index, methods=["GET"]),
    Route("/archive/{topic}/", topic_page, methods=["GET"]),
    Route("/archive/{topic}/index.html", topic_page, methods=["GET"]),
    Route("/archive/{period}/{topic}", archive_page, methods=["GET"]),
    Route("/archive/{period}/{topic}/", archive_page, methods=["GET"]),
    Route("/archive/{period}/{topic}/index.html", archive_page, methods=["GET"]),
    Route("/feeds.opml", opml, methods=["GET"]),
    Route("/feeds/{topic}.{kind}", feed, methods=["GET"]),
    Route("/static/{name}", static, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
]
