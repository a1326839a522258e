"""Reading what a request sends: a form (urlencoded or multipart) or a JSON object, as
one mapping. The body is capped before it is read (``digest.web.security.BodyLimit``);
anything malformed (not UTF-8, not JSON, nested too deep) is a 400, never a 500."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.formparsers import MultiPartException
from starlette.requests import Request

from digest.web.security import BadRequest

MAX_FIELDS = 100


def wants_json(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("application/json")


async def read_form(request: Request) -> dict[str, Any]:
    """Form fields or a JSON object; ``topics`` always a list (repeated form fields)."""
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        return _json_object(body)
    if content_type.startswith("multipart/form-data"):
        try:
            form = await request.form(max_fields=MAX_FIELDS, max_files=0)
        except (MultiPartException, ValueError):  # the parser's errors are ValueErrors
            raise BadRequest("the form could not be read") from None
        pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    else:
        try:
            pairs = parse_qsl(
                body.decode("ascii"),
                keep_blank_values=True,
                strict_parsing=False,
                encoding="utf-8",
                errors="strict",
                max_num_fields=MAX_FIELDS,
            )
        except (UnicodeDecodeError, ValueError):
            raise BadRequest("the form is not valid UTF-8 form data") from None
    data: dict[str, Any] = dict(pairs)
    data["topics"] = [v for k, v in pairs if k == "topics"]
    return data


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8") or "{}")
    except UnicodeDecodeError:
        raise BadRequest("the request body is not UTF-8") from None
    except (ValueError, RecursionError):
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object")
    return data
