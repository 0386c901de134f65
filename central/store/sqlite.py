"""The collector's database in a SQLite file: one collector, a site or a test bench.

The tables and promises are SqlEventStore's; here only the dialect: WAL with full sync
(a commit survives a power cut before the broker hears the acknowledgement), one writer
at a time (BEGIN IMMEDIATE), times as RFC 3339 text.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from central.store.event_store import (
    EVENT_COLUMNS,
    FACT_COLUMNS,
    Arrived,
    SqlEventStore,
    fact_columns,
    fact_indexes,
    schema,
)
from central.store.lab_tables import lab_tables
from contract import rfc3339


class SqliteEventStore(SqlEventStore):
    concurrent_writes = False

    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn: sqlite3.Connection = sqlite3.connect(path, isolation_level=None,
                                                        check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(schema("INTEGER", "TEXT", "TEXT", "BLOB"))
        columns = {row[1] for row in self.conn.execute("PRAGMA table_info(stations)")}
        if "last_seq" not in columns:  # a database from before the high-water mark
            self.conn.execute("ALTER TABLE stations ADD COLUMN last_seq INTEGER NOT NULL "
                              "DEFAULT 0")
        if "person_jwe" not in {row[1] for row in self.conn.execute(
                "PRAGMA table_info(form_data)")}:   # a database from before sealed cards
            self.conn.execute("ALTER TABLE form_data ADD COLUMN person_jwe TEXT NOT NULL "
                              "DEFAULT ''")
        if "subject" not in {row[1] for row in self.conn.execute("PRAGMA table_info(events)")}:
            with self._transaction():   # a database from before the facts: read them once
                for column in fact_columns("INTEGER"):
                    self.conn.execute(f"ALTER TABLE events ADD COLUMN {column}")
                self.conn.execute(
                    "UPDATE events SET subject = coalesce(json_extract(payload, '$.data.tube'), "
                    "json_extract(payload, '$.data.box')), "
                    "unsynced = NOT json_extract(payload, '$.clock_synced')")
        self.conn.executescript(fact_indexes("subject IS NOT NULL")
                                + lab_tables("INTEGER", "REAL", "TEXT"))

    def reconnect(self) -> None:
        """Nothing to do: a file's connection outlives a full disk or a lock held too long;
        the next write tries again on it."""

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _moment(self, now: dt.datetime) -> str:
        return rfc3339(now)

    def _insert_events(self, events: list[Arrived], now: dt.datetime) -> int:
        before = self.conn.total_changes
        self.conn.executemany(f"INSERT INTO events ({EVENT_COLUMNS}, {FACT_COLUMNS}) "  # noqa: S608
                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                              "ON CONFLICT (id) DO NOTHING", self._rows(events, rfc3339(now)))
        return self.conn.total_changes - before

