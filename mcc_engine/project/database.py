"""The project's SQLite connection: one per open project, shared by threads under one lock."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from mcc_engine.errors import InputError


class Database:
    """A SQLite connection in autocommit mode; every use holds `lock` (the window's GUI thread and
    its mask saver share it), and `transaction()` groups statements atomically."""

    def __init__(self, path: Path, *, readonly: bool) -> None:
        self.path = path
        self.lock = threading.RLock()
        uri = f"file:{path}{'?mode=ro' if readonly else ''}"
        self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        if not readonly:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
            except sqlite3.DatabaseError as exc:
                raise InputError(path, f"not a readable project file ({exc})") from None
            self._conn.execute("PRAGMA synchronous=NORMAL")

    def query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        """Run one statement; its rows."""
        with self.lock:
            return self._conn.execute(sql, args).fetchall()

    def query_many(self, sql: str, rows: Iterable[tuple]) -> None:
        """Run one statement for each row of arguments, in one transaction."""
        with self.transaction():
            self._conn.executemany(sql, rows)

    def script(self, sql: str) -> None:
        """Run a script of statements (schema creation)."""
        with self.lock:
            self._conn.executescript(sql)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Statements inside commit together or not at all (nested uses join the outer one)."""
        with self.lock:
            if self._conn.in_transaction:
                yield
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.rollback()
                raise
            self._conn.commit()

    def close(self) -> None:
        """Close the connection."""
        with self.lock:
            self._conn.close()
