"""Work as jobs on the store's PostgreSQL, through Procrastinate.

Three jobs, each calling :mod:`digest.pipeline`: ``fetch(source)`` (and publish what it
brought), ``publish(day)``, and ``send(first, last)``, which sends the due editions of the
active subscribers with ids from ``first`` to ``last`` (a shard, ``[deliver] shard_size``
of them). ``digest worker`` runs them on any machine (:mod:`digest.queue.worker`);
``digest send`` in queue mode and the daemon's ticks defer them (:mod:`digest.queue.defer`).

Jobs are claimed with ``FOR UPDATE SKIP LOCKED``; each worker beats in
``procrastinate_workers``, and every worker looks every few seconds for jobs whose worker
stopped beating and runs them again. The delivery ledger stays the guarantee: a shard run
twice sends each edition once, but for the messages in flight when a worker died.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine, make_url

from digest.errors import ConfigError

#: One advisory lock key for installing the engine's tables (any fixed number will do).
SCHEMA_LOCK = 0x6469_6765_7374_01  # "digest" 1

#: The queue every job goes to.
QUEUE = "digest"

#: How long a lost database (a restart) is waited for, by a worker or a waiting
#: `digest send`, before giving up (seconds).
RECONNECT_FOR = 300.0


def conninfo(url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise ConfigError(f"the job queue needs PostgreSQL, not {parsed.drivername} ([store] url)")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_schema(engine: Engine) -> None:
    """Install the engine's tables once, whoever starts first (under an advisory lock)."""
    from procrastinate.schema import SchemaManager

    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        cursor.execute("SELECT to_regclass('procrastinate_jobs')")
        row = cursor.fetchone()
        if row is None or row[0] is None:
            cursor.execute(SchemaManager.get_schema())
        raw.commit()
    finally:
        raw.close()
