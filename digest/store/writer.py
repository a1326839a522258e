"""The ledger's writes during a run: one writer per sender thread, and on PostgreSQL the
group commit their common steps share. See :mod:`digest.store.ledger` for what a row
means."""

from __future__ import annotations

import threading
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection, Engine

from digest.store.database import damage, describe, write_lock
from digest.store.ledger import (
    CLAIM_SQL,
    FINISH_SQL,
    PSYCOPG_CLAIM_SQL,
    PSYCOPG_FINISH_SQL,
    PSYCOPG_STEP_SQL,
    Delivery,
    Outcome,
    claim_edition,
    claim_params,
    finish_params,
    reclaim_edition,
    settle,
)


def _psycopg_execute(cursor: Any, outcome: Outcome | None, claim: Delivery | None) -> bool:
    """Send one common step's statement (an outcome, a fresh claim, or both as one); True
    if it claims, so the claim's row count says whether it won."""
    if outcome is not None and claim is not None:
        done = {f"done_{k}": v for k, v in finish_params(outcome, "psycopg").items()}
        cursor.execute(PSYCOPG_STEP_SQL, {**done, **claim_params(claim, "psycopg")})
        return True
    if outcome is not None:
        cursor.execute(PSYCOPG_FINISH_SQL, finish_params(outcome, "psycopg"))
    if claim is not None:
        cursor.execute(PSYCOPG_CLAIM_SQL, claim_params(claim, "psycopg"))
        return True
    return False


class _Step:
    """One sender thread's common step, waiting for the commit that holds it."""

    __slots__ = ("outcome", "claim", "won", "error", "done")

    def __init__(self, outcome: Outcome | None, claim: Delivery | None) -> None:
        self.outcome = outcome
        self.claim = claim
        self.won = True
        self.error: BaseException | None = None
        self.done = False


class LedgerGroup:
    """The common ledger steps of one run's sender threads, committed together (PostgreSQL).

    A thread's step waits for the commit that holds it, as it would for a commit of its
    own; the steps that arrive while a commit is under way go together in the next one, in
    one transaction sent as one pipeline. The guarantee is the one of a commit per step: a
    claim is durable before its message is handed over, an outcome no later than its
    thread's next claim, so a crash leaves at most one message per thread in doubt. A
    failed commit fails every step it held; none of their claims stands. With one sender
    the group is one step per commit, as before; with several, the database commits less
    often than once per message.
    """

    def __init__(self, engine: Engine) -> None:
        self.conn = engine.connect()
        raw: Any = self.conn.connection.dbapi_connection
        self.raw = raw
        self._cursor: Any = raw.cursor()  # for a step alone, kept: one per message
        self._ready = threading.Condition()
        self._waiting: list[_Step] = []
        self._busy = False
        #: commits made, and steps they held
        self.commits = 0
        self.steps = 0

    def step(self, outcome: Outcome | None = None, claim: Delivery | None = None) -> bool:
        """Record ``outcome`` and claim ``claim`` (either may be None), once committed;
        False when another sender owns the edition claimed."""
        mine = _Step(outcome, claim)
        with self._ready:
            self._waiting.append(mine)
            while self._busy and not mine.done:
                self._ready.wait()
            if mine.done:
                return self._result(mine)
            batch, self._waiting, self._busy = self._waiting, [], True
        try:
            self._commit(batch)
        except BaseException as exc:
            for step in batch:
                step.error = exc
        finally:
            with self._ready:
                for step in batch:
                    step.done = True
                self._busy = False
                self._ready.notify_all()
        return self._result(mine)

    @staticmethod
    def _result(step: _Step) -> bool:
        if step.error is not None:
            raise step.error
        return step.won

    def _commit(self, batch: list[_Step]) -> None:
        raw = self.raw
        if len(batch) == 1:  # alone: one statement in autocommit, one round trip
            raw.autocommit = True
            step, cursor = batch[0], self._cursor
            if _psycopg_execute(cursor, step.outcome, step.claim):
                step.won = cursor.rowcount == 1
        else:
            raw.autocommit = False
            cursors: list[tuple[_Step, Any]] = []
            try:
                with raw.pipeline():
                    for step in batch:
                        cursor = raw.cursor()
                        if _psycopg_execute(cursor, step.outcome, step.claim):
                            cursors.append((step, cursor))
                    raw.commit()
            except BaseException:
                if not raw.closed:
                    raw.rollback()
                raise
            for step, cursor in cursors:
                step.won = cursor.rowcount == 1
        self.commits += 1
        self.steps += len(batch)

    def close(self) -> None:
        self._cursor.close()
        if not self.raw.closed:
            self.raw.autocommit = False  # SQLAlchemy's transactions, as it expects
        self.conn.close()


class LedgerWriter:
    """The ledger writes of one sender thread, on one connection it keeps.

    Each ``step`` is one short transaction: the outcome of the message just sent and the
    claim of the next one go in together, so the ledger costs one commit per message. The
    common step (an outcome and a fresh claim) runs as plain DB-API statements, on SQLite
    and on psycopg: it happens once per message, so it is kept as cheap as it can be. On
    psycopg the common step goes through a :class:`LedgerGroup`: the run's, committed with
    the other threads' steps, or else a group of this writer's own; the writer's own
    connection opens only for a rare step.
    """

    def __init__(self, engine: Engine, group: LedgerGroup | None = None) -> None:
        self.engine = engine
        sqlite = engine.dialect.name == "sqlite"
        psycopg = engine.dialect.driver == "psycopg"
        self.form = "sqlite" if sqlite else "psycopg" if psycopg else None
        self.lock: Any = write_lock(engine) if sqlite else nullcontext()
        self._conn: Connection | None = None
        self.raw: Any = None
        self.cursor: Any = None
        self.group: LedgerGroup | None = None
        self._own_group: LedgerGroup | None = None
        if self.form == "psycopg":
            if group is None:
                group = self._own_group = LedgerGroup(engine)
            self.group = group
        else:
            self._open()

    def _open(self) -> Connection:
        if self._conn is None:
            self._conn = self.engine.connect().execution_options(begin_immediate=True)
            self.raw = self._conn.connection.dbapi_connection
            self.cursor = self.raw.cursor() if self.form == "sqlite" else None
        return self._conn

    @property
    def conn(self) -> Connection:
        return self._open()

    def step(
        self,
        outcome: Outcome | None = None,
        claim: Delivery | None = None,
        reclaim: tuple[Delivery, str, datetime] | None = None,
    ) -> bool:
        """Record ``outcome``, then claim a fresh edition or take over an existing row;
        False when another sender owns the edition claimed."""
        rare = reclaim is not None or (outcome is not None and outcome.status == "bounced")
        if self.form == "sqlite" and not rare:
            return self._sqlite_step(outcome, claim)
        if self.group is not None and not rare:
            return self.group.step(outcome, claim)
        with self.lock, self.conn.begin():
            if outcome is not None:
                settle(self.conn, outcome)
            if claim is not None:
                return claim_edition(self.conn, claim)
            if reclaim is not None:
                return reclaim_edition(self.conn, *reclaim)
        return True

    def _sqlite_step(self, outcome: Outcome | None, claim: Delivery | None) -> bool:
        cursor = self.cursor
        assert cursor is not None
        with self.lock:
            cursor.execute("BEGIN IMMEDIATE")
            try:
                if outcome is not None:
                    cursor.execute(FINISH_SQL, finish_params(outcome))
                won = True
                if claim is not None:
                    cursor.execute(CLAIM_SQL, claim_params(claim))
                    won = cursor.rowcount == 1
                cursor.execute("COMMIT")
            except BaseException as exc:
                if cursor.connection.in_transaction:
                    cursor.execute("ROLLBACK")
                damaged = damage(describe(self.engine), exc)
                if damaged is not None:
                    raise damaged from exc
                raise
        return won

    def close(self) -> None:
        if self._own_group is not None:
            self._own_group.close()
        if self._conn is None:
            return
        if self.cursor is not None:
            self.cursor.close()
        self._conn.close()
