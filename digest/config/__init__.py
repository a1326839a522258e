"""Settings: one TOML file, validated at load into one frozen object.

Every setting is declared once (``sections``, ``mail``), with its default and its help, from which
the starter file and the README's configuration block are rendered (``starter``). Layers,
lowest first: the defaults, the file (``./digest.toml``, ``--config PATH`` or
``DIGEST_CONFIG``), then environment variables for the few things that differ per machine
(``DIGEST_STORE_URL``) (``load``). Secrets never live in the file: settings that need one
name the environment variable that holds it.

Relative paths in a file are relative to the directory of that file, so a cron job
started from anywhere reads the same store and writes the same site.
"""

from __future__ import annotations

from digest.config.checks import check_address, check_timezone, cron_trigger
from digest.config.load import (
    DEFAULT_CONFIG_NAME,
    SAMPLE_CONFIG,
    SAMPLE_DIR,
    demo_config,
    describe_validation_error,
    load_settings,
    parse_settings,
    resolve_paths,
    sample_settings,
)
from digest.config.log import LogSettings
from digest.config.mail import DkimSettings, MailSettings, SmtpSettings
from digest.config.sections import (
    FetchSettings,
    RankSettings,
    ScheduleSettings,
    Settings,
    SiteSettings,
    SourceSettings,
    StoreSettings,
    TopicSettings,
    WebSettings,
)
from digest.config.starter import starter_toml
from digest.sources import SOURCE_KINDS

__all__ = [
    "LogSettings",
    "DEFAULT_CONFIG_NAME",
    "SAMPLE_CONFIG",
    "SAMPLE_DIR",
    "SOURCE_KINDS",
    "DkimSettings",
    "FetchSettings",
    "MailSettings",
    "RankSettings",
    "ScheduleSettings",
    "Settings",
    "SiteSettings",
    "SmtpSettings",
    "SourceSettings",
    "StoreSettings",
    "TopicSettings",
    "WebSettings",
    "check_address",
    "check_timezone",
    "cron_trigger",
    "describe_validation_error",
    "load_settings",
    "parse_settings",
    "resolve_paths",
    "demo_config",
    "sample_settings",
    "starter_toml",
]


def __getattr__(name: str) -> str:
    # ``STARTER_CONFIG`` is rendered when asked for, not at every import.
    if name == "STARTER_CONFIG":
        return starter_toml()
    raise AttributeError(f"module 'digest.config' has no attribute {name!r}")
