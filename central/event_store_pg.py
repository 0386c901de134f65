"""The collector's database on PostgreSQL (psycopg 3): the same tables and promises as
the SQLite store, for a city where several collectors write into one database.

A station's progress row is locked (SELECT … FOR UPDATE) while a collector advances
it, so two collectors sharing the load never race on a station's contiguous seq.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import psycopg

from central.event_store import SqlEventStore, schema


class PgEventStore(SqlEventStore):
    placeholder = "%s"
    lock_progress = " FOR UPDATE"
    greatest = "GREATEST"

    def __init__(self, dsn: str) -> None:
        self.conn: psycopg.Connection[Any] = psycopg.connect(dsn, autocommit=True)
        with self.conn.transaction():
            # Two collectors starting together must not race on CREATE TABLE.
            self.conn.execute("SELECT pg_advisory_xact_lock(7360420)")
            self.conn.execute(schema("BIGINT", "JSONB", "TIMESTAMPTZ", "BYTEA").encode())
            # A database from before the high-water mark:
            self.conn.execute("ALTER TABLE stations ADD COLUMN IF NOT EXISTS last_seq BIGINT "
                              "NOT NULL DEFAULT 0")

    def _transaction(self) -> AbstractContextManager[Any]:
        return self.conn.transaction()
