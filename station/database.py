"""A sqlite3 connection with explicit transactions: the little the store needs of a wrapper.

The station used sqlite-utils for this. Its import (click, pluggy, dateutil) took 0.42 s
of the 1.0 s a lane has to be ready on a Pi's CPU (`station bench --pi`), for three
helpers: this context manager, and two CREATE TABLEs now written out in the migrations.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


class Database:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.execute = conn.execute

    @contextmanager
    def atomic(self) -> Iterator[Database]:
        """One transaction; its writes are all recorded or none are.

        IMMEDIATE takes the write lock at BEGIN: the store and the uplink write through two
        connections, and a deferred transaction that read first could find, at its first
        write, that the other committed in between (SQLITE_BUSY without waiting)."""
        if self.conn.in_transaction:
            raise RuntimeError("transactions do not nest here")
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            if self.conn.in_transaction:  # a failed COMMIT may have rolled back already
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def table_names(self) -> list[str]:
        return [row[0] for row in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
