"""`digest test-email`: a sample edition through the configured transport, to check the
mail settings. Outside the ledger: nothing is recorded, no reader's edition is used up."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from digest.compose import compose
from digest.config import Settings
from digest.errors import InputError
from digest.links import Links
from digest.message import MessageBuilder, Outgoing
from digest.periods import current_period
from digest.render import Renderer
from digest.store import Store
from digest.subscribers import normalize_email
from digest.transport import Result, transport_for


@dataclass(frozen=True, slots=True)
class TestEmail:
    message: Outgoing
    topic: str
    picks: int
    result: Result


def sample_message(
    settings: Settings, store: Store, to: str, topic: str | None, now: datetime
) -> tuple[Outgoing, str, int]:
    """Today's edition of the topic (default: the first), addressed to ``to``, with the
    preview's links (no reader's token in them)."""
    if not settings.topics:
        raise InputError("no topics configured: add [[topics]] to the configuration file")
    chosen = settings.topic(topic) if topic else settings.topics[0]
    period = current_period(now, "daily", settings.site.timezone)
    composition = compose(settings, store, period, [chosen], min(now, period.end))
    [edition] = composition.editions()
    rendered = Renderer(settings).email(edition)
    links = Links(settings).preview()
    html, text = rendered.fill(links.unsubscribe, links.preferences)
    message = MessageBuilder(settings).build(
        to=normalize_email(to),
        subject=f"[test] {rendered.subject}",
        text=text,
        html=html,
        message_id=f"test.{period.key}.{chosen.slug}.{secrets.token_hex(6)}",
        date=now,
        list_slug=chosen.slug,
        unsubscribe_url=links.unsubscribe,
        unsubscribe_mailto=links.unsubscribe_mailto,
    )
    return message, chosen.slug, len(composition.rankings[0].picks)


def send_test_email(
    settings: Settings, store: Store, to: str, topic: str | None, now: datetime
) -> TestEmail:
    """Build and hand over one sample message; a relay that cannot be reached raises
    ``TransportUnavailable`` with what to check, a refused message is in the result."""
    message, slug, picks = sample_message(settings, store, to, topic, now)
    connection = transport_for(settings).connect()
    try:
        result = connection.send(message)
    finally:
        connection.close()
    return TestEmail(message, slug, picks, result)


def explain_refusal(result: Result, settings: Settings) -> str:
    """A refused test message, with the setting to check."""
    detail = result.detail or f"answer {result.code}"
    if detail.startswith("sender refused"):
        return f"{detail}: the server does not take mail from {settings.sender}; check [mail] from"
    if result.status == "bounced":
        return (
            f"the server refused the message for good ({detail}): check the address, and "
            "that the server relays mail for [mail] from to other domains"
        )
    return f"the server did not take the message now ({detail}): try again later"
