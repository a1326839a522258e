"""`digest serve`: the web pages."""

from __future__ import annotations

import click

from digest.cli.app import App, pass_app


@click.command()
@click.option("--host", metavar="HOST", help="Address to listen on ([web] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port ([web] port, 8000).")
@pass_app
def serve(app: App, host: str | None, port: int | None) -> None:
    """Serve the web pages: subscribe, confirm, preferences, unsubscribe, archive, feeds.

    Put it behind a reverse proxy for HTTPS (and set [web] trusted_proxies = 1 there).
    DIGEST_SECRET signs the links.

    Example: digest serve --port 8000
    """
    import uvicorn

    from digest.web import create_app

    web = create_app(app.settings, store=app.store)
    uvicorn.run(
        web,
        host=host or app.settings.web.host,
        port=port or app.settings.web.port,
        log_level="info",
        proxy_headers=False,  # the app reads X-Forwarded-For itself ([web] trusted_proxies)
    )
