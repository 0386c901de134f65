"""The collector's database on PostgreSQL (psycopg 3): the same tables and promises as
the SQLite store, for a city where several collectors write into one database.

A station's progress row is locked (SELECT … FOR UPDATE) while a collector advances
it, so two collectors sharing the load never race on a station's contiguous seq.
A batch's events arrive by COPY into a temporary table and move into `events` with one
INSERT … SELECT … ON CONFLICT (id) DO NOTHING: one round trip for hundreds of rows.
"""

from __future__ import annotations

import datetime as dt
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

        # Emptied at every commit; private to this connection, so to this collector.
        self.conn.execute("CREATE TEMPORARY TABLE staging (LIKE events) ON COMMIT DELETE ROWS")

    def _transaction(self) -> AbstractContextManager[Any]:
        return self.conn.transaction()

    def _insert_events(self, events: list[tuple[dict[str, Any], str]], now: dt.datetime) -> int:
        with self.conn.cursor() as cur:
            with cur.copy("COPY staging FROM STDIN") as copy:
                for row in self._rows(events, now):
                    copy.write_row(row)
            cur.execute("INSERT INTO events SELECT * FROM staging ORDER BY id "
                        "ON CONFLICT (id) DO NOTHING")
            return int(cur.rowcount)
