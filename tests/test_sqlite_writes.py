"""SQLite writers of one process queue for their turn instead of racing in SQLite's busy loop."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from checker.sqlite_writes import TurnTakingConnection, _turn, turn_taking


def connect(path: Path, wait: float = 3.0, sqlite_wait: float | None = None) -> TurnTakingConnection:
    """A connection that waits ``wait`` s for its turn, then ``sqlite_wait`` s (the same) for SQLite's lock."""
    connection = sqlite3.connect(
        path,
        timeout=wait if sqlite_wait is None else sqlite_wait,
        factory=turn_taking(f"sqlite:///{path}", wait),
        check_same_thread=False,
    )
    assert isinstance(connection, TurnTakingConnection)
    return connection


def _turn_held(connection: TurnTakingConnection) -> bool:
    return _turn(connection.database_key).locked()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "turns.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (x INTEGER UNIQUE)")
    return path


def test_a_second_writer_waits_for_the_first_to_commit(database: Path) -> None:
    # SQLite alone would refuse the second writer at once (no busy wait): it waits in the queue.
    first = connect(database)
    queued = threading.Event()

    class Queued(type(first)):  # type: ignore[misc]
        def take_turn(self) -> None:
            if self._turn is None and _turn_held(self):
                queued.set()  # the turn is taken (the first has not committed): this one must wait
            super().take_turn()

    second = sqlite3.connect(database, timeout=0, factory=Queued, check_same_thread=False)
    first.execute("INSERT INTO t VALUES (1)")
    order: list[str] = []

    def write() -> None:
        second.execute("INSERT INTO t VALUES (2)")
        order.append("second wrote")
        second.commit()

    waiter = threading.Thread(target=write)
    waiter.start()
    assert queued.wait(10)  # the second reached the queue while the first still wrote
    assert order == []
    order.append("first committed")
    first.commit()
    waiter.join(10)
    assert order == ["first committed", "second wrote"]
    assert [row[0] for row in first.execute("SELECT x FROM t ORDER BY x")] == [1, 2]


def test_reads_never_wait_for_a_writer(database: Path) -> None:
    first, second = connect(database), connect(database, wait=0.1)
    first.execute("INSERT INTO t VALUES (1)")
    assert second.execute("SELECT count(*) FROM t").fetchone() == (0,)  # WAL: the last committed state
    first.rollback()


@pytest.mark.parametrize("end", ["rollback", "close"])
def test_rollback_and_close_give_the_turn_back(database: Path, end: str) -> None:
    first, second = connect(database), connect(database, wait=0.5, sqlite_wait=0)
    first.execute("INSERT INTO t VALUES (1)")
    getattr(first, end)()
    second.execute("INSERT INTO t VALUES (2)")
    second.commit()


def test_a_failed_write_keeps_the_turn_until_its_transaction_ends(database: Path) -> None:
    first, second = connect(database), connect(database, wait=0.2)
    first.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError):
        first.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.OperationalError, match="another writer in this process"):
        second.execute("INSERT INTO t VALUES (2)")
    first.rollback()
    second.execute("INSERT INTO t VALUES (2)")
    second.commit()


def test_a_turn_kept_too_long_is_a_locked_database_error_in_time(database: Path) -> None:
    wait = 0.3
    first, second = connect(database), connect(database, wait=wait)
    first.execute("UPDATE t SET x = 1")
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="another writer in this process"):
        second.executemany("INSERT INTO t VALUES (?)", [(2,), (3,)])
    waited = time.monotonic() - started
    assert waited >= wait * 0.9  # it did wait its turn's time...
    assert waited < wait * 20  # ...and gave up then: a writer that never gives up is what this catches
    first.commit()


def test_writers_queued_behind_another_process_lock_give_up_within_two_waits(database: Path) -> None:
    """Another process holds SQLite's lock: the first writer waits for it, the next for its turn
    and then for the lock, and each gives up in at most its two waits, not one after another."""
    holder = sqlite3.connect(database)
    holder.execute("BEGIN IMMEDIATE")
    ended: dict[int, float] = {}
    wait, count = 0.3, 8
    started = time.monotonic()

    def write(number: int) -> None:
        connection = connect(database, wait=wait)
        try:
            connection.execute("INSERT INTO t VALUES (?)", (number,))
        except sqlite3.OperationalError:
            connection.rollback()  # as the app's error handler does
        ended[number] = time.monotonic() - started

    writers = [threading.Thread(target=write, args=(n,)) for n in range(count)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(30)
    holder.rollback()
    assert len(ended) == count
    # Giving up one after another would spread the ends over at least (count - 1) waits; together,
    # they end within about two waits of each other, whatever the machine's speed.
    assert max(ended.values()) - min(ended.values()) < (count - 1) * wait / 2


def test_each_database_file_has_its_own_turn(tmp_path: Path) -> None:
    one, other = tmp_path / "one.db", tmp_path / "other.db"
    first, second = connect(one), connect(other, wait=0.2, sqlite_wait=0)
    first.execute("CREATE TABLE t (x)")
    second.execute("CREATE TABLE t (x)")  # not waiting for the other file's writer
    second.commit()
    first.commit()


def test_a_forked_worker_starts_with_no_turn_held(database: Path) -> None:
    """gunicorn forks workers from a loaded app: a turn held in the parent is not held in a child."""
    script = f"""
import os, sqlite3, sys
from checker.sqlite_writes import turn_taking
def connect():
    return sqlite3.connect({str(database)!r}, factory=turn_taking("key", 0.3))
held = connect()
held.execute("INSERT INTO t VALUES (1)")
child = os.fork()
if child == 0:
    try:
        connect().take_turn()
    except sqlite3.OperationalError:
        os._exit(1)
    os._exit(0)
_, status = os.waitpid(child, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[1], timeout=30, check=False)
    assert done.returncode == 0
