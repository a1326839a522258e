"""`digest serve`: the web pages."""

from __future__ import annotations

import os

import click

from digest.cli.app import App, pass_app
from digest.errors import ConfigError


@click.command()
@click.option("--host", metavar="HOST", help="Address to listen on ([web] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port ([web] port, 8000).")
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Processes serving the same port (more than 1 needs a shared "
    "[web] rate_limit_storage such as Redis).",
)
@pass_app
def serve(app: App, host: str | None, port: int | None, workers: int) -> None:
    """Serve the web pages: subscribe, confirm, preferences, unsubscribe, archive, feeds.

    Put it behind a reverse proxy for HTTPS (and set [web] trusted_proxies = 1 there).
    DIGEST_SECRET signs the links.

    Example: digest serve --port 8000 --workers 4
    """
    import uvicorn

    settings = app.settings
    address, number = host or settings.web.host, port or settings.web.port
    # proxy_headers off: the app reads X-Forwarded-For itself ([web] trusted_proxies)
    if workers == 1:
        from digest.web import create_app

        web = create_app(settings, store=app.store)
        uvicorn.run(web, host=address, port=number, log_level="info", proxy_headers=False)
        return
    if settings.web.rate_limit_storage.startswith("memory://"):
        raise ConfigError(
            f"--workers {workers} needs a shared [web] rate_limit_storage (e.g. "
            f'"redis://127.0.0.1:6379"): with "memory://" each worker would allow the '
            "whole subscribe_limit"
        )
    if settings.origin:  # every worker process loads the same file
        os.environ["DIGEST_CONFIG"] = settings.origin
    os.environ["DIGEST_STORE_URL"] = settings.store.url
    uvicorn.run(
        "digest.web:app_from_environment",
        factory=True,
        workers=workers,
        host=address,
        port=number,
        log_level="info",
        proxy_headers=False,
    )
