"""Double opt-in: the confirmation message a pending subscriber gets, and the welcome
message once they confirmed (which topics, how often, when the first edition arrives in
their time zone), both through the one queue of confirmations.

Confirmations are queued in the store by ``digest.subscriptions`` and sent here, by
``send_pending_confirmations``: the web app runs it in the background after answering
(so the answer takes the same time whoever subscribes), and the delivery tick or
``digest send`` may run it too. A message that cannot be built or sent is a recorded
failure of that one confirmation (retried, then given up), never a crash of the sender.
"""

from __future__ import annotations

import smtplib
from datetime import datetime
from zoneinfo import ZoneInfo

from digest.config import Settings
from digest.deliver.plan import send_moment
from digest.errors import DigestError
from digest.links import Links, ReaderLinks
from digest.message import MessageBuilder, Outgoing
from digest.periods import current_period
from digest.render import Renderer
from digest.store import Store
from digest.store import confirmations as _confirmations
from digest.store.database import write_transaction
from digest.subscribers import Recipient, Subscriber
from digest.text import one_line
from digest.tokens import Tokens
from digest.transport import Connection, Result, Transport

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

#: What building or handing over one message may raise: a failure of that message.
SEND_ERRORS = (DigestError, ValueError, OSError, smtplib.SMTPException)


def confirmation_message(
    settings: Settings,
    subscriber: Subscriber,
    *,
    tokens: Tokens,
    nonce: str | None,
    now: datetime,
    renderer: Renderer,
) -> Outgoing:
    links = Links(settings)
    return _notice(
        settings,
        renderer,
        "confirm",
        subscriber,
        f"Confirm your subscription to {settings.site.title}",
        {
            "confirm_url": links.confirm(tokens, subscriber.id, nonce),
            "frequency": subscriber.frequency,
        },
        message_id=f"confirm.{subscriber.id}.{(nonce or '0')[:8]}.{int(now.timestamp())}",
        now=now,
        reader=links.reader(tokens, subscriber.id),
        mailto=False,
    )


def _notice(
    settings: Settings,
    renderer: Renderer,
    kind: str,
    subscriber: Subscriber,
    subject: str,
    context: dict[str, object],
    *,
    message_id: str,
    now: datetime,
    reader: ReaderLinks,
    mailto: bool,
) -> Outgoing:
    """A one-off message to one subscriber from ``email/<kind>.html`` and ``.txt``."""
    names = {t.slug: t.name for t in settings.topics}
    context = {
        "subject": subject,
        "email": subscriber.email,
        "topics": [names.get(slug, slug) for slug in subscriber.topics],
        **context,
    }
    html = renderer.inliner.inline(renderer.render(f"email/{kind}.html", **context))
    text = renderer.render(f"email/{kind}.txt", **context)
    return MessageBuilder(settings).build(
        to=subscriber.email,
        subject=subject,
        text=text,
        html=html,
        message_id=message_id,
        date=now,
        list_slug=kind,
        unsubscribe_url=reader.unsubscribe,
        unsubscribe_mailto=reader.unsubscribe_mailto if mailto else None,
    )


def first_edition(subscriber: Subscriber, now: datetime) -> datetime:
    """When the first edition goes out: this period's send moment if it is still ahead,
    else at once (the next delivery run sends the period's edition it missed)."""
    reader = Recipient(
        subscriber.id,
        subscriber.email,
        subscriber.topics,
        subscriber.frequency,
        subscriber.weekday,
        subscriber.timezone,
        subscriber.hour,
        subscriber.max_papers,
    )
    period = current_period(now, subscriber.frequency, subscriber.timezone)
    return max(now, send_moment(reader, period))


def welcome_message(
    settings: Settings,
    subscriber: Subscriber,
    *,
    tokens: Tokens,
    now: datetime,
    renderer: Renderer,
) -> Outgoing:
    links = Links(settings)
    reader = links.reader(tokens, subscriber.id)
    first = first_edition(subscriber, now).astimezone(ZoneInfo(subscriber.timezone))
    when = (
        "with the next delivery run, in the next few minutes"
        if first <= now
        else f"on {first:%A} {first.day} {first:%B} at {first:%H:%M} ({subscriber.timezone})"
    )
    schedule = (
        f"every {WEEKDAY_NAMES[subscriber.weekday or 0]} at {subscriber.hour:02d}:00"
        if subscriber.frequency == "weekly"
        else f"every day at {subscriber.hour:02d}:00"
    )
    return _notice(
        settings,
        renderer,
        "welcome",
        subscriber,
        f"Welcome to {settings.site.title}",
        {
            "schedule": f"{schedule} ({subscriber.timezone})",
            "first": when,
            "preferences_url": reader.preferences,
            "unsubscribe_url": reader.unsubscribe,
            "archive_url": links.archive(),
        },
        message_id=f"welcome.{subscriber.id}.{int(now.timestamp())}",
        now=now,
        reader=reader,
        mailto=True,
    )


def send_pending_confirmations(
    settings: Settings,
    store: Store,
    transport: Transport,
    tokens: Tokens,
    now: datetime,
    renderer: Renderer | None = None,
) -> list[tuple[Subscriber, Result]]:
    """Send every queued confirmation (or welcome, to a subscriber who confirmed);
    returns what became of each.

    Safe to run from several places at once: each row is claimed before it is sent.
    """
    with write_transaction(store.engine) as conn:
        due = _confirmations.claim_due(conn, now)
    if not due:
        return []
    renderer = renderer or Renderer(settings)
    done: list[tuple[Subscriber, Result]] = []
    connection: Connection | None = None
    try:
        for row in due:
            subscriber = store.subscriber_by_id(row.subscriber_id)
            if subscriber is None or subscriber.status not in ("pending", "active"):
                with write_transaction(store.engine) as conn:
                    _confirmations.queue_clear(conn, row.subscriber_id)
                continue
            try:
                if subscriber.status == "active":
                    message = welcome_message(
                        settings, subscriber, tokens=tokens, now=now, renderer=renderer
                    )
                else:
                    message = confirmation_message(
                        settings,
                        subscriber,
                        tokens=tokens,
                        nonce=row.nonce,
                        now=now,
                        renderer=renderer,
                    )
                if connection is None:
                    connection = transport.connect()
                result = connection.send(message)
            except SEND_ERRORS as exc:
                result = Result("retry", None, one_line(f"{type(exc).__name__}: {exc}", 300))
            sent = result.status == "sent"
            with write_transaction(store.engine) as conn:
                _confirmations.settle(conn, row, now, sent=sent, error=result.detail)
            done.append((subscriber, result))
    finally:
        if connection is not None:
            connection.close()
    return done
