"""Bounces that arrive after the SMTP session: delivery status notifications (RFC 3464
``multipart/report`` and the many non-standard forms) read from a Maildir or an mbox.

flufl.bounce (Mailman's detector) finds the recipients that failed for good; each is
matched to the edition it bounced through the original Message-ID the notification
quotes, and counted exactly as a 5xx answer during the session is: the ledger row
becomes ``bounced`` and the address's bounce count grows (at ``[mail] bounce_limit`` the
subscriber is no longer mailed). A notification counted once is not counted again when
the same mailbox is read a second time: its ledger row is ``bounced`` already.
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from pathlib import Path

import sqlalchemy as sa
from flufl.bounce import all_failures

from digest.config import Settings
from digest.errors import InputError
from digest.store import Store
from digest.store import ledger as _ledger
from digest.store import subscribers as _subscribers
from digest.store.database import write_transaction
from digest.store.schema import deliveries
from digest.text import one_line

_MESSAGE_ID = re.compile(r"^Message-ID:\s*<([^<>@\s]+)@[^<>\s]+>", re.IGNORECASE | re.MULTILINE)


@dataclass(slots=True)
class BounceReport:
    """What reading one mailbox found."""

    messages: int = 0
    counted: int = 0
    already: int = 0
    now_bounced: list[str] = field(default_factory=list)
    delays: int = 0
    #: One line per failure that could not be counted (unknown address, no edition).
    unmatched: list[str] = field(default_factory=list)
    not_bounces: int = 0

    def summary(self) -> str:
        line = (
            f"{self.messages} messages: {self.counted} bounces counted, {self.already} counted "
            f"before, {len(self.unmatched)} not matched, {self.delays} delays ignored, "
            f"{self.not_bounces} not bounces"
        )
        if self.now_bounced:
            line += f"; no longer mailed: {', '.join(self.now_bounced)}"
        return line


def read_mailbox(path: Path) -> Iterator[tuple[str, Message]]:
    """The messages of a Maildir (a folder with cur/ and new/) or an mbox file."""
    box: mailbox.Mailbox
    if path.is_dir():
        if not (path / "cur").is_dir() and not (path / "new").is_dir():
            raise InputError(f"{path} is a folder but not a Maildir (no cur/ or new/ in it)")
        box = mailbox.Maildir(path, factory=None, create=False)
    elif path.is_file():
        box = mailbox.mbox(path, create=False)
    else:
        raise InputError(f"{path}: no such Maildir or mbox")
    box.lock()
    try:
        for key in sorted(box.keys()):
            yield key, box.get_message(key)
    finally:
        box.unlock()
        box.close()


def original_message_id(report: Message) -> str | None:
    """Our Message-ID (its local part, as the ledger keeps it) quoted by a bounce: in its
    returned headers or message, or in its In-Reply-To / References."""
    for part in report.walk():
        if part.get_content_type() in ("text/rfc822-headers", "message/rfc822"):
            payload = part.get_payload()
            if isinstance(payload, list):  # message/rfc822: the returned message
                found = payload[0].get("Message-ID") if isinstance(payload[0], Message) else None
                match = re.match(r"\s*<([^<>@\s]+)@", str(found or ""))
            else:
                text = part.get_payload(decode=True)
                raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(payload)
                match = _MESSAGE_ID.search(raw)
            if match:
                return match.group(1)
    for header in ("In-Reply-To", "References"):
        match = re.search(r"<([^<>@\s]+)@", str(report.get(header, "")))
        if match:
            return match.group(1)
    return None


def import_bounces(settings: Settings, store: Store, path: Path, now: datetime) -> BounceReport:
    """Count every permanent failure reported in the mailbox at ``path``."""
    report = BounceReport()
    for key, message in read_mailbox(path):
        report.messages += 1
        temporary, permanent = all_failures(message)
        if not permanent:
            report.delays += bool(temporary)
            report.not_bounces += not temporary
            continue
        message_id = original_message_id(message)
        for raw in sorted(permanent):
            address = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            outcome = _count(settings, store, address.strip().lower(), message_id, now)
            if outcome == "counted":
                report.counted += 1
            elif outcome == "already":
                report.already += 1
            elif outcome == "bounced":
                report.counted += 1
                report.now_bounced.append(address)
            else:
                report.unmatched.append(f"{path.name} {key}: {one_line(address, 200)}: {outcome}")
    return report


def _count(
    settings: Settings, store: Store, address: str, message_id: str | None, now: datetime
) -> str:
    with write_transaction(store.engine) as conn:
        subscriber = _subscribers.find(conn, address)
        if subscriber is None:
            return "not a subscriber"
        if message_id is None:
            return "the report quotes no Message-ID, so no edition can be matched (not counted)"
        row = (
            conn.execute(
                sa.select(deliveries.c.period, deliveries.c.status).where(
                    deliveries.c.subscriber_id == subscriber.id,
                    deliveries.c.message_id == message_id,
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return f"no edition of ours has the Message-ID it quotes ({one_line(message_id, 80)})"
        if row["status"] == "bounced":
            return "already"
        _ledger.settle(
            conn,
            _ledger.Outcome(
                subscriber.id,
                row["period"],
                "bounced",
                now,
                error="bounced later (a delivery status notification)",
                bounce_limit=settings.mail.bounce_limit,
            ),
        )
        status = _subscribers.get(conn, subscriber.id).status
        return "bounced" if status == "bounced" and subscriber.status != "bounced" else "counted"
