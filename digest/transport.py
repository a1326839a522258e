"""Transports hand finished messages over: to an outbox folder (the default, so nothing
is sent by accident) or to an SMTP server.

A transport opens *connections*; each sender thread uses its own. An SMTP connection is
opened on first use, reused for every message after, re-opened once if the server drops
it, and always closed. Answers are sorted for the ledger: 2xx ``sent``, 4xx and dropped
links ``retry``, 5xx for the recipient ``bounced``; a message no attempt can deliver (an
address that is not ASCII for a server without SMTPUTF8) is ``failed``.
"""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from digest.config import Settings, SmtpSettings
from digest.errors import ConfigError, DigestError
from digest.files import write_atomic
from digest.message import Outgoing
from digest.text import one_line


class TransportUnavailable(DigestError):
    """The transport cannot take any message now (server down, login refused)."""


@dataclass(frozen=True, slots=True)
class Result:
    status: str  # "sent", "retry", "bounced" or "failed"
    code: int | None = None
    detail: str | None = None


class Connection(Protocol):
    def send(self, message: Outgoing) -> Result: ...

    def close(self) -> None: ...


class Transport(Protocol):
    name: str

    @property
    def max_connections(self) -> int:
        """How many connections (sender threads) may be open at once."""
        ...

    def connect(self) -> Connection: ...


def classify(code: int, text: bytes | str) -> Result:
    detail = one_line(text.decode("utf-8", "replace") if isinstance(text, bytes) else text, 200)
    if 200 <= code < 300:
        return Result("sent", code)
    if 400 <= code < 500:
        return Result("retry", code, f"{code} {detail}")
    return Result("bounced", code, f"{code} {detail}")


class OutboxTransport:
    """One ``.eml`` file per message in a folder, written atomically."""

    name = "outbox"
    max_connections = 1  # files in one folder: one writer is as fast as several

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def connect(self) -> Connection:
        """A connection to a folder that exists and takes files (or ``ConfigError``)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.directory):
                pass
        except OSError as exc:
            raise ConfigError(_outbox_error(self.directory, exc)) from exc
        return _OutboxConnection(self.directory)


def _outbox_error(directory: Path, exc: OSError) -> str:
    return f"mail.outbox_dir: cannot write to {directory}: {exc.strerror or exc}"


class _OutboxConnection:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: Outgoing) -> Result:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", message.message_id.strip("<>"))
        try:
            write_atomic(self.directory / f"{name}.eml", message.data)
        except OSError as exc:
            raise TransportUnavailable(_outbox_error(self.directory, exc)) from exc
        return Result("sent", 250)

    def close(self) -> None:
        pass


class RateLimiter:
    """At most ``rate`` acquisitions per second over all threads (0: no limit)."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self.clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self.sleep(start - now)


class SmtpTransport:
    name = "smtp"

    def __init__(
        self,
        settings: SmtpSettings,
        password: str | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.password = password
        self.limiter = limiter or RateLimiter(settings.rate)

    @property
    def max_connections(self) -> int:
        return self.settings.connections

    def connect(self) -> Connection:
        return _SmtpConnection(self)


class _SmtpConnection:
    def __init__(self, transport: SmtpTransport) -> None:
        self.transport = transport
        self.settings = transport.settings
        self.smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        where = f"{s.host}:{s.port}"
        context = ssl.create_default_context(cafile=s.ca_file)
        try:
            if s.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, local_hostname=s.helo, timeout=s.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, local_hostname=s.helo, timeout=s.timeout)
            try:
                smtp.ehlo()
                if s.security == "starttls":
                    if not smtp.has_extn("starttls"):
                        raise TransportUnavailable(
                            f"SMTP server {where} does not offer STARTTLS; set "
                            '[mail.smtp] security = "tls" (port 465) or "none"'
                        )
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if s.username:
                    smtp.login(s.username, self.transport.password or "")
            except BaseException:
                smtp.close()
                raise
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportUnavailable(
                f"SMTP login to {where} refused ({exc.smtp_code}); check [mail.smtp] username "
                f"and the password in ${s.password_env}"
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransportUnavailable(explain_smtp_error(exc, s)) from exc
        return smtp

    def send(self, message: Outgoing) -> Result:
        self.transport.limiter.acquire()
        for attempt in range(2):
            try:
                if self.smtp is None:
                    self.smtp = self._open()
                return self._transaction(self.smtp, message)
            except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException, OSError) as exc:
                self.close()
                if attempt == 0:
                    continue  # the server dropped a reused connection: one fresh try
                code = getattr(exc, "smtp_code", None)
                return Result("retry", code, f"connection dropped: {one_line(str(exc), 160)}")
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _transaction(smtp: smtplib.SMTP, message: Outgoing) -> Result:
        """MAIL, RCPT, DATA for one message, with smtplib's commands.

        The message is ours: CRLF line ends and 7-bit already (but for a UTF-8 address,
        sent with SMTPUTF8), so only dot-stuffing is left to do (cheaper than
        ``sendmail``'s regular expressions over every message).
        """
        options = ""
        if message.smtputf8:
            if not smtp.has_extn("smtputf8"):
                return Result(
                    "failed",
                    None,
                    f"{message.recipient}: the address is not ASCII and the SMTP server does "
                    "not offer SMTPUTF8 to carry it",
                )
            options = " SMTPUTF8" + (" BODY=8BITMIME" if smtp.has_extn("8bitmime") else "")
            smtp.command_encoding = "utf-8"
        try:
            return _SmtpConnection._steps(smtp, message, options)
        finally:
            smtp.command_encoding = "ascii"

    @staticmethod
    def _steps(smtp: smtplib.SMTP, message: Outgoing, options: str) -> Result:
        code, text = smtp.docmd("MAIL", f"FROM:<{message.sender}>{options}")
        if code != 250:
            _reset(smtp)
            refused = classify(code, text)
            return Result("retry", code, f"sender refused: {refused.detail}")
        code, text = smtp.docmd("RCPT", f"TO:<{message.recipient}>")
        if code not in (250, 251):
            _reset(smtp)
            return classify(code, text)
        code, text = smtp.docmd("DATA")
        if code != 354:
            _reset(smtp)
            return classify(code, text)
        data = message.data.replace(b"\r\n.", b"\r\n..")
        if data.startswith(b"."):
            data = b"." + data
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        smtp.send(data + b".\r\n")
        code, text = smtp.getreply()
        return classify(code, text)

    def close(self) -> None:
        if self.smtp is None:
            return
        smtp, self.smtp = self.smtp, None
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()


def explain_smtp_error(exc: BaseException, s: SmtpSettings) -> str:
    """What went wrong reaching the relay, in words that say which setting to check."""
    where = f"{s.host}:{s.port}"
    if isinstance(exc, smtplib.SMTPNotSupportedError) and "AUTH" in str(exc).upper():
        return (
            f"the SMTP server {where} does not offer login (no AUTH in its EHLO answer): "
            f"check [mail.smtp] security (now {s.security!r}; many servers offer login only "
            "after STARTTLS or on TLS port 465) and username (leave it out if the server "
            "takes mail without login)"
        )
    if isinstance(exc, ConnectionRefusedError):
        return (
            f"nothing answers at {where} (connection refused): check [mail.smtp] host and port "
            "(587 for STARTTLS, 465 for TLS, 25 for plain relays)"
        )
    if isinstance(exc, socket.gaierror):
        return f"the SMTP host {s.host!r} is not known (DNS): check [mail.smtp] host"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"the certificate of {where} is not trusted ({exc.verify_message}): check "
            "[mail.smtp] host (the name on its certificate) or ca_file"
        )
    if isinstance(exc, ssl.SSLError):
        return (
            f"TLS with {where} failed ({one_line(exc.reason or str(exc), 120)}): check "
            '[mail.smtp] security ("tls" for port 465, "starttls" for 587)'
        )
    if isinstance(exc, TimeoutError | socket.timeout):
        return (
            f"no answer from {where} within {s.timeout:g} s: check [mail.smtp] host, port "
            'and security (a TLS port waits silently for "tls")'
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return (
            f"the SMTP server {where} closed the connection at once: check [mail.smtp] "
            'security ("tls" for port 465) and port'
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        return f"the SMTP server {where} answered {exc.smtp_code} {one_line(detail, 160)}"
    return f"cannot connect to SMTP server {where}: {one_line(str(exc), 160) or repr(exc)}"


def _reset(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        smtp.rset()


def transport_for(settings: Settings, environ: dict[str, str] | None = None) -> Transport:
    mail = settings.mail
    if mail.transport == "outbox":
        return OutboxTransport(Path(mail.outbox_dir))
    env = os.environ if environ is None else environ
    password = env.get(mail.smtp.password_env)
    if mail.smtp.username and not password:
        raise ConfigError(
            f"mail.smtp.username is set but ${mail.smtp.password_env} is empty: "
            "put the SMTP password in that environment variable"
        )
    return SmtpTransport(mail.smtp, password)
