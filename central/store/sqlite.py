"""The collector's database in a SQLite file: one collector, a site or a test bench.

The tables and promises are SqlEventStore's; here only the dialect: WAL with full sync
(a commit survives a power cut before the broker hears the acknowledgement), one writer
at a time (BEGIN IMMEDIATE), times as RFC 3339 text, a batch's stations as VALUES lists.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from central.store.dialect import SQLITE
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

# Templates of statements whose length is a batch's: filled with SQLite's placeholders
# and the declared column names, never with a value.
INSERT_EVENTS = "INSERT INTO events ({columns}) VALUES ({marks}) ON CONFLICT (id) DO NOTHING"
MAKE_STATIONS = "INSERT INTO stations(site, station) VALUES {pairs} ON CONFLICT DO NOTHING"
PROGRESS = ("SELECT site, station, contiguous, max_seq FROM stations "
            "WHERE (site, station) IN (VALUES {pairs}) ORDER BY site, station")
# VALUES names its columns column1…column4.
SET_PROGRESS = ("UPDATE stations SET contiguous = v.column1, max_seq = v.column2 "
                "FROM (VALUES {rows}) AS v "
                "WHERE stations.site = v.column3 AND stations.station = v.column4")

COLUMNS = (*EVENT_COLUMNS, *FACT_COLUMNS)
INSERT = INSERT_EVENTS.format(columns=", ".join(COLUMNS), marks=SQLITE.marks(len(COLUMNS)))


def _tuples(n: int, width: int) -> str:
    """n parenthesised tuples of `width` placeholders: `(?, ?), (?, ?)`."""
    return ", ".join([f"({SQLITE.marks(width)})"] * n)


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """A transaction that holds the write lock from its start: another writer waits."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class SqliteEventStore(SqlEventStore):
    concurrent_writes = False
    dialect = SQLITE

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

    def _transaction(self) -> AbstractContextManager[None]:
        return immediate(self.conn)

    def _moment(self, now: dt.datetime) -> str:
        return rfc3339(now)

    def _insert_events(self, events: list[Arrived], now: dt.datetime) -> int:
        before = self.conn.total_changes
        self.conn.executemany(INSERT, self._rows(events, rfc3339(now)))
        return self.conn.total_changes - before

    def _make_stations(self, stations: list[tuple[str, str]]) -> None:
        self.conn.execute(MAKE_STATIONS.format(pairs=_tuples(len(stations), 2)),
                          [part for key in stations for part in key])

    def _progress(self, stations: list[tuple[str, str]]) -> Iterable[tuple[str, str, int, int]]:
        return self.conn.execute(PROGRESS.format(pairs=_tuples(len(stations), 2)),
                                 [part for key in stations for part in key])

    def _set_progress(self, updates: list[tuple[int, int, str, str]]) -> None:
        self.conn.execute(SET_PROGRESS.format(rows=_tuples(len(updates), 4)),
                          [part for row in updates for part in row])
