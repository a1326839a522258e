"""Double opt-in: the confirmation message a pending subscriber gets."""

from __future__ import annotations

from datetime import datetime

from digest.config import Settings
from digest.links import Links
from digest.message import MessageBuilder
from digest.render import Renderer
from digest.store import Store
from digest.subscribers import Subscriber
from digest.tokens import Tokens
from digest.transport import Result, Transport


def send_confirmation(
    settings: Settings,
    store: Store,
    subscriber: Subscriber,
    *,
    tokens: Tokens,
    transport: Transport,
    now: datetime,
    renderer: Renderer | None = None,
) -> Result:
    renderer = renderer or Renderer(settings)
    links = Links(settings)
    confirm_url = links.confirm(tokens, subscriber.id)
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
    message = MessageBuilder(settings).build(
        to=subscriber.email,
        subject=subject,
        text=text,
        html=html,
        message_id=f"confirm.{subscriber.id}.{int(now.timestamp())}",
        date=now,
        list_slug="confirm",
        unsubscribe_url=unsubscribe,
    )
    connection = transport.connect()
    try:
        result = connection.send(message)
    finally:
        connection.close()
    if result.status == "sent":
        store.update_subscriber(subscriber.id, confirmation_sent_at=now)
    return result
