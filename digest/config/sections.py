"""Every setting, declared once: its type, default, bounds and the help text the starter
file and the README show (``digest.config.starter`` renders them)."""

from __future__ import annotations

import contextlib
import ipaddress
from email.utils import formataddr
from typing import Any, Literal
from urllib.parse import urlsplit

import idna
from pydantic import Field, field_validator, model_validator

from digest import __version__
from digest.config.checks import (
    DAY,
    HOUR,
    Section,
    check_address,
    check_timezone,
    cron_trigger,
    local_host,
)
from digest.config.log import LogSettings
from digest.config.mail import MailSettings
from digest.errors import ConfigError
from digest.limits import DEFAULT_MAX_BYTES
from digest.sources import SOURCE_KINDS


def _mail_login(login: str) -> bool:
    """An SMTP login that is a mail address on a real domain (many relays want it as From)."""
    try:
        check_address(login)
    except ValueError:
        return False
    return "@" in login and not local_host(login.rpartition("@")[2])


class StoreSettings(Section):
    """Where papers, subscribers and the delivery ledger live."""

    url: str = Field(
        default="sqlite:///digest.db",
        description='Any SQLAlchemy URL: SQLite by default, or "postgresql+psycopg://user@host/db".',
    )


class FetchSettings(Section):
    """How sources are downloaded."""

    timeout: float = Field(
        default=30.0, gt=0, le=HOUR, description="Seconds to wait for the network."
    )
    deadline: float = Field(
        default=120.0,
        gt=0,
        le=DAY,
        description="Seconds one request may take in all (a server that dribbles is cut off).",
    )
    max_bytes: int = Field(
        default=DEFAULT_MAX_BYTES,
        ge=1000,
        le=10_000_000_000,
        description="Bytes one source may download, and inflate to if compressed.",
    )
    retries: int = Field(
        default=3,
        ge=0,
        le=10,
        description="Retries on connection errors, 5xx and 429 (Retry-After).",
    )
    backoff: float = Field(
        default=2.0, ge=0, le=HOUR, description="First retry delay in seconds, doubled each time."
    )
    max_retry_after: float = Field(
        default=300.0,
        ge=0,
        le=DAY,
        description="The longest Retry-After (s) a server may ask for.",
    )
    arxiv_api_interval: float = Field(
        default=3.0,
        ge=0,
        le=HOUR,
        description="Seconds between arXiv API requests (arXiv's terms: at least 3).",
    )
    user_agent: str = Field(
        default=f"PaperDigest/{__version__} (+https://github.com/paper-digest)",
        min_length=1,
        description="The User-Agent header of every request.",
    )


class SourceSettings(Section):
    """One listing to fetch."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        max_length=64,
        description="Required, unique: how commands and reports name this source.",
    )
    kind: str = Field(description="Required: one of the kinds listed above.")
    url: str | None = Field(
        default=None,
        description="An http(s):// or file:// URL; give either url or path.",
        examples=["https://rss.arxiv.org/rss/cs.LG"],
    )
    path: str | None = Field(
        default=None,
        description="A file on this machine, instead of url.",
        examples=["picks.txt"],
    )
    schedule: str = Field(
        default="5 * * * *", description="When `digest schedule` fetches it: a crontab line."
    )
    schedule_timezone: str | None = Field(
        default=None,
        description="The time zone of schedule (default: the site's).",
        examples=["America/New_York"],
    )
    enabled: bool = Field(
        default=True, description="false: fetched only when named on the command line."
    )
    max_results: int = Field(
        default=2000, ge=1, le=100_000, description="arxiv-api: stop after this many papers."
    )
    page_size: int = Field(default=100, ge=1, le=2000, description="arxiv-api: papers per request.")
    api_url: str = Field(
        default="https://export.arxiv.org/api/query",
        description="arxiv-ids: where the ids are looked up; listing: where titles are.",
    )
    resolve_titles: bool = Field(
        default=True,
        description="listing: look up each paper without a link in the arXiv API by its title"
        " (one request per paper, at [fetch] arxiv_api_interval).",
    )

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in SOURCE_KINDS:
            raise ValueError(f"unknown kind {value!r} (one of: {', '.join(SOURCE_KINDS)})")
        return value

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


class SiteSettings(Section):
    """The published site: archive, feeds, and the links in every email."""

    title: str = Field(default="Paper Digest", description="The name readers see.")
    description: str = Field(
        default="New research papers, picked for you.", description="One line under the title."
    )
    base_url: str = Field(
        default="http://localhost:8000",
        description="Where the site is served; every link in emails and feeds starts here.",
    )
    timezone: str = Field(default="UTC", description="IANA name; decides where a day starts.")
    language: str = Field(default="en", description="The language of the pages and feeds.")
    templates: str | None = Field(
        default=None,
        description="A folder whose templates override the built-in ones.",
        examples=["my-templates"],
    )
    out_dir: str = Field(
        default="site", description="Where the archive, the feeds and the previews are written."
    )
    feed_items: int = Field(default=50, ge=1, le=1000, description="Picks per topic feed.")

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


class TopicSettings(Section):
    """One topic readers can follow; with no keywords, seeds or authors, a trending one."""

    slug: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        max_length=40,
        description="Required: used in URLs and feed names.",
    )
    name: str = Field(description="Required: the topic's title.")
    description: str = Field(default="", description="A line about the topic.")
    keywords: list[str] = Field(
        default=[], description="Words or phrases that make a paper relevant."
    )
    exclude: list[str] = Field(
        default=[], description="A paper containing one of these is never picked."
    )
    categories: list[str] = Field(default=[], description="arXiv categories that count in favour.")
    authors: list[str] = Field(
        default=[], description='Followed authors ("Jane Doe" also matches "J. Doe").'
    )
    seed_papers: list[str] = Field(
        default=[], description="arXiv ids of papers this topic resembles."
    )
    max_items: int = Field(default=5, ge=1, le=50, description="Picks per edition.")


class RankSettings(Section):
    """How highlights are picked."""

    relevance_floor: float = Field(
        default=1.0, ge=0, le=1e6, description="Below this a paper is not a highlight, however few."
    )
    include_replacements: bool = Field(
        default=False, description="Whether revised versions of older papers can be highlights."
    )
    diversity_threshold: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Picks this similar (tf-idf cosine) are near-duplicates.",
    )
    freshness_days: float = Field(
        default=3.0, gt=0, le=3650, description="How fast a paper's freshness fades, in days."
    )
    popularity_floor: float = Field(
        1.0, ge=0, le=1e6, description="A trending topic's floor (damped upvotes; 1: two)."
    )
    semantic: bool = Field(True, description="Rank by meaning too, with the semantic extra.")


class WebSettings(Section):
    """`digest serve`."""

    host: str = Field(default="127.0.0.1", description="The address to listen on.")
    port: int = Field(default=8000, ge=1, le=65535, description="The port to listen on.")
    subscribe_limit: int = Field(
        default=5, ge=1, le=100_000, description="Subscribe requests per client address per window."
    )
    subscribe_window: float = Field(
        default=600.0, gt=0, le=DAY, description="The rate limit's window, in seconds."
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description='Where the rate limit counts: "memory://" (one process) or a shared '
        'store such as "redis://127.0.0.1:6379" (needed for `digest serve --workers N`).',
    )
    behind_proxy: bool = Field(
        default=False,
        description="Old spelling of trusted_proxies = 1 (one reverse proxy in front).",
    )
    trusted_proxies: int | list[str] = Field(
        default=0,
        description="Reverse proxies in front of the app whose X-Forwarded-For is trusted: "
        "a number of hops, or their addresses/networks; read from the right, so a client "
        "cannot choose the address the rate limit counts (0: none, use the peer address).",
    )

    @field_validator("rate_limit_storage")
    @classmethod
    def _storage(cls, value: str) -> str:
        from limits.storage import SCHEMES

        scheme = value.partition("://")[0]
        if "://" not in value or scheme not in SCHEMES:
            known = ", ".join(f"{s}://" for s in sorted(SCHEMES))
            raise ValueError(f"{value!r} is not a storage URI the limits library knows ({known})")
        return value

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


class DeliverSettings(Section):
    """Where `digest send` and the daemon's delivery tick send from."""

    mode: Literal["inline", "queue"] = Field(
        default="inline",
        description="inline (the sending command sends) | queue (shards of due readers go to "
        "`digest worker` processes; PostgreSQL only).",
    )
    shard_size: int = Field(
        default=5000, ge=1, le=1_000_000, description="Subscribers per send job in queue mode."
    )


class ScheduleSettings(Section):
    """`digest schedule`, the daemon."""

    deliver_every: float = Field(
        default=300.0, gt=0, le=DAY, description="Seconds between delivery ticks."
    )
    misfire_grace: float = Field(
        default=6 * HOUR,
        ge=1,
        le=30 * DAY,
        description="A run missed while the daemon was down is made up if at most this late (s).",
    )
    lock_timeout: float = Field(
        default=120.0, ge=5, le=DAY, description="A daemon silent this long (s) loses its lock."
    )


class Settings(Section):
    store: StoreSettings = StoreSettings()
    fetch: FetchSettings = FetchSettings()
    site: SiteSettings = SiteSettings()
    rank: RankSettings = RankSettings()
    mail: MailSettings = MailSettings()
    deliver: DeliverSettings = DeliverSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    web: WebSettings = WebSettings()
    log: LogSettings = LogSettings()
    sources: list[SourceSettings] = []
    topics: list[TopicSettings] = []
    #: The file these settings came from (None for the built-in sample settings).
    origin: str | None = Field(default=None, exclude=True)

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
        """The site's host as mail carries it: an internationalized name IDNA-encoded."""
        host = urlsplit(self.site.base_url).hostname or "localhost"
        if not host.isascii():
            # a name idna refuses stays as written (links use base_url itself)
            with contextlib.suppress(idna.IDNAError):
                host = idna.encode(host, uts46=True).decode("ascii")
        return host

    @property
    def unsubscribe_address(self) -> str:
        return self.mail.unsubscribe_address or f"unsubscribe@{self.site_host}"

    @property
    def sender(self) -> str:
        """[mail] from; else digest@ the site's host; for a site on localhost or an IP
        address (no mail domain), the SMTP login if it is an address, else digest@localhost
        (`digest status` reports both as a problem)."""
        if self.mail.sender:
            return self.mail.sender
        if not local_host(self.site_host):
            return formataddr((self.site.title, f"digest@{self.site_host}"))
        login = self.mail.smtp.username or ""
        if self.mail.transport == "smtp" and _mail_login(login):
            return formataddr((self.site.title, login))
        return formataddr((self.site.title, "digest@localhost"))

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
