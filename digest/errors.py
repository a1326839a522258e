"""One exception hierarchy for Paper Digest.

Every message is written for the operator who reads it: it names the thing that was
wrong (a key, a file, a source, a value) and, where it helps, what to do about it.
The CLI prints ``Error: <message>`` and exits with ``exit_code``.
"""

from __future__ import annotations


class DigestError(Exception):
    """Base of every error the project raises on purpose."""

    exit_code = 1


class ConfigError(DigestError):
    """The configuration file is missing, malformed or inconsistent."""

    exit_code = 2


class InputError(DigestError):
    """A value given on the command line or in an input file is not acceptable."""

    exit_code = 2


class SourceError(DigestError):
    """A listing source could not be read; that source is skipped, the others go on."""


class FetchError(SourceError):
    """The document behind a source could not be downloaded."""


class ParseError(SourceError):
    """The downloaded document is not a listing we can read."""


class StoreError(DigestError):
    """The paper store could not be opened or written."""


class StoreUnusableError(StoreError):
    """The database is not a Paper Digest store (an empty file, another application's
    database, a newer schema) or is damaged; it is left as it is."""
