"""The subscription rules, in one place: what subscribing, confirming, changing
preferences, unsubscribing and removing do to a subscriber. The web pages and the
``digest subscribers`` commands both call these; each is one store transaction.

- Subscribing (the public opt-in) never changes an active or bounced subscriber, so a
  stranger can neither alter someone's preferences nor learn that they subscribed. Any
  other address becomes ``pending`` and a confirmation mail is *queued* (at most one an
  hour per address); ``digest.deliver.confirm.send_pending_confirmations`` sends it. The
  caller answers the same whatever happened.
- Each opt-in has a nonce, carried by its confirm link: a link confirms the opt-in it was
  mailed for, and nothing after an unsubscribe. Confirming queues a welcome mail through
  the same queue (the sender tells them apart by the subscriber's status).
- Unsubscribing can be undone: ``resubscribe`` (from the signed unsubscribe or preferences
  link, which only the address's owner has) makes an unsubscribed reader active again;
  subscribing through the form after unsubscribing starts a new opt-in, whose mail is due
  at once (the one-an-hour limit is for addresses that are already pending).
- An operator's ``add`` may make someone active at once, or change the preferences of an
  active subscriber; without ``active`` it is an opt-in with its mail due now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from digest.errors import InputError
from digest.store import Store
from digest.store import confirmations as _confirmations
from digest.store import subscribers as _subscribers
from digest.store.database import write_transaction
from digest.subscribers import Subscriber, Subscription
from digest.tokens import TokenError

CONFIRMATION_INTERVAL = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Outcome:
    subscriber: Subscriber
    created: bool
    #: A confirmation mail is now due for this subscriber.
    queued: bool


def subscribe(store: Store, request: Subscription, now: datetime) -> Outcome:
    """The public opt-in (the web form): see the module's docstring."""
    return _opt_in(store, request, now, force=False, operator=False)


def add(store: Store, request: Subscription, now: datetime, *, active: bool) -> Outcome:
    """An operator adds or updates a subscriber: active at once, or an opt-in whose
    confirmation is due now (an active or bounced subscriber keeps their status)."""
    if not active:
        return _opt_in(store, request, now, force=True, operator=True)
    with write_transaction(store.engine) as conn:
        subscriber, created = _subscribers.upsert(conn, request, status="active", now=now)
        row = _confirmations.get(conn, subscriber.id)
        if row is not None and row.queued_at is not None:
            _confirmations.queue_clear(conn, subscriber.id)
        return Outcome(subscriber, created, False)


def _opt_in(
    store: Store, request: Subscription, now: datetime, *, force: bool, operator: bool
) -> Outcome:
    with write_transaction(store.engine) as conn:
        existing = _subscribers.find(conn, request.email)
        if existing is not None and existing.status in ("active", "bounced"):
            if not operator:
                return Outcome(existing, False, False)
            updated, _ = _subscribers.upsert(conn, request, status=existing.status, now=now)
            return Outcome(updated, False, False)
        subscriber, created = _subscribers.upsert(conn, request, status="pending", now=now)
        row = _confirmations.get(conn, subscriber.id)
        if subscriber.status != "pending" or row is None:
            # a new opt-in (new, or back after an unsubscribe): older links stop working
            _subscribers.set_status(conn, subscriber.id, "pending", now)
            row = _confirmations.start(conn, subscriber.id)
        due = row.queued_at is None and (
            force or row.sent_at is None or now - row.sent_at >= CONFIRMATION_INTERVAL
        )
        if due:
            _confirmations.queue(conn, row, now)
        return Outcome(_subscribers.get(conn, subscriber.id), created, due)


def resend_confirmation(store: Store, email: str, now: datetime) -> Subscriber:
    """Queue a pending subscriber's confirmation mail again (after a failed send, or a
    lost mail): the same opt-in, so a link mailed before still confirms."""
    with write_transaction(store.engine) as conn:
        found = _subscribers.find(conn, email)
        if found is None:
            raise InputError(f"no subscriber {email!r}")
        if found.status != "pending":
            raise InputError(f"{email} is {found.status}, not pending: there is nothing to confirm")
        row = _confirmations.get(conn, found.id) or _confirmations.start(conn, found.id)
        _confirmations.queue(conn, row, now)
        return found


def confirm(store: Store, subscriber_id: int, nonce: str | None, now: datetime) -> Subscriber:
    """Confirm the opt-in a confirm link was mailed for; ``TokenError`` for any other."""
    with write_transaction(store.engine) as conn:
        subscriber, row = _confirmable(conn, subscriber_id, nonce)
        if subscriber.status == "pending":
            _subscribers.set_status(conn, subscriber_id, "active", now)
            if row is not None:
                _confirmations.queue(conn, row, now)  # the welcome mail
            subscriber = _subscribers.get(conn, subscriber_id)
        return subscriber


def confirmable(store: Store, subscriber_id: int, nonce: str | None) -> Subscriber:
    """The subscriber a confirm link would confirm (``TokenError`` if it would not)."""
    with store.engine.connect() as conn:
        return _confirmable(conn, subscriber_id, nonce)[0]


def _confirmable(
    conn: Connection, subscriber_id: int, nonce: str | None
) -> tuple[Subscriber, _confirmations.Confirmation | None]:
    found = _subscribers.list_all(conn, ids=[subscriber_id])
    if not found:
        raise TokenError("this confirm link is for a subscription that no longer exists")
    row = _confirmations.get(conn, subscriber_id)
    # a link without a nonce predates them: good only while its opt-in is pending
    current = row.nonce if row is not None else None
    if nonce != current or found[0].status not in ("pending", "active"):
        raise TokenError(
            "this confirm link is for an earlier subscription: subscribe again to get a new one"
        )
    return found[0], row


def update(
    store: Store, subscriber: Subscriber, request: Subscription, now: datetime
) -> Subscriber:
    """New preferences for a subscriber (from their preferences link); status unchanged."""
    with write_transaction(store.engine) as conn:
        updated, _ = _subscribers.upsert(conn, request, status=subscriber.status, now=now)
        return updated


def unsubscribe(store: Store, subscriber_id: int, now: datetime) -> None:
    """Stop the digests; every confirm link mailed so far stops working."""
    with write_transaction(store.engine) as conn:
        found = _subscribers.list_all(conn, ids=[subscriber_id])
        if found and found[0].status != "unsubscribed":
            _subscribers.set_status(conn, subscriber_id, "unsubscribed", now)
        _confirmations.drop(conn, subscriber_id)


def resubscribe(store: Store, subscriber_id: int, now: datetime) -> Subscriber | None:
    """Undo an unsubscribe: the reader is active again (other statuses stay as they are).

    Only for a reader holding one of their signed links; None if they no longer exist.
    """
    with write_transaction(store.engine) as conn:
        found = _subscribers.list_all(conn, ids=[subscriber_id])
        if not found:
            return None
        if found[0].status == "unsubscribed":
            _subscribers.set_status(conn, subscriber_id, "active", now)
        return _subscribers.get(conn, subscriber_id)


def remove(store: Store, email: str) -> bool:
    """Delete a subscriber with their deliveries and confirmations; False if unknown."""
    with write_transaction(store.engine) as conn:
        found = _subscribers.find(conn, email)
        if found is None:
            return False
        _confirmations.drop(conn, found.id)
        return _subscribers.remove(conn, email)
