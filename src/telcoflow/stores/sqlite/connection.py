"""SQLite helpers shared by the SQLite stores of the bill run (connections, immediate
transactions)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from telcoflow.errors import StoreError

__all__ = ["connect", "transaction"]


def connect(path: str | Path) -> sqlite3.Connection:
    """Open a SQLite file in autocommit mode with WAL and a 60 s busy timeout."""
    try:
        conn = sqlite3.connect(str(path), timeout=60.0, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open SQLite database {path}: {exc}") from exc
    return conn


class transaction:  # noqa: N801 - used like a function: ``with transaction(conn):``
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rollback on error), SQLite errors -> StoreError."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot start a SQLite transaction: {exc}") from exc
        return self.conn

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as err:
                raise StoreError(f"cannot commit a SQLite transaction: {err}") from err
        else:
            self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"SQLite failed: {exc}") from exc
