"""The ``[mail]`` section: how editions are mailed, the SMTP relay and DKIM signing."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from digest.config.checks import DAY, HOUR, Section, check_address

#: A ledger row younger than this may still decide a current edition or a reader's window.
MIN_RETENTION_DAYS = 32


class SmtpSettings(Section):
    """The relay that sends when transport = "smtp"."""

    host: str = Field(default="localhost", description="The SMTP server.")
    port: int = Field(default=587, ge=1, le=65535, description="Its port.")
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls | tls (implicit, port 465) | none."
    )
    username: str | None = Field(
        default=None, description="Log in as this user.", examples=["digest"]
    )
    password_env: str = Field(
        default="DIGEST_SMTP_PASSWORD",
        description="The NAME of the environment variable holding the password.",
    )
    connections: int = Field(
        default=2, ge=1, le=64, description="Parallel connections, each reused for many messages."
    )
    rate: float = Field(
        default=0.0,
        ge=0,
        le=10_000,
        description="Messages per second over all connections (0: no cap).",
    )
    timeout: float = Field(
        default=30.0, gt=0, le=HOUR, description="Seconds to wait for the server."
    )
    helo: str | None = Field(
        default=None,
        description="The name to greet the server with.",
        examples=["papers.example.org"],
    )
    ca_file: str | None = Field(
        default=None,
        description="A CA bundle to trust for the server's certificate (default: the system's).",
        examples=["ca.pem"],
    )


class DkimSettings(Section):
    """Optional DKIM signing of every message."""

    selector: str = Field(description="The DKIM selector.", examples=["digest"])
    domain: str = Field(description="The signing domain.", examples=["papers.example.org"])
    private_key_path: str = Field(description="The PEM private key.", examples=["dkim.key"])


class MailSettings(Section):
    """How editions are mailed."""

    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, allow_inf_nan=False, populate_by_name=True
    )

    sender: str | None = Field(
        default=None,
        alias="from",
        description="The From address (default: the site title at digest@<site host>).",
        examples=["Paper Digest <digest@papers.example.org>"],
    )
    reply_to: str | None = Field(
        default=None, description="A Reply-To address.", examples=["editors@papers.example.org"]
    )
    transport: Literal["outbox", "smtp"] = Field(
        default="outbox", description="outbox (.eml files, nothing is sent) | smtp."
    )
    outbox_dir: str = Field(default="outbox", description="Where the outbox transport writes.")
    send_empty: bool = Field(
        default=False, description="Whether an edition with no highlights is sent."
    )
    unsubscribe_address: str | None = Field(
        default=None,
        description="The List-Unsubscribe mailto (default: unsubscribe@<site host>).",
        examples=["unsubscribe@papers.example.org"],
    )
    max_papers: int = Field(
        default=10,
        ge=1,
        le=100,
        description="Papers per email, unless the reader chose another number.",
    )
    max_attempts: int = Field(
        default=5, ge=1, le=50, description="Attempts (4xx answers, dropped links) before 'failed'."
    )
    retry_delays: list[float] = Field(
        default=[2.0, 10.0], max_length=10, description="Pauses (s) before retrying within a run."
    )
    retry_after: float = Field(
        default=300.0,
        ge=0,
        le=DAY,
        description="Later runs retry after retry_after * 2^(attempts - 1) s.",
    )
    bounce_limit: int = Field(
        default=2,
        ge=1,
        le=1000,
        description="5xx answers after which a reader is no longer mailed.",
    )
    claim_timeout: float = Field(
        default=900.0,
        gt=0,
        le=DAY,
        description="A claimed edition whose sender vanished goes again (s); queue "
        "workers' claims go again once their heartbeat stops.",
    )
    retention_days: int = Field(
        default=0,
        ge=0,
        le=36500,
        description=(
            "Days the delivery ledger keeps a row after its edition's window ended; each "
            "delivery run deletes older rows, but a reader's latest (0 keeps all; else >= 32)."
        ),
    )
    smtp: SmtpSettings = Field(default=SmtpSettings(), description="The SMTP relay.")
    dkim: DkimSettings | None = Field(default=None, description="Optional DKIM signing.")

    @field_validator("sender")
    @classmethod
    def _from(cls, value: str | None) -> str | None:
        return check_address(value, named=True)

    @field_validator("reply_to", "unsubscribe_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return check_address(value)

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if 0 < value < MIN_RETENTION_DAYS:
            raise ValueError(
                f"keep rows at least {MIN_RETENTION_DAYS} days (the longest catch-up window "
                f"and a week's period), or 0 to keep them all; got {value}"
            )
        return value

    @field_validator("retry_delays")
    @classmethod
    def _delays(cls, value: list[float]) -> list[float]:
        if any(not 0 <= delay <= HOUR for delay in value):
            raise ValueError(f"every delay must be between 0 and 3600 seconds, got {value!r}")
        return value
