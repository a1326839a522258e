"""Signed tokens for the links in emails and on pages (itsdangerous).

A token names its purpose (a confirm token cannot unsubscribe, and the reverse) and the
subscriber; the signing key is ``DIGEST_SECRET`` from the environment, never the file.
Unsubscribe links never expire (an old email must still let its reader leave);
confirmation links expire after 7 days, preference links after a year. A confirm token
also carries the nonce of the opt-in it was mailed for, so it confirms that opt-in only
(never a later one, after the reader unsubscribed).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from digest.errors import ConfigError, DigestError

SECRET_ENV = "DIGEST_SECRET"
MAX_AGE = {"confirm": 7 * 86400, "preferences": 365 * 86400, "unsubscribe": None}


class TokenError(DigestError):
    """A link's token is forged, expired or meant for something else."""

    exit_code = 2
    status = 400


class Tokens:
    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ConfigError(f"{SECRET_ENV} is too short: use at least 16 random characters")
        self._secret = secret
        self._serializers: dict[str, URLSafeTimedSerializer] = {}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Tokens:
        secret = environ.get(SECRET_ENV)
        if not secret:
            raise ConfigError(
                f"{SECRET_ENV} is not set: the links in emails are signed with "
                f"it (e.g. export {SECRET_ENV}=$(openssl rand -hex 32))"
            )
        return cls(secret)

    def signer(self, purpose: str) -> URLSafeTimedSerializer:
        """A serializer of its own for another purpose (form tokens, say)."""
        return self._serializer(purpose)

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        found = self._serializers.get(purpose)
        if found is None:
            found = URLSafeTimedSerializer(self._secret, salt=f"paper-digest:{purpose}")
            self._serializers[purpose] = found
        return found

    def make(self, purpose: str, subscriber_id: int, nonce: str | None = None) -> str:
        if purpose not in MAX_AGE:
            raise ValueError(f"unknown token purpose {purpose!r}")
        data: dict[str, object] = {"s": subscriber_id}
        if nonce is not None:
            data["n"] = nonce
        return self._serializer(purpose).dumps(data)

    def read(self, purpose: str, token: str) -> int:
        """The subscriber id in a token made for ``purpose``, or ``TokenError``."""
        return self.read_bound(purpose, token)[0]

    def read_bound(self, purpose: str, token: str) -> tuple[int, str | None]:
        """The subscriber id and the nonce (None if it carries none) of a token."""
        try:
            data = self._serializer(purpose).loads(token, max_age=MAX_AGE[purpose])
        except SignatureExpired:
            raise TokenError(f"this {purpose} link has expired") from None
        except BadSignature:
            raise TokenError(f"this {purpose} link is not valid") from None
        if not isinstance(data, dict) or not isinstance(data.get("s"), int):
            raise TokenError(f"this {purpose} link is not valid")
        nonce = data.get("n")
        if nonce is not None and not isinstance(nonce, str):
            raise TokenError(f"this {purpose} link is not valid")
        return data["s"], nonce
