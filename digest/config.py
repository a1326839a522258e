"""Settings: one TOML file, validated at load into one frozen object.

Every setting is declared once below, with its default. Layers, lowest first: the
defaults here, the file (``./digest.toml``, ``--config PATH`` or ``DIGEST_CONFIG``),
then environment variables for the few things that differ per machine
(``DIGEST_STORE_URL``). Secrets never live in the file: settings that need one name
the environment variable that holds it.

Relative paths in a file are relative to the directory of that file, so a cron job
started from anywhere reads the same store and writes the same site.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from email.utils import formataddr
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from digest import __version__
from digest.errors import ConfigError
from digest.resources import sample_dir

DEFAULT_CONFIG_NAME = "digest.toml"
SAMPLE_DIR = sample_dir()

SourceKind = Literal["arxiv-rss", "arxiv-api", "hf-daily", "feed", "listing", "arxiv-ids"]
SOURCE_KINDS: tuple[str, ...] = SourceKind.__args__  # type: ignore[attr-defined]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class StoreSettings(_Section):
    url: str = "sqlite:///digest.db"


class FetchSettings(_Section):
    timeout: float = Field(30.0, gt=0)
    retries: int = Field(3, ge=0, le=10)
    backoff: float = Field(2.0, ge=0)
    max_retry_after: float = Field(300.0, ge=0)
    arxiv_api_interval: float = Field(3.0, ge=0)
    user_agent: str = f"PaperDigest/{__version__} (+https://github.com/paper-digest)"


class SourceSettings(_Section):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)
    kind: SourceKind
    url: str | None = None
    path: str | None = None
    #: When to fetch: a crontab line ("5 * * * *", "30 0 * * mon-fri"), in schedule_timezone.
    schedule: str = "5 * * * *"
    schedule_timezone: str | None = None  # default: the site's time zone
    enabled: bool = True
    max_results: int = Field(2000, ge=1)
    page_size: int = Field(100, ge=1, le=2000)
    api_url: str = "https://export.arxiv.org/api/query"

    @field_validator("url", "api_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https", "file"):
            raise ValueError(f"must be an http(s):// or file:// URL, got {value!r}")
        return value

    @field_validator("schedule")
    @classmethod
    def _crontab(cls, value: str) -> str:
        cron_trigger(value, "UTC")
        return value

    @field_validator("schedule_timezone")
    @classmethod
    def _schedule_zone(cls, value: str | None) -> str | None:
        if value is not None:
            check_timezone(value)
        return value

    @model_validator(mode="after")
    def _one_location(self) -> SourceSettings:
        if (self.url is None) == (self.path is None):
            raise ValueError(f"source {self.name!r} needs exactly one of 'url' or 'path'")
        return self

    @property
    def location(self) -> str:
        return self.url or self.path or ""


class SiteSettings(_Section):
    title: str = "Paper Digest"
    description: str = "New research papers, picked for you."
    base_url: str = "http://localhost:8000"
    timezone: str = "UTC"
    language: str = "en"
    templates: str | None = None
    #: Where the archive, the feeds and previews are written.
    out_dir: str = "site"
    feed_items: int = Field(50, ge=1, le=1000)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an absolute http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        check_timezone(value)
        return value


class TopicSettings(_Section):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=40)
    name: str
    description: str = ""
    keywords: list[str] = []
    exclude: list[str] = []
    categories: list[str] = []
    authors: list[str] = []
    seed_papers: list[str] = []
    max_items: int = Field(5, ge=1, le=50)


class RankSettings(_Section):
    relevance_floor: float = Field(1.0, ge=0)
    include_replacements: bool = False
    diversity_threshold: float = Field(0.5, gt=0, le=1)
    freshness_days: float = Field(3.0, gt=0)


class SmtpSettings(_Section):
    host: str = "localhost"
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    #: The name of the environment variable holding the password (never the password).
    password_env: str = "DIGEST_SMTP_PASSWORD"
    connections: int = Field(2, ge=1, le=64)
    rate: float = Field(0.0, ge=0)  # messages per second over all connections; 0: no cap
    timeout: float = Field(30.0, gt=0)
    helo: str | None = None
    #: A CA bundle to trust for the server's certificate (default: the system's).
    ca_file: str | None = None


class DkimSettings(_Section):
    selector: str
    domain: str
    private_key_path: str


class MailSettings(_Section):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    #: The From address; default: "<site title> <digest@<site host>>".
    sender: str | None = Field(None, alias="from")
    reply_to: str | None = None
    transport: Literal["outbox", "smtp"] = "outbox"
    outbox_dir: str = "outbox"
    send_empty: bool = False
    #: The address of the List-Unsubscribe mailto; default: unsubscribe@<site host>.
    unsubscribe_address: str | None = None
    max_papers: int = Field(10, ge=1, le=100)
    #: Attempts per edition before it is given up as failed (4xx answers, dropped links).
    max_attempts: int = Field(5, ge=1, le=50)
    #: Pauses before retrying within a run, in seconds; later runs wait retry_after * 2^n.
    retry_delays: list[float] = [2.0, 10.0]
    retry_after: float = Field(300.0, ge=0)
    #: Bounces (5xx answers) after which a subscriber is no longer mailed.
    bounce_limit: int = Field(2, ge=1)
    #: A claimed edition whose sender vanished is sent again after this many seconds.
    claim_timeout: float = Field(900.0, gt=0)
    smtp: SmtpSettings = SmtpSettings()
    dkim: DkimSettings | None = None


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    #: Subscribe requests one client address may make per window (then 429).
    subscribe_limit: int = Field(5, ge=1)
    subscribe_window: float = Field(600.0, gt=0)
    #: Trust X-Forwarded-For from a reverse proxy for the client address.
    behind_proxy: bool = Field(
        False, description="Old spelling of trusted_proxies = 1 (one reverse proxy in front)."
    )
    trusted_proxies: int | list[str] = Field(
        0,
        description="Reverse proxies in front of the app whose X-Forwarded-For is trusted: "
        "a number of hops, or their addresses/networks; read from the right, so a client "
        "cannot choose the address the rate limit counts (0: none, use the peer address).",
    )

    @model_validator(mode="before")
    @classmethod
    def _old_behind_proxy(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("behind_proxy") is True:
            data = {"trusted_proxies": 1, **data}
        return data

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: int | list[str]) -> int | list[str]:
        if isinstance(value, int):
            if value < 0:
                raise ValueError("a number of proxy hops cannot be negative")
            return value
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value


class ScheduleSettings(_Section):
    #: Seconds between delivery ticks: each sends every edition that has come due.
    deliver_every: float = Field(300.0, gt=0)
    #: A run missed while the daemon was down is made up once if at most this late (s).
    misfire_grace: float = Field(6 * 3600.0, ge=1)
    #: A daemon that has not shown signs of life for this long loses its lock (s).
    lock_timeout: float = Field(120.0, ge=5)


class Settings(_Section):
    store: StoreSettings = StoreSettings()
    fetch: FetchSettings = FetchSettings()
    site: SiteSettings = SiteSettings()
    rank: RankSettings = RankSettings()
    mail: MailSettings = MailSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    web: WebSettings = WebSettings()
    sources: list[SourceSettings] = []
    topics: list[TopicSettings] = []
    #: The file these settings came from (None for the built-in sample settings).
    origin: str | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        for kind, names in (
            ("source name", [s.name for s in self.sources]),
            ("topic slug", [t.slug for t in self.topics]),
        ):
            seen: set[str] = set()
            for name in names:
                if name in seen:
                    raise ValueError(f"duplicate {kind} {name!r}")
                seen.add(name)
        return self

    @property
    def site_host(self) -> str:
        return urlsplit(self.site.base_url).hostname or "localhost"

    @property
    def unsubscribe_address(self) -> str:
        return self.mail.unsubscribe_address or f"unsubscribe@{self.site_host}"

    @property
    def sender(self) -> str:
        if self.mail.sender:
            return self.mail.sender
        return formataddr((self.site.title, f"digest@{self.site_host}"))

    def source(self, name: str) -> SourceSettings:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none configured"
        raise ConfigError(f"unknown source {name!r} (known: {known})")

    def topic(self, slug: str) -> TopicSettings:
        for topic in self.topics:
            if topic.slug == slug:
                return topic
        known = ", ".join(t.slug for t in self.topics) or "none configured"
        raise ConfigError(f"unknown topic {slug!r} (known: {known})")


_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def cron_trigger(line: str, timezone: str):  # type: ignore[no-untyped-def]
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


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] = os.environ
) -> Settings:
    """Read, validate and resolve the settings.

    ``path`` (from ``--config``) wins over ``DIGEST_CONFIG``; a path given either way must
    exist. With neither, ``./digest.toml`` is read if present, and otherwise the built-in
    sample settings are used, so a fresh checkout works offline.
    """
    explicit = path or environ.get("DIGEST_CONFIG")
    if explicit:
        file = Path(explicit)
        if not file.is_file():
            raise ConfigError(f"{file}: no such configuration file")
    else:
        file = Path(DEFAULT_CONFIG_NAME)
        if not file.is_file():
            return _apply_environment(sample_settings(), environ)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from exc
    settings = parse_settings(data, origin=str(file))
    return _apply_environment(resolve_paths(settings, file.parent), environ)


def parse_settings(data: dict[str, Any], origin: str = "<settings>") -> Settings:
    try:
        return Settings.model_validate({**data, "origin": origin})
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {describe_validation_error(exc, data)}") from exc


def describe_validation_error(exc: ValidationError, data: Mapping[str, Any]) -> str:
    """One line naming the first offending key, in TOML terms."""
    error = exc.errors()[0]
    loc = _dotted(error["loc"], data)
    kind = error["type"]
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return f"unknown key '{loc}'"
    if kind == "missing":
        return f"missing required key '{loc}'"
    got = error.get("input")
    if kind == "literal_error":
        return f"'{loc}' {message.lower()}, got {got!r}"
    where = f"'{loc}': " if loc else ""
    if kind == "value_error" or not isinstance(got, str | int | float | bool | list):
        return f"{where}{message}".replace("\n", " ")
    return f"{where}{message.lower()}, got {got!r} ({type(got).__name__})".replace("\n", " ")


def _dotted(loc: tuple[Any, ...], data: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1] += f"[{item}]"
        elif item in ("function-after", "function-before") or "[" in str(item):
            continue
        else:
            parts.append(str(item))
    return ".".join(parts)


def resolve_paths(settings: Settings, base: Path) -> Settings:
    """Make the file's relative paths relative to the file's directory."""

    def fix(path: str | None) -> str | None:
        if path is None or Path(path).is_absolute():
            return path
        return str((base / path).resolve())

    store_url = settings.store.url
    match = re.match(r"^(sqlite(?:\+\w+)?:///)(?!/)(.+)$", store_url)
    if match and match.group(2) != ":memory:":
        store_url = match.group(1) + str(fix(match.group(2)))
    return settings.model_copy(
        update={
            "store": settings.store.model_copy(update={"url": store_url}),
            "site": settings.site.model_copy(
                update={
                    "templates": fix(settings.site.templates),
                    "out_dir": fix(settings.site.out_dir),
                }
            ),
            "sources": [s.model_copy(update={"path": fix(s.path)}) for s in settings.sources],
            "mail": settings.mail.model_copy(
                update={
                    "outbox_dir": fix(settings.mail.outbox_dir),
                    "dkim": settings.mail.dkim.model_copy(
                        update={"private_key_path": fix(settings.mail.dkim.private_key_path)}
                    )
                    if settings.mail.dkim
                    else None,
                }
            ),
        }
    )


def _apply_environment(settings: Settings, environ: Mapping[str, str]) -> Settings:
    url = environ.get("DIGEST_STORE_URL")
    if url:
        settings = settings.model_copy(
            update={"store": settings.store.model_copy(update={"url": url})}
        )
    return settings


def sample_settings() -> Settings:
    """The built-in settings: the shipped sample listing, three topics, a local store."""
    return Settings(
        sources=[
            SourceSettings(
                name="arxiv-sample", kind="arxiv-rss", path=str(SAMPLE_DIR / "arxiv-listing.xml")
            ),
            SourceSettings(
                name="hf-sample", kind="hf-daily", path=str(SAMPLE_DIR / "hf-daily.json")
            ),
        ],
        topics=[
            TopicSettings(
                slug="rl",
                name="Reinforcement learning",
                keywords=[
                    "reinforcement learning",
                    "policy optimization",
                    "reward model",
                    "offline RL",
                    "RLHF",
                ],
                exclude=["survey"],
                categories=["cs.LG", "cs.AI"],
            ),
            TopicSettings(
                slug="nlp",
                name="Language models",
                keywords=[
                    "language model",
                    "LLM",
                    "retrieval-augmented generation",
                    "instruction tuning",
                    "benchmark",
                ],
                categories=["cs.CL"],
            ),
            TopicSettings(
                slug="vision",
                name="Computer vision",
                keywords=["diffusion", "segmentation", "3D", "image", "video"],
                categories=["cs.CV"],
            ),
        ],
        origin=None,
    )


STARTER_CONFIG = """\
# Paper Digest configuration. Every key below is optional unless marked required;
# the value shown is the default. Relative paths are relative to this file.
# Secrets (SMTP password, signing key) come from environment variables, never from here.

[store]
# Any SQLAlchemy URL: SQLite by default, e.g. "postgresql+psycopg://user@host/digest".
url = "sqlite:///digest.db"

[fetch]
timeout = 30.0              # seconds per HTTP request
retries = 3                 # retries on connection errors, 5xx and 429 (Retry-After honoured)
backoff = 2.0               # first retry delay in seconds, doubled each time
arxiv_api_interval = 3.0    # seconds between arXiv API requests (arXiv's terms: at least 3)

[site]
title = "Paper Digest"
base_url = "https://papers.example.org"   # every link in emails and feeds is absolute
timezone = "UTC"                          # IANA name; decides where a day starts
# templates = "my-templates"              # a folder whose templates override the built-in ones

# One [[sources]] table per listing. kind is one of:
#   arxiv-rss  rss.arxiv.org listing feeds (RSS 2.0, Atom, or the older RSS 1.0)
#   arxiv-api  an arXiv API query URL, paged politely; max_results caps it
#   hf-daily   Hugging Face Daily Papers JSON (https://huggingface.co/api/daily_papers)
#   feed       any RSS or Atom feed (journals, bioRxiv, blogs)
#   listing    a pasted listing page as plain text: title line, then abstract paragraph
#   arxiv-ids  a file of arXiv ids or abs/pdf URLs, one per line, looked up through the API
# Give either url (http, https or file) or path.

[[sources]]
name = "arxiv-cs-lg"        # required, unique
kind = "arxiv-rss"          # required
url = "https://rss.arxiv.org/rss/cs.LG+cs.CL"
schedule = "30 0 * * *"     # crontab line for `digest schedule` (default "5 * * * *"):
schedule_timezone = "America/New_York"   # here just after arXiv rebuilds its feeds

[[sources]]
name = "hf-daily"
kind = "hf-daily"
url = "https://huggingface.co/api/daily_papers"

# [[sources]]
# name = "arxiv-search"
# kind = "arxiv-api"
# url = "https://export.arxiv.org/api/query?search_query=cat:cs.LG&sortBy=submittedDate&sortOrder=descending"
# max_results = 200

# [[sources]]
# name = "editor-picks"
# kind = "arxiv-ids"
# path = "picks.txt"

[[topics]]
slug = "rl"                                  # required: used in URLs and feed names
name = "Reinforcement learning"              # required
keywords = ["reinforcement learning", "policy optimization", "reward model"]
exclude = ["survey"]                         # a paper containing one of these is never picked
categories = ["cs.LG", "cs.AI"]              # arXiv categories that count in favour
authors = []                                 # followed authors
seed_papers = []                             # arXiv ids of papers this topic should resemble
max_items = 5
"""
