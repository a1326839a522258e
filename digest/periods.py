"""Periods: the day (``2026-11-27``) or ISO week (``2026-W48``) an edition covers.

A period is a half-open window ``[start, end)`` of local midnights in a time zone, so
a day is 23 or 25 hours long across a daylight-saving change and windows always tile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from digest.errors import InputError

_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEK_RE = re.compile(r"^(?P<year>\d{4})-W(?P<week>\d{2})$")


@dataclass(frozen=True, slots=True)
class Period:
    key: str
    kind: str  # "daily" or "weekly"
    first_day: date
    zone: str

    @property
    def days(self) -> int:
        return 7 if self.kind == "weekly" else 1

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=self.days - 1)

    @property
    def start(self) -> datetime:
        return local_midnight(self.first_day, self.zone)

    @property
    def end(self) -> datetime:
        return local_midnight(self.first_day + timedelta(days=self.days), self.zone)

    def previous(self) -> Period:
        return period_for(self.first_day - timedelta(days=1), self.kind, self.zone)

    def label(self) -> str:
        """For people: ``27 November 2026`` or ``week 48, 23–29 November 2026``."""
        if self.kind == "daily":
            return f"{self.first_day.day} {self.first_day:%B %Y}"
        last = self.last_day
        return f"week {self.first_day.isocalendar().week}, {_span(self.first_day, last)}"


def _span(first: date, last: date) -> str:
    if first.month == last.month:
        return f"{first.day}–{last.day} {last:%B %Y}"
    if first.year == last.year:
        return f"{first.day} {first:%B} – {last.day} {last:%B %Y}"
    return f"{first.day} {first:%B %Y} – {last.day} {last:%B %Y}"


def local_midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(zone))


def period_for(day: date, kind: str, zone: str) -> Period:
    if kind == "weekly":
        iso = day.isocalendar()
        monday = day - timedelta(days=iso.weekday - 1)
        return Period(f"{iso.year}-W{iso.week:02d}", "weekly", monday, zone)
    if kind == "daily":
        return Period(day.isoformat(), "daily", day, zone)
    raise InputError(f"unknown period kind {kind!r} (daily or weekly)")


def current_period(now: datetime, kind: str, zone: str) -> Period:
    return period_for(now.astimezone(ZoneInfo(zone)).date(), kind, zone)


def parse_period(key: str, zone: str) -> Period:
    """``2026-11-27`` (a day) or ``2026-W48`` (an ISO week)."""
    key = key.strip()
    if _DAY_RE.match(key):
        try:
            return period_for(date.fromisoformat(key), "daily", zone)
        except ValueError:
            pass
    match = _WEEK_RE.match(key)
    if match:
        try:
            monday = date.fromisocalendar(int(match["year"]), int(match["week"]), 1)
            return period_for(monday, "weekly", zone)
        except ValueError:
            pass
    raise InputError(f"period {key!r} is not a day (YYYY-MM-DD) or an ISO week (YYYY-Www)")
