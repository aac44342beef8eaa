"""SQLite writers of one process take turns in a queue, not in SQLite's busy loop.

SQLite lets one connection write at a time. A writer that finds the database locked polls (up
to every 100 ms) until its busy time-out, and the pollers are not served in order: with a dozen
threads writing at once, one can lose every poll for seconds while newer ones get through, and
its visitor gets a 503. Here a connection takes its process's turn before its first write and
gives it back when its transaction ends, so threads wait in a lock that hands over at once;
only one writer per process is left polling SQLite for the other processes. The lock is at the
driver (a ``sqlite3`` connection and cursor), so every statement that begins with a write (an
INSERT, UPDATE, DELETE, REPLACE or schema change) takes a turn, whatever issued it; any other
waits in SQLite alone, as before.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable
from typing import Any, Self

SQLITE_FILE_GONE = "the database file is gone"  # a write refused because the file was deleted under the app
# How statements that take SQLite's write lock begin. Any other (a read, a SAVEPOINT) waits for nothing here.
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")
_turns: dict[str, threading.Lock] = {}
_turns_made = threading.Lock()


def _turn(database: str) -> threading.Lock:
    """The one write turn for a database file in this process."""
    with _turns_made:
        return _turns.setdefault(database, threading.Lock())


def _forget_turns() -> None:
    """A forked child starts with no turns held (the parent's threads are not there)."""
    global _turns_made
    _turns.clear()
    _turns_made = threading.Lock()


os.register_at_fork(after_in_child=_forget_turns)


def _writes(statement: str) -> bool:
    return statement.lstrip()[:7].upper().startswith(WRITES)


class TurnTakingConnection(sqlite3.Connection):
    """A connection that holds its process's write turn from its first write to its commit,
    rollback or close."""

    database_key: str  # all three set by turn_taking()
    database_path: str | None  # None for a database in memory
    wait_seconds: float

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turn: threading.Lock | None = None

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or TurnTakingCursor)

    # The shortcuts make their cursor in C, past cursor() above: they take a turn-taking one here.
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return TurnTakingCursor(self).execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> sqlite3.Cursor:
        return TurnTakingCursor(self).executemany(sql, seq_of_parameters)

    def executescript(self, sql_script: str, /) -> sqlite3.Cursor:
        return TurnTakingCursor(self).executescript(sql_script)

    def take_turn(self) -> None:
        """Wait for this process's write turn (a no-op while this connection holds it).

        A file deleted under the running app would still take writes, into an inode nobody can
        open again: the first write of each transaction checks the file is still there.
        """
        if self._turn is not None:
            return
        if self.database_path is not None and not os.path.exists(self.database_path):
            raise sqlite3.OperationalError(SQLITE_FILE_GONE)
        turn = _turn(self.database_key)
        if not turn.acquire(timeout=self.wait_seconds):
            raise sqlite3.OperationalError("database is locked (another writer in this process kept it)")
        self._turn = turn

    def give_turn(self) -> None:
        turn, self._turn = self._turn, None
        if turn is not None:
            turn.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self.give_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.give_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.give_turn()


class TurnTakingCursor(sqlite3.Cursor):
    """A cursor whose writes first take their connection's write turn."""

    connection: TurnTakingConnection

    def _before(self, statement: str) -> None:
        if _writes(statement):
            self.connection.take_turn()

    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        self._before(sql)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> Self:
        self._before(sql)
        return super().executemany(sql, seq_of_parameters)

    def executescript(self, sql_script: str, /) -> sqlite3.Cursor:
        self._before(sql_script)
        return super().executescript(sql_script)


def turn_taking(database: str, wait_seconds: float, path: str | None = None) -> type[TurnTakingConnection]:
    """The connection class (``sqlite3.connect(factory=...)``) for one database, kept in the file
    at ``path`` (None: in memory)."""
    attributes = {"database_key": database, "database_path": path, "wait_seconds": wait_seconds}
    return type("TurnTakingConnection", (TurnTakingConnection,), attributes)
