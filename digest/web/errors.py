"""One error handler for the web app: the status comes from the exception (Starlette's
``status_code``, our errors' ``status``; an ``InputError`` is 400, anything else 500),
the page from the status. JSON callers get ``{"error": …}``. Input is never echoed in
full, and 405 answers keep their ``Allow`` header."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from digest.errors import InputError
from digest.text import one_line
from digest.tokens import TokenError
from digest.web.forms import wants_json
from digest.web.site import CsrfError

log = logging.getLogger(__name__)
#: At most this much of an error's text (which may quote the input) is shown.
DETAIL_LIMIT = 300
PAGES = {
    400: ("Not accepted", None),
    404: ("Not found", "There is no page at this address."),
    405: ("Not allowed", "This page does not take that request."),
    413: ("Too large", "The request is larger than this page takes."),
    429: ("Too many requests", "Please try again in a few minutes."),
}
FAILED = ("Something went wrong", "Please try again later.")


def status_of(exc: Exception) -> int:
    for name in ("status_code", "status"):
        value = getattr(exc, name, None)
        if isinstance(value, int):
            return value
    return 400 if isinstance(exc, InputError) else 500


def _texts(exc: Exception, status: int) -> tuple[str, str]:
    detail = one_line(str(exc), DETAIL_LIMIT)
    if isinstance(exc, TokenError):
        return (
            "This link does not work",
            f"{detail}. Links in our emails are signed; ask for a new one from the last "
            "email you got.",
        )
    if isinstance(exc, CsrfError):
        return (
            "Please try again",
            "The form was sent without the token it was given (or has expired). Reload the "
            "page and send it again.",
        )
    heading, text = PAGES.get(status, FAILED)
    return heading, text or detail


async def on_error(request: Request, exc: Exception) -> Response:
    status = status_of(exc)
    if status >= 500:
        log.error("error serving %s", request.url.path, exc_info=exc)
        status = 500
    heading, text = _texts(exc, status)
    headers = dict(getattr(exc, "headers", None) or {})
    if wants_json(request):
        return JSONResponse({"error": text}, status, headers=headers)
    site = request.app.state.site
    return site.message(heading, text, status, headers=headers)
