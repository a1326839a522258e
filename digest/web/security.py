"""What guards every request, as plain ASGI middleware (no buffering): the security
headers on every response, errors included, and a cap on request bodies."""

from __future__ import annotations

from typing import Any

from digest.errors import DigestError

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_HEADER_BYTES = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
#: The largest request body taken: the forms here are a few hundred bytes.
MAX_BODY = 16 * 1024


class BodyTooLarge(DigestError):
    """A request body over the limit (``status`` 413)."""

    status = 413


class BadRequest(DigestError):
    """A request that is not well formed (``status`` 400)."""

    status = 400


class SecurityHeaders:
    """Adds the security headers to every response. It wraps the whole application,
    the handler of unexpected errors included, so no answer goes out without them."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in _HEADER_BYTES if n not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """Refuses a request body over ``max_bytes`` (413) before reading it: a declared
    Content-Length is checked on the first read, and a chunked body is counted as it comes.
    The error is raised where the body is read, so the error handler answers it."""

    def __init__(self, app: Any, max_bytes: int = MAX_BODY) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        limit = self.max_bytes
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            if declared is not None:
                if not declared.isdigit():
                    raise BadRequest("the Content-Length header is not a number")
                if int(declared) > limit:
                    raise BodyTooLarge(f"the request body is over {limit} bytes")
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(f"the request body is over {limit} bytes")
            return message

        await self.app(scope, limited, send)
