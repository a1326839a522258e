"""The subscription rules (digest.subscriptions) on a real SQLite store."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import SAMPLE_NOW, make_settings

from digest import subscriptions
from digest.config import sample_settings
from digest.store import Store
from digest.store import confirmations as queue
from digest.subscribers import subscription
from digest.tokens import TokenError


@pytest.fixture
def store(tmp_path):
    settings = make_settings(
        tmp_path, [], topics=[t.model_dump() for t in sample_settings().topics]
    )
    with Store.open(settings.store.url) as opened:
        opened.settings = settings  # type: ignore[attr-defined]
        yield opened


def ask(store, address: str, topics: str = "rl"):  # type: ignore[no-untyped-def]
    return subscription(store.settings, email=address, topics=topics)


def row(store, subscriber_id: int):  # type: ignore[no-untyped-def]
    with store.engine.connect() as conn:
        return queue.get(conn, subscriber_id)


def test_subscribing_queues_one_mail_an_hour(store):
    first = subscriptions.subscribe(store, ask(store, "a@example.org"), SAMPLE_NOW)
    assert first.created and first.queued and first.subscriber.status == "pending"
    assert not subscriptions.subscribe(store, ask(store, "a@example.org"), SAMPLE_NOW).queued
    with store.engine.begin() as conn:  # the mail went out
        [claimed] = queue.claim_due(conn, SAMPLE_NOW)
        queue.settle(conn, claimed, SAMPLE_NOW, sent=True)
    later = SAMPLE_NOW + timedelta(minutes=30)
    assert not subscriptions.subscribe(store, ask(store, "a@example.org"), later).queued
    later = SAMPLE_NOW + timedelta(minutes=61)
    assert subscriptions.subscribe(store, ask(store, "a@example.org"), later).queued


def test_a_stranger_cannot_change_an_active_subscriber(store):
    store.add_subscriber(ask(store, "b@example.org", "rl"), status="active", now=SAMPLE_NOW)
    outcome = subscriptions.subscribe(store, ask(store, "b@example.org", "nlp"), SAMPLE_NOW)
    assert not outcome.queued and outcome.subscriber.topics == ("rl",)
    assert store.subscriber("b@example.org").topics == ("rl",)


def test_the_operator_may_change_an_active_subscriber_and_add_active_at_once(store):
    subscriptions.add(store, ask(store, "c@example.org", "rl"), SAMPLE_NOW, active=True)
    outcome = subscriptions.add(store, ask(store, "c@example.org", "nlp"), SAMPLE_NOW, active=False)
    assert (outcome.subscriber.status, outcome.subscriber.topics) == ("active", ("nlp",))
    assert not outcome.queued


def test_confirming_binds_to_the_opt_in(store):
    subscriber = subscriptions.subscribe(store, ask(store, "d@example.org"), SAMPLE_NOW).subscriber
    nonce = row(store, subscriber.id).nonce
    with pytest.raises(TokenError):
        subscriptions.confirm(store, subscriber.id, "another", SAMPLE_NOW)
    assert subscriptions.confirm(store, subscriber.id, nonce, SAMPLE_NOW).status == "active"
    assert subscriptions.confirm(store, subscriber.id, nonce, SAMPLE_NOW).status == "active"
    subscriptions.unsubscribe(store, subscriber.id, SAMPLE_NOW)
    with pytest.raises(TokenError, match="earlier subscription"):
        subscriptions.confirm(store, subscriber.id, nonce, SAMPLE_NOW)
    again = subscriptions.subscribe(store, ask(store, "d@example.org"), SAMPLE_NOW)
    assert again.queued and row(store, subscriber.id).nonce != nonce


def test_a_link_from_before_nonces_confirms_only_a_pending_opt_in(store):
    pending, _ = store.add_subscriber(ask(store, "e@example.org"), status="pending", now=SAMPLE_NOW)
    assert subscriptions.confirm(store, pending.id, None, SAMPLE_NOW).status == "active"
    subscriptions.unsubscribe(store, pending.id, SAMPLE_NOW)
    with pytest.raises(TokenError):
        subscriptions.confirm(store, pending.id, None, SAMPLE_NOW)


def test_remove_takes_the_queue_row_with_it(store):
    subscriber = subscriptions.subscribe(store, ask(store, "f@example.org"), SAMPLE_NOW).subscriber
    assert subscriptions.remove(store, "f@example.org")
    assert row(store, subscriber.id) is None and not subscriptions.remove(store, "f@example.org")
