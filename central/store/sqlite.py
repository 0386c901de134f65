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
from central.store.event_store import EVENT_COLUMNS, FACT_COLUMNS, Arrived, SqlEventStore
from central.store.migrations import Schema, migrate
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


class SqliteSchema(Schema):
    def transaction(self) -> AbstractContextManager[None]:
        return immediate(self.conn)

    def applied(self) -> set[str]:
        if self.run("SELECT 1 FROM sqlite_master WHERE name = 'migrations'").fetchone() is None:
            return set()
        return {name for (name,) in self.run("SELECT name FROM migrations")}

    def record(self, name: str, at: str) -> None:
        self.run("INSERT INTO migrations VALUES (?, ?)", [name, at])

    def columns(self, table: str) -> list[str]:
        return [name for (name,) in self.run("SELECT name FROM pragma_table_info(?)", [table])]

    def make_events(self) -> None:
        self.run("""CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, station TEXT NOT NULL, seq INTEGER NOT NULL,
    session INTEGER NOT NULL, ts TEXT NOT NULL, type TEXT NOT NULL, payload TEXT NOT NULL,
    received_at TEXT NOT NULL)""")
        self.run("CREATE INDEX IF NOT EXISTS events_by_station ON events(site, station, seq)")

    def read_facts(self) -> None:
        self.run("UPDATE events SET subject = coalesce(json_extract(payload, '$.data.tube'), "
                 "json_extract(payload, '$.data.box')), "
                 "unsynced = NOT json_extract(payload, '$.clock_synced')")

    def make_subject_index(self) -> None:
        # Every row with a subject: SQLite's planner cannot prove a query needs only the
        # rows of a type list (it reads an IN list as no such proof); a site's database
        # is small. The first form (1a0158e's) was on the subject alone.
        found = self.run("SELECT sql FROM sqlite_master WHERE type = 'index' "
                         "AND name = 'events_by_subject'").fetchone()
        if found and "(subject, type)" not in " ".join(found[0].split()):
            self.run("DROP INDEX events_by_subject")
        self.run("CREATE INDEX IF NOT EXISTS events_by_subject ON events (subject, type) "
                 "WHERE subject IS NOT NULL")

    def make_singles_index(self) -> None:
        # Its condition is singles_since's (dialect.py) word for word: SQLite takes a
        # partial index only for a query that says each of its terms.
        self.run("CREATE INDEX IF NOT EXISTS events_singles ON events (ts) "
                 "WHERE type = 'tube.opened' AND json_extract(payload, '$.data.pool_size') = 1")


class SqliteEventStore(SqlEventStore):
    concurrent_writes = False
    dialect = SQLITE

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn: sqlite3.Connection = sqlite3.connect(path, isolation_level=None,
                                                        check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        migrate(SqliteSchema(self.conn, SQLITE))

    def reconnect(self) -> None:
        """Nothing to do: a file's connection outlives a full disk or a lock held too long;
        the next write tries again on it."""

    def _transaction(self) -> AbstractContextManager[None]:
        return immediate(self.conn)

    def another(self) -> SqliteEventStore:
        return SqliteEventStore(self.path)

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
