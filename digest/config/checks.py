"""What every section shares: the base model, and the checks its validators make
(crontab lines, time zones, mail addresses)."""

from __future__ import annotations

import ipaddress
import re
from email.utils import getaddresses, parseaddr
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict

HOUR = 3600.0
DAY = 24 * HOUR


class Section(BaseModel):
    # allow_inf_nan=False: "inf" and "nan" are never a sensible timeout, rate or weight.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def cron_trigger(line: str, timezone: str) -> Any:
    """An APScheduler trigger for a crontab line; weekday numbers as cron means them
    (0 and 7 are Sunday), which APScheduler's own parser would read differently."""
    from apscheduler.triggers.cron import CronTrigger

    fields = line.split()
    if len(fields) != 5:
        raise ValueError(f"{line!r} is not a crontab line (minute hour day month weekday)")
    fields[4] = re.sub(r"(?<![/\d])\d(?!\d)", lambda m: _DAYS[int(m.group(0)) % 8], fields[4])
    minute, hour, day, month, weekday = fields
    try:
        return CronTrigger(
            minute=minute, hour=hour, day=day, month=month, day_of_week=weekday, timezone=timezone
        )
    except ValueError as exc:
        raise ValueError(f"{line!r} is not a valid schedule: {exc}") from None


def check_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        message = f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
        raise ValueError(message) from None


def check_address(value: str | None, *, named: bool = False) -> str | None:
    """A mail address (``named``: optionally with a display name, "Name <a@b.org>"), checked
    for form only: no DNS lookup."""
    if value is None:
        return None
    address = value
    if named:
        _, address = parseaddr(value)
        if not address or "\n" in value or "\r" in value or len(getaddresses([value])) != 1:
            raise ValueError(f'not a mail address or "Name <address>", got {value!r}')
    try:
        found = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid mail address ({exc}), got {value!r}") from None
    if found.ascii_email is None:
        raise ValueError(
            f"the part before the @ must be ASCII here (servers without SMTPUTF8 refuse it), "
            f"got {value!r}"
        )
    if address.isascii():
        return value
    # an internationalized domain goes into messages IDNA-encoded, as mail servers take it
    local, _, _ = address.rpartition("@")
    return value.replace(address, f"{local}@{found.ascii_domain}")


def local_host(host: str) -> bool:
    """localhost, or an IP address: no domain a mail server out there can check."""
    name = host.lower().strip("[]")
    if name in ("localhost", "localhost.localdomain") or name.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(name.removeprefix("ipv6:"))
    except ValueError:
        return False
    return True
