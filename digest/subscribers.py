"""Subscribers: who gets which topics, how often, at what local hour.

Input is validated here, once, for every way in (the CLI, CSV imports, the web forms):
the address with email-validator (and normalized, so ``Ada@Example.org`` is one
subscriber), topics against the configuration, the IANA time zone, the hour.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email

from digest.config import Settings, check_timezone
from digest.errors import InputError

STATUSES = ("pending", "active", "unsubscribed", "bounced")
FREQUENCIES = ("daily", "weekly")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CSV_COLUMNS = ("email", "topics", "frequency", "timezone", "hour")


@dataclass(frozen=True, slots=True)
class Subscription:
    """What a subscriber asked for, validated."""

    email: str
    topics: tuple[str, ...]
    frequency: str = "daily"
    weekday: int | None = None
    timezone: str = "UTC"
    hour: int = 8
    max_papers: int | None = None


@dataclass(frozen=True, slots=True)
class Subscriber:
    id: int
    email: str
    status: str
    topics: tuple[str, ...]
    frequency: str
    weekday: int | None
    timezone: str
    hour: int
    max_papers: int | None
    created_at: datetime
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    confirmation_sent_at: datetime | None = None
    bounces: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "status": self.status,
            "topics": list(self.topics),
            "frequency": self.frequency,
            "weekday": WEEKDAYS[self.weekday] if self.weekday is not None else None,
            "timezone": self.timezone,
            "hour": self.hour,
            "max_papers": self.max_papers,
            "created_at": self.created_at.isoformat(),
            "confirmed_at": self.confirmed_at.isoformat() if self.confirmed_at else None,
            "bounces": self.bounces,
        }


@dataclass(frozen=True, slots=True)
class Recipient:
    """What delivery needs of an active subscriber (loaded by the hundred thousand)."""

    id: int
    email: str
    topics: tuple[str, ...]
    frequency: str
    weekday: int | None
    timezone: str
    hour: int
    max_papers: int | None


def normalize_email(value: str) -> str:
    """The address as stored: validated, normalized, in lower case (one subscriber per
    mailbox, however its owner capitalizes it)."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InputError(f"invalid email address {value!r}: {exc}") from None


def parse_topics(settings: Settings, value: str | Iterable[str]) -> tuple[str, ...]:
    raw = value.replace(";", ",").replace(" ", ",").split(",") if isinstance(value, str) else value
    slugs = tuple(dict.fromkeys(s.strip() for s in raw if s and s.strip()))
    if not slugs:
        raise InputError(
            "no topics given (choose from: "
            f"{', '.join(t.slug for t in settings.topics) or 'none configured'})"
        )
    known = {t.slug for t in settings.topics}
    for slug in slugs:
        if slug not in known:
            raise InputError(
                f"unknown topic {slug!r} (known: {', '.join(sorted(known)) or 'none'})"
            )
    return slugs


def parse_weekday(value: str | int | None) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and 0 <= value <= 6:
        return value
    text = str(value).strip().lower()[:3]
    if text in WEEKDAYS:
        return WEEKDAYS.index(text)
    raise InputError(f"unknown weekday {value!r} (use mon, tue, wed, thu, fri, sat or sun)")


def parse_hour(value: str | int) -> int:
    try:
        hour = int(value)
    except (TypeError, ValueError):
        raise InputError(f"hour {value!r} is not a whole number from 0 to 23") from None
    if not 0 <= hour <= 23:
        raise InputError(f"hour {hour} is outside 0-23")
    return hour


def subscription(
    settings: Settings,
    *,
    email: str,
    topics: str | Iterable[str],
    frequency: str = "daily",
    weekday: str | int | None = None,
    timezone: str = "UTC",
    hour: str | int = 8,
    max_papers: int | None = None,
) -> Subscription:
    """A validated subscription, or an ``InputError`` naming the bad value."""
    frequency = (frequency or "daily").strip().lower()
    if frequency not in FREQUENCIES:
        raise InputError(f"unknown frequency {frequency!r} (daily or weekly)")
    day = parse_weekday(weekday)
    if frequency == "weekly" and day is None:
        day = 0
    if frequency == "daily":
        day = None
    zone = (timezone or "UTC").strip()
    try:
        check_timezone(zone)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if max_papers is not None and not 1 <= max_papers <= 100:
        raise InputError(f"max papers {max_papers} is outside 1-100")
    return Subscription(
        normalize_email(email),
        parse_topics(settings, topics),
        frequency,
        day,
        zone,
        parse_hour(hour),
        max_papers,
    )


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int
    subscription: Subscription | None
    error: str | None
    #: Why the row is left out without being an error (unsubscribed in another tool).
    left_out: str | None = None
    #: When the subscriber signed up, if the file says (another tool's export).
    created: datetime | None = None


#: Other tools' column names (Buttondown, Substack, listmonk, Mailchimp) for ours.
CSV_ALIASES = {
    "email_address": "email",
    "e_mail": "email",
    "subscriber_email": "email",
    "subscribed": "status",
    "subscriber_type": "status",
    "subscription_type": "status",
    "state": "status",
    "created_at": "created",
    "creation_date": "created",
    "subscription_date": "created",
    "subscribed_at": "created",
    "date_subscribed": "created",
    "optin_time": "created",
}
#: Status values of other tools that mean "mail them", and those that mean "do not".
SUBSCRIBED_VALUES = frozenset(
    "active enabled subscribed confirmed regular premium paid free founding gift comp "
    "trialing true yes 1".split()
)
NOT_SUBSCRIBED_VALUES = frozenset(
    "unsubscribed disabled blocklisted blocked bounced cleaned removed complained spammy "
    "unactivated unconfirmed pending false no 0".split()
)


def _column(name: str) -> str:
    key = "_".join(name.strip().lower().replace("-", " ").split())
    return CSV_ALIASES.get(key, key)


def read_csv(
    settings: Settings, text: str, default_topics: str | Iterable[str] | None = None
) -> Iterator[CsvRow]:
    """Rows of a subscriber CSV (header: email,topics,frequency,timezone,hour[,weekday,
    max_papers]); each row is valid or carries the error that names its problem.

    Other tools' exports (Buttondown, Substack, listmonk) are read too: their address,
    status (or subscribed) and created columns are understood, and without a topics column
    every subscriber gets ``default_topics``. A row whose status says the person is not
    subscribed (unsubscribed, blocklisted, unconfirmed) is left out, not an error.

    A line the CSV reader cannot read (a field over its 131,072-character limit, a stray
    quote) is such an error too, and reading goes on at the next line.
    """
    defaults = parse_topics(settings, default_topics) if default_topics is not None else None
    reader = csv.reader(io.StringIO(text))
    try:
        header = [_column(h) for h in next(reader, [])]
    except csv.Error as exc:
        raise InputError(f"the CSV header line is not readable: {_csv_problem(exc)}") from None
    if "email" not in header:
        raise InputError(
            f"the CSV has no email column (expected the header {','.join(CSV_COLUMNS)})"
        )
    if "topics" not in header and defaults is None:
        raise InputError(
            "the CSV has no topics column: give the topics of its subscribers with "
            "--topics (e.g. --topics "
            f"{','.join(t.slug for t in settings.topics[:2]) or 'rl,nlp'})"
        )
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield CsvRow(reader.line_num, None, _csv_problem(exc))
            continue
        if cells:
            row = dict(zip(header, cells, strict=False))
            yield _csv_row(settings, reader.line_num, row, defaults)


def _csv_row(
    settings: Settings, line: int, row: dict[str, str], defaults: tuple[str, ...] | None
) -> CsvRow:
    values = {k: v.strip() for k, v in row.items() if k}
    status = values.get("status", "").lower()
    if status in NOT_SUBSCRIBED_VALUES:
        reason = f"{_clip(values.get('email', ''), 100)} is {status!r} in the file"
        return CsvRow(line, None, None, left_out=reason)
    if status and status not in SUBSCRIBED_VALUES:
        return CsvRow(line, None, _clip(f"unknown status {status!r}"))
    try:
        max_papers = values.get("max_papers")
        return CsvRow(
            line,
            subscription(
                settings,
                email=values.get("email", ""),
                topics=values.get("topics") or defaults or "",
                frequency=values.get("frequency") or "daily",
                weekday=values.get("weekday") or None,
                timezone=values.get("timezone") or "UTC",
                hour=values.get("hour") or 8,
                max_papers=int(max_papers) if max_papers else None,
            ),
            None,
            created=_created(values.get("created")),
        )
    except (InputError, ValueError) as exc:
        return CsvRow(line, None, _clip(str(exc)))


def _created(value: str | None) -> datetime | None:
    """An export's sign-up time (ISO 8601, as these tools write it); None if unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" UTC", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _csv_problem(exc: csv.Error) -> str:
    if "field limit" in str(exc):
        return f"a field is longer than {csv.field_size_limit():,} characters"
    return f"not readable as CSV ({exc})"


def _clip(message: str, limit: int = 300) -> str:
    """A message that quotes input, cut to a length a terminal line can show."""
    return message if len(message) <= limit else message[: limit - 1] + "…"


def write_csv(subscribers: Iterable[Subscriber]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, "weekday", "max_papers", "status"])
    for s in subscribers:
        writer.writerow(
            [
                s.email,
                ",".join(s.topics),
                s.frequency,
                s.timezone,
                s.hour,
                WEEKDAYS[s.weekday] if s.weekday is not None else "",
                s.max_papers or "",
                s.status,
            ]
        )
    return out.getvalue()
