"""Double opt-in: the confirmation message a pending subscriber gets.

Confirmations are queued in the store by ``digest.subscriptions`` and sent here, by
``send_pending_confirmations``: the web app runs it in the background after answering
(so the answer takes the same time whoever subscribes), and the delivery tick or
``digest send`` may run it too. A message that cannot be built or sent is a recorded
failure of that one confirmation (retried, then given up), never a crash of the sender.
"""

from __future__ import annotations

import smtplib
from datetime import datetime

from digest.config import Settings
from digest.errors import DigestError
from digest.links import Links
from digest.message import MessageBuilder, Outgoing
from digest.render import Renderer
from digest.store import Store
from digest.store import confirmations as _confirmations
from digest.store.database import write_transaction
from digest.subscribers import Subscriber
from digest.text import one_line
from digest.tokens import Tokens
from digest.transport import Connection, Result, Transport

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
    confirm_url = links.confirm(tokens, subscriber.id, nonce)
    names = {t.slug: t.name for t in settings.topics}
    subject = f"Confirm your subscription to {settings.site.title}"
    context = {
        "subject": subject,
        "confirm_url": confirm_url,
        "email": subscriber.email,
        "frequency": subscriber.frequency,
        "topics": [names.get(slug, slug) for slug in subscriber.topics],
    }
    html = renderer.inliner.inline(renderer.render("email/confirm.html", **context))
    text = renderer.render("email/confirm.txt", **context)
    unsubscribe = links.reader(tokens, subscriber.id).unsubscribe
    return MessageBuilder(settings).build(
        to=subscriber.email,
        subject=subject,
        text=text,
        html=html,
        message_id=f"confirm.{subscriber.id}.{int(now.timestamp())}",
        date=now,
        list_slug="confirm",
        unsubscribe_url=unsubscribe,
    )


def send_pending_confirmations(
    settings: Settings,
    store: Store,
    transport: Transport,
    tokens: Tokens,
    now: datetime,
    renderer: Renderer | None = None,
) -> list[tuple[Subscriber, Result]]:
    """Send every queued confirmation; returns what became of each.

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
            if subscriber is None or subscriber.status != "pending":
                with write_transaction(store.engine) as conn:
                    _confirmations.queue_clear(conn, row.subscriber_id)
                continue
            try:
                message = confirmation_message(
                    settings, subscriber, tokens=tokens, nonce=row.nonce, now=now, renderer=renderer
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
