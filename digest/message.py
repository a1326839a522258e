"""MIME messages for editions: multipart/alternative, text first and HTML last (RFC 2046:
the last part is the preferred one), with the list headers mail clients look for."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from digest.config import Settings
from digest.text import one_line


def list_id(settings: Settings, slug: str) -> str:
    name = one_line(f"{settings.site.title}: {slug}", 80).replace("<", "").replace(">", "")
    return f"{name} <{slug.replace('+', '.')}.{settings.site_host}>"


def build_message(
    settings: Settings,
    *,
    subject: str,
    text: str,
    html: str,
    to: str,
    message_id: str,
    date: datetime,
    list_slug: str,
    unsubscribe_url: str,
    unsubscribe_mailto: str | None = None,
) -> EmailMessage:
    """A complete message; every header value is flattened to one line first."""
    message = EmailMessage(policy=SMTP)
    message["From"] = one_line(settings.sender)
    message["To"] = one_line(to)
    if settings.mail.reply_to:
        message["Reply-To"] = one_line(settings.mail.reply_to)
    message["Subject"] = one_line(subject, 200)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = f"<{one_line(message_id)}@{settings.site_host}>"
    message["List-Id"] = list_id(settings, list_slug)
    targets = [f"<{one_line(unsubscribe_url)}>"]
    if unsubscribe_mailto:
        targets.append(f"<{one_line(unsubscribe_mailto)}>")
    message["List-Unsubscribe"] = ", ".join(targets)
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # quoted-printable: 7-bit clean for any relay, and stable under DKIM signing
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message
