"""Attacks on the web app and the subscription rules (issue 9), against the real server
(uvicorn on 127.0.0.1) where the point is about the server, in-process elsewhere."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from conftest import SAMPLE_NOW, make_settings
from starlette.testclient import TestClient

from digest.config import sample_settings
from digest.store import Store
from digest.subscribers import subscription
from digest.tokens import Tokens
from digest.transport import OutboxTransport
from digest.web import create_app

TOKENS = Tokens("test-secret-0123456789abcdef")
HEADERS = [
    "content-security-policy",
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
]
MAX_BODY = 16 * 1024


class Clock:
    def __init__(self) -> None:
        self.now = SAMPLE_NOW
        self.mono = 0.0

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now

    def monotonic(self) -> float:
        return self.mono


def settings_for(tmp_path, **web: Any):  # type: ignore[no-untyped-def]
    return make_settings(
        tmp_path,
        [],
        topics=[t.model_dump() for t in sample_settings().topics],
        site={"base_url": "https://papers.example.org", "title": "Paper Digest"},
        mail={"outbox_dir": str(tmp_path / "outbox")},
        web={"subscribe_limit": 3, **web},
    )


def make_app(tmp_path, store=None, transport=None, **web: Any):  # type: ignore[no-untyped-def]
    settings = settings_for(tmp_path, **web)
    store = store or Store.open(settings.store.url)
    clock = Clock()
    app = create_app(
        settings,
        store=store,
        tokens=TOKENS,
        transport=transport,
        clock=clock,
        monotonic=clock.monotonic,
    )
    return app, store, clock


@pytest.fixture
def web(tmp_path) -> Iterator[TestClient]:
    app, store, clock = make_app(tmp_path)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.store, client.clock, client.tmp = store, clock, tmp_path  # type: ignore[attr-defined]
        yield client
    store.close()


class Served:
    """The app under real uvicorn on 127.0.0.1, port 0 (the socket listens before the
    server starts, so the first request simply waits for it)."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="critical"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()

    def raw(self, data: bytes) -> bytes:
        """Send bytes as they are; the answer up to the end of its headers and body."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as conn:
            conn.sendall(data)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        return answer

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[Served, Store]]:
    app, store, _ = make_app(tmp_path)
    server = Served(app)
    try:
        yield server, store
    finally:
        server.stop()
        store.close()


def add(store: Store, address: str, status: str):  # type: ignore[no-untyped-def]
    request = subscription(sample_settings(), email=address, topics="rl")
    return store.add_subscriber(request, status=status, now=SAMPLE_NOW)[0]


def settle(client: TestClient) -> None:
    """Wait for the background sender to mail what is queued."""
    sender = getattr(client.app.state, "confirmations", None)
    if sender is not None:
        sender.settle()


def outbox(tmp_path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted((tmp_path / "outbox").glob("*.eml"))
    ]


def confirm_link(message) -> str:  # type: ignore[no-untyped-def]
    text = message.get_body(("plain",)).get_content()
    return re.search(r"https://papers\.example\.org(/confirm/\S+)", text).group(1)


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def assert_headers(response: Any) -> None:
    for name in HEADERS:
        assert name in response.headers, (response.status_code, name)


# 9.2: only a POST changes state; HEAD is a GET without a body


def test_head_on_a_link_changes_nothing_on_the_real_server(served):
    server, store = served
    active = add(store, "fay@example.org", "active")
    pending = add(store, "gil@example.org", "pending")
    with httpx.Client(base_url=server.base) as client:
        for url in (
            f"/unsubscribe/{TOKENS.make('unsubscribe', active.id)}",
            f"/preferences/{TOKENS.make('preferences', active.id)}",
            f"/confirm/{TOKENS.make('confirm', pending.id)}",
        ):
            answer = client.head(url)
            assert answer.status_code == 200 and answer.content == b"", url
            assert_headers(answer)
    assert store.subscriber("fay@example.org").status == "active"
    assert store.subscriber("gil@example.org").status == "pending"


# 9.3 (accepting side): internationalized addresses


@pytest.mark.parametrize(
    ("given", "stored"),
    [("jörg@example.org", "jörg@example.org"), ("user@BÜCHER.example", "user@bücher.example")],
)
def test_an_internationalized_address_gets_the_same_answer(web, given, stored):
    answer = web.post("/subscribe", data={"email": given, "topics": ["rl"]})
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    settle(web)  # the mail goes out (or fails, recorded) later
    subscriber = web.store.subscriber(stored)
    assert subscriber is not None and subscriber.status == "pending"
    assert web.get("/healthz").status_code == 200  # the background sender is alive


def test_the_command_line_adds_an_internationalized_address_in_one_line(
    tmp_path, monkeypatch, capsys
):
    from test_cli import digest, write_config

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGEST_SECRET", "test-secret-0123456789abcdef")
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    monkeypatch.delenv("DIGEST_STORE_URL", raising=False)
    write_config(
        tmp_path / "digest.toml",
        '[site]\nbase_url = "https://papers.example.org"\n'
        '[[topics]]\nslug = "rl"\nname = "RL"\nkeywords = ["reinforcement learning"]\n',
    )
    assert digest("subscribers", "add", "jörg@example.org", "--topics", "rl") == 0
    out, err = capsys.readouterr()
    assert out.startswith("Added jörg@example.org (pending") and out.count("\n") == 1
    assert "Traceback" not in out + err
    (tmp_path / "people.csv").write_text("email,topics\nuser@BÜCHER.example,rl\n", "utf-8")
    assert digest("subscribers", "import", "people.csv", "--pending") == 0
    out, err = capsys.readouterr()
    assert out == "Imported people.csv: 1 added, 0 updated, 0 skipped\n"
    assert "Traceback" not in err
    assert digest("subscribers", "list", "--format", "jsonl") == 0
    listed = capsys.readouterr().out
    assert '"jörg@example.org"' in listed and '"user@bücher.example"' in listed


# 9.4: bodies are capped before they are read, and input is never echoed in full


def test_a_declared_oversized_body_is_refused_before_it_is_sent(served):
    server, _ = served
    answer = server.raw(
        b"POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10000000\r\nConnection: close\r\n\r\n"
    )  # no body follows: a server that waited for it would never answer
    head = answer.split(b"\r\n\r\n")[0].decode().lower()
    assert head.startswith("http/1.1 413")
    for name in HEADERS:
        assert f"\r\n{name}:" in head


def test_a_chunked_body_is_counted_and_cut_off(served):
    server, _ = served
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"email": "'
        for _ in range(256):  # 4 MB in all, if the server kept reading
            sent += 16384
            yield b"a" * 16384

    with httpx.Client(base_url=server.base) as client:
        try:
            answer = client.post(
                "/subscribe", content=chunks(), headers={"Content-Type": "application/json"}
            )
        except httpx.TransportError:
            pytest.fail("the server did not answer the oversized chunked body")
    assert answer.status_code == 413 and answer.json() == {
        "error": "The request is larger than this page takes."
    }
    assert_headers(answer)


def test_an_error_page_does_not_echo_the_input_in_full(web):
    value = "x" * (MAX_BODY - 200) + "@example.org"
    for answer in (
        web.post("/subscribe", data={"email": value, "topics": ["rl"]}),
        web.post("/subscribe", json={"email": value, "topics": ["rl"]}),
    ):
        assert answer.status_code == 400
        assert "x" * 400 not in answer.text


# 9.7: behind proxies, only the configured hops are trusted


def rotating(client: Any, forwarded: str, count: int) -> list[int]:
    """Subscribe ``count`` times, each with another left-most X-Forwarded-For entry."""
    return [
        client.post(
            "/subscribe",
            data={"email": f"r{i}@example.org", "topics": ["rl"]},
            headers={"X-Forwarded-For": forwarded.format(i)},
        ).status_code
        for i in range(count)
    ]


@pytest.mark.parametrize("proxy", [{"trusted_proxies": 1}, {"behind_proxy": True}])
def test_rotating_forwarded_for_does_not_escape_the_rate_limit(tmp_path, proxy):
    app, store, _ = make_app(tmp_path, **proxy)
    with TestClient(app) as client:
        codes = rotating(client, "10.0.0.{}, 203.0.113.9", 6)
        other = client.post(
            "/subscribe",
            data={"email": "s@example.org", "topics": ["rl"]},
            headers={"X-Forwarded-For": "203.0.113.10"},
        )
    store.close()
    assert codes == [200, 200, 200, 429, 429, 429]
    assert other.status_code == 200


def test_trusted_proxies_by_address_on_the_real_server(tmp_path):
    app, store, _ = make_app(tmp_path, trusted_proxies=["127.0.0.0/8"])
    server = Served(app)
    try:
        with httpx.Client(base_url=server.base) as client:
            codes = rotating(client, "198.51.100.{}, 203.0.113.9, 127.0.0.2", 5)
    finally:
        server.stop()
        store.close()
    assert codes == [200, 200, 200, 429, 429]


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "client"),
    [
        (0, "192.0.2.1", "1.1.1.1", "192.0.2.1"),
        (1, "192.0.2.1", "1.1.1.1, 203.0.113.9", "203.0.113.9"),
        (2, "192.0.2.1", "1.1.1.1, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        (2, "192.0.2.1", "203.0.113.9", "203.0.113.9"),
        (["192.0.2.0/24"], "192.0.2.1", "1.1.1.1, 203.0.113.9", "203.0.113.9"),
        (["192.0.2.0/24"], "198.51.100.7", "203.0.113.9", "198.51.100.7"),
        (["192.0.2.0/24", "10.0.0.2"], "192.0.2.1", "1.1.1.1, 10.0.0.2", "1.1.1.1"),
    ],
)
def test_the_client_address_is_read_from_the_right(trusted, peer, forwarded, client):
    from digest.web.limits import ClientAddress

    assert ClientAddress(trusted)(peer, forwarded) == client


def test_behind_proxy_means_one_trusted_hop():
    from digest.config import WebSettings

    assert WebSettings(behind_proxy=True).trusted_proxies == 1
    assert WebSettings().trusted_proxies == 0


# 9.8: subscribing does the same work whoever subscribes; the mail goes out later


class Recorder:
    """Records which store methods the request handlers use (not the background
    sender's), and whether anybody opened a mail connection while handling a request."""

    def __init__(self, store: Store, transport: Any) -> None:
        self._store, self._transport = store, transport
        self.calls: list[str] = []
        self.connects_in_requests = 0
        self.connects = 0

    def __getattr__(self, name: str) -> Any:
        if threading.current_thread().name != "confirmations":
            self.calls.append(name)
        return getattr(self._store, name)

    # the transport side
    name = "recording"

    def connect(self) -> Any:
        self.connects += 1
        if threading.current_thread().name != "confirmations":
            self.connects_in_requests += 1
        return self._transport.connect()


def test_subscribing_takes_the_same_path_for_every_state(tmp_path):
    settings = settings_for(tmp_path)
    store = Store.open(settings.store.url)
    add(store, "active@example.org", "active")
    gone = add(store, "gone@example.org", "active")
    store.set_subscriber_status(gone.id, "unsubscribed", SAMPLE_NOW)
    add(store, "waiting@example.org", "pending")  # pending, never mailed
    recorder = Recorder(store, OutboxTransport(tmp_path / "outbox"))
    app, _, clock = make_app(tmp_path, store=recorder, transport=recorder)
    work = {}
    with TestClient(app) as client:
        settle(client)
        for address in ("new", "waiting", "active", "gone"):
            recorder.calls.clear()
            answer = client.post(
                "/subscribe", data={"email": f"{address}@example.org", "topics": ["rl"]}
            )
            assert answer.status_code == 200
            work[address] = (list(recorder.calls), answer.text.replace(address, "X"))
            clock.mono += 1000  # past the rate limit's window
        assert recorder.connects_in_requests == 0
        assert len({repr(w) for w in work.values()}) == 1, work
        settle(client)
    mailed = sorted(str(m["To"]) for m in outbox(tmp_path))
    assert mailed == ["gone@example.org", "new@example.org", "waiting@example.org"]
    store.close()


def test_a_queued_confirmation_survives_a_restart_and_any_sender_drains_it(tmp_path):
    from digest import subscriptions
    from digest.deliver.confirm import send_pending_confirmations

    settings = settings_for(tmp_path)
    with Store.open(settings.store.url) as store:
        request = subscription(settings, email="later@example.org", topics="rl")
        assert subscriptions.subscribe(store, request, SAMPLE_NOW).queued
    with Store.open(settings.store.url) as store:  # after a restart, without the web app
        transport = OutboxTransport(tmp_path / "outbox")
        [(subscriber, result)] = send_pending_confirmations(
            settings, store, transport, TOKENS, SAMPLE_NOW
        )
        assert (subscriber.email, result.status) == ("later@example.org", "sent")
        assert send_pending_confirmations(settings, store, transport, TOKENS, SAMPLE_NOW) == []
    [message] = outbox(tmp_path)
    assert str(message["To"]) == "later@example.org"


def test_the_web_app_sends_what_was_queued_before_it_started(tmp_path):
    from digest import subscriptions

    settings = settings_for(tmp_path)
    store = Store.open(settings.store.url)
    request = subscription(settings, email="queued@example.org", topics="rl")
    subscriptions.subscribe(store, request, SAMPLE_NOW)
    app, _, _ = make_app(tmp_path, store=store)
    with TestClient(app):
        app.state.confirmations.settle()
    store.close()
    assert [str(m["To"]) for m in outbox(tmp_path)] == ["queued@example.org"]


def test_a_confirmation_that_cannot_be_sent_is_recorded_not_raised(tmp_path):
    from digest import subscriptions
    from digest.deliver.confirm import send_pending_confirmations
    from digest.store import confirmations
    from digest.transport import Result

    class Refusing:
        name = "refusing"

        def connect(self):  # type: ignore[no-untyped-def]
            raise OSError("connection refused")

    settings = settings_for(tmp_path)
    with Store.open(settings.store.url) as store:
        request = subscription(settings, email="x@example.org", topics="rl")
        subscriber = subscriptions.subscribe(store, request, SAMPLE_NOW).subscriber
        [(_, result)] = send_pending_confirmations(settings, store, Refusing(), TOKENS, SAMPLE_NOW)
        assert isinstance(result, Result) and result.status == "retry"
        assert "connection refused" in result.detail
        with store.engine.connect() as conn:
            row = confirmations.get(conn, subscriber.id)
        assert row.queued_at is not None and row.attempts == 1 and row.claimed_at is None


# 9.10: bad input is a 400; every answer carries the security headers; 405 has Allow


def test_bad_input_is_400_with_the_headers_on_the_real_server(tmp_path):
    app, store, _ = make_app(tmp_path, subscribe_limit=100)
    server = Served(app)
    json_type = {"Content-Type": "application/json"}
    cases = [
        (b'{"email": "\xff\xfe@example.org", "topics": ["rl"]}', json_type),
        (b"[" * 8000 + b"]" * 8000, json_type),
        (b'{"email": ' * 1400 + b'"a"' + b"}" * 1400, json_type),
        (b"email=%FF%FE%40example.org&topics=rl", {}),
        (b"email=\xff@example.org&topics=rl", {}),
        (
            b'--b\r\nContent-Disposition: form-data; name="email"\r\n\r\n\xff\xfe\r\n--b--\r\n',
            {"Content-Type": "multipart/form-data; boundary=b"},
        ),
    ]
    try:
        with httpx.Client(base_url=server.base) as client:
            for body, headers in cases:
                if not headers:
                    headers = {"Content-Type": "application/x-www-form-urlencoded"}
                answer = client.post("/subscribe", content=body, headers=headers)
                assert answer.status_code == 400, (body[:40], answer.status_code)
                assert_headers(answer)
    finally:
        server.stop()
        store.close()


def test_every_error_answer_carries_the_headers_and_405_says_allow(served, monkeypatch):
    server, _ = served
    monkeypatch.setattr(Store, "editions", lambda store, topic=None: 1 / 0)  # the home page
    with httpx.Client(base_url=server.base) as client:
        missing = client.get("/no/such/page")
        assert missing.status_code == 404
        not_allowed = client.get("/subscribe")
        assert not_allowed.status_code == 405 and not_allowed.headers["allow"] == "POST"
        put = client.put("/unsubscribe/x")
        assert put.status_code == 405 and set(put.headers["allow"].split(", ")) >= {"GET", "POST"}
        head_post_only = client.delete("/healthz")
        assert head_post_only.status_code == 405 and "GET" in head_post_only.headers["allow"]
        failed = client.get("/")
        assert failed.status_code == 500 and "ZeroDivisionError" not in failed.text
        limited = [
            client.post("/subscribe", data={"email": f"q{i}@example.org", "topics": ["rl"]})
            for i in range(4)
        ][-1]
        assert limited.status_code == 429
        for answer in (missing, not_allowed, put, head_post_only, failed, limited):
            assert_headers(answer)


# 9.13: a confirm link confirms only the opt-in it was mailed for


def test_an_old_confirm_link_does_not_resubscribe(web):
    web.post("/subscribe", data={"email": "ida@example.org", "topics": ["rl"]})
    settle(web)
    [first] = outbox(web.tmp)
    old = confirm_link(first)
    page = web.get(old)
    assert web.post(old, data={"csrf_token": csrf(page.text)}).status_code == 200
    subscriber = web.store.subscriber("ida@example.org")
    assert subscriber.status == "active"
    unsubscribe = f"/unsubscribe/{TOKENS.make('unsubscribe', subscriber.id)}"
    assert web.post(unsubscribe).status_code == 200
    again = web.post(old, data={"csrf_token": csrf(page.text)})
    assert again.status_code == 400 and "This link does not work" in again.text
    assert web.get(old).status_code == 400
    assert web.store.subscriber("ida@example.org").status == "unsubscribed"
    # subscribing again mails a new link, which works; the old one still does not
    web.clock.now = SAMPLE_NOW.replace(hour=20)
    web.post("/subscribe", data={"email": "ida@example.org", "topics": ["rl"]})
    settle(web)
    confirms = [m for m in outbox(web.tmp) if m["Subject"].startswith("Confirm")]
    assert len(confirms) == 2  # (and a welcome between them)
    new = {confirm_link(m) for m in confirms} - {old}
    assert len(new) == 1
    new = new.pop()
    assert new != old and web.get(old).status_code == 400
    done = web.post(new, data={"csrf_token": csrf(web.get(new).text)})
    assert done.status_code == 200 and web.store.subscriber("ida@example.org").status == "active"
