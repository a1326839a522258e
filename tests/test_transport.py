"""The SMTP transport's set-up against real servers: STARTTLS, implicit TLS, login, limits."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from conftest import FakeTime, SmtpSink, free_port

from digest.config import SmtpSettings
from digest.errors import ConfigError
from digest.message import Outgoing
from digest.transport import RateLimiter, SmtpTransport, TransportUnavailable, transport_for

MESSAGE = Outgoing(
    "reader@example.org",
    "digest@papers.example.org",
    b"Subject: hello\r\n\r\n.a line that starts with a dot\r\nbye\r\n",
    "<m1@x>",
)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def serve(**options):
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return sink, port, controller


def tls_context(certificate) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


def send_one(settings: SmtpSettings, password: str | None = None):
    connection = SmtpTransport(settings, password).connect()
    try:
        return connection.send(MESSAGE)
    finally:
        connection.close()


class Login:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        self.seen.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret")


def test_starttls_with_login_delivers_and_dot_stuffs(certificate):
    login = Login()
    sink, port, controller = serve(
        tls_context=tls_context(certificate),
        require_starttls=True,
        authenticator=login,
        auth_required=True,
    )
    try:
        settings = SmtpSettings(
            host="127.0.0.1",
            port=port,
            security="starttls",
            username="digest",
            ca_file=str(certificate[0]),
        )
        assert send_one(settings, "s3cret").status == "sent"
        assert login.seen == [("digest", "s3cret")]
        assert sink.messages[0][2].endswith(b".a line that starts with a dot\r\nbye\r\n")
        # aiosmtpd answers a failed login slowly (against guessing); either way the run stops
        impatient = settings.model_copy(update={"timeout": 1.0})
        with pytest.raises(TransportUnavailable, match="127.0.0.1"):
            send_one(impatient, "wrong")
    finally:
        controller.stop()


def test_implicit_tls(certificate):
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    controller = Controller(
        sink, hostname="127.0.0.1", port=port, ssl_context=tls_context(certificate)
    )
    controller.start()
    try:
        settings = SmtpSettings(
            host="127.0.0.1", port=port, security="tls", ca_file=str(certificate[0])
        )
        assert send_one(settings).status == "sent"
        assert len(sink.messages) == 1
    finally:
        controller.stop()


def test_a_server_without_starttls_is_refused_rather_than_used_in_clear(smtp_sink):
    _, port = smtp_sink
    with pytest.raises(TransportUnavailable, match="does not offer STARTTLS"):
        send_one(SmtpSettings(host="127.0.0.1", port=port, security="starttls"))


def test_username_without_password_is_a_config_error(tmp_path):
    from conftest import make_settings

    settings = make_settings(
        tmp_path, [], mail={"transport": "smtp", "smtp": {"username": "digest"}}
    )
    with pytest.raises(ConfigError, match=r"\$DIGEST_SMTP_PASSWORD is empty"):
        transport_for(settings, environ={})
    assert transport_for(settings, environ={"DIGEST_SMTP_PASSWORD": "x"}).password == "x"


def test_rate_limiter_spaces_messages_without_real_waiting():
    clock = FakeTime()
    limiter = RateLimiter(4.0, clock=clock.clock, sleep=clock.sleep)
    for _ in range(5):
        limiter.acquire()
    assert clock.sleeps == [0.25, 0.25, 0.25, 0.25]
    unlimited = RateLimiter(0.0, clock=clock.clock, sleep=clock.sleep)
    unlimited.acquire()
    assert len(clock.sleeps) == 4


def test_connections_are_reused_and_closed(smtp_sink):
    sink, port = smtp_sink
    connection = SmtpTransport(SmtpSettings(host="127.0.0.1", port=port, security="none")).connect()
    assert connection.send(MESSAGE).status == "sent"
    smtp = connection.smtp
    for _ in range(2):
        assert connection.send(MESSAGE).status == "sent"
    assert connection.smtp is smtp  # one connection for all three
    connection.close()
    assert connection.smtp is None and smtp.sock is None
    assert len(sink.messages) == 3
