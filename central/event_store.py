"""The collector's database: events stored once by id, each station's highest
contiguous seq and presence, and a quarantine for what fails the contract.

One implementation of those promises (`SqlEventStore`); SQLite and PostgreSQL differ
only in their dialect: placeholders, column types, how a transaction starts, and
PostgreSQL's row lock, so that collectors sharing a database never race on a station.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from contract import rfc3339

TABLES = ("events", "stations", "quarantine")


def schema(integer: str, json_text: str, moment: str, blob: str) -> str:
    """The tables, in a dialect's column types."""
    return f"""
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, station TEXT NOT NULL, seq {integer} NOT NULL,
    session {integer} NOT NULL, ts TEXT NOT NULL, type TEXT NOT NULL, payload {json_text} NOT NULL,
    received_at {moment} NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_station ON events(site, station, seq);
CREATE TABLE IF NOT EXISTS stations (
    site TEXT NOT NULL, station TEXT NOT NULL, contiguous {integer} NOT NULL DEFAULT 0,
    max_seq {integer} NOT NULL DEFAULT 0, state TEXT, connection {integer} NOT NULL DEFAULT 0,
    session {integer}, status_at {moment}, last_seq {integer} NOT NULL DEFAULT 0,
    PRIMARY KEY (site, station));
CREATE TABLE IF NOT EXISTS quarantine (
    topic TEXT NOT NULL, payload {blob} NOT NULL, reason TEXT NOT NULL,
    received_at {moment} NOT NULL);
"""


class EventStore(Protocol):
    """What the collector and the reports need of a database, SQLite or PostgreSQL."""

    def add_events(self, events: list[dict[str, Any]], now: dt.datetime) -> list[bool]: ...
    def set_presence(self, status: dict[str, Any], now: dt.datetime) -> bool: ...
    def quarantine(self, topic: str, payload: bytes, reason: str, now: dt.datetime) -> None: ...
    def gaps(self) -> list[tuple[str, str, int, int]]: ...
    def events(self) -> list[dict[str, Any]]: ...
    def count(self, table: str) -> int: ...
    def close(self) -> None: ...


def open_store(target: str) -> EventStore:
    """A postgresql:// DSN, or else a SQLite file path."""
    if target.startswith(("postgresql://", "postgres://")):
        from central.event_store_pg import PgEventStore  # noqa: PLC0415 - needs psycopg

        return PgEventStore(target)
    return SqliteEventStore(Path(target))


class SqlEventStore(ABC):
    """The promises, written once. SQL is written with `?`; a dialect sets its own
    placeholder, its transaction, and how it stores times and reads payloads."""

    placeholder = "?"
    lock_progress = ""   # appended to the SELECT of a station's progress row
    greatest = "max"     # the larger of two values
    conn: Any

    def _execute(self, sql: str, params: list[Any] | tuple[()] = ()) -> Any:
        return self.conn.execute(sql.replace("?", self.placeholder), params)

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[None]: ...

    def _moment(self, now: dt.datetime) -> Any:
        return now

    def _payload(self, stored: Any) -> dict[str, Any]:
        loaded: dict[str, Any] = stored
        return loaded

    def add_events(self, events: list[dict[str, Any]], now: dt.datetime) -> list[bool]:
        """Store each once by id, all in one transaction; which of them were new."""
        with self._transaction():
            return [self._add(event, now) for event in events]

    def _add(self, event: dict[str, Any], now: dt.datetime) -> bool:
        site, station, seq = event["site"], event["station"], event["seq"]
        cur = self._execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            [event["id"], site, station, seq, event["session"], event["ts"], event["type"],
             json.dumps(event, ensure_ascii=False), self._moment(now)])
        self._ensure_station(site, station)
        progress = "SELECT contiguous, max_seq FROM stations WHERE site = ? AND station = ?"
        contiguous, max_seq = self._execute(progress + self.lock_progress,
                                            [site, station]).fetchone()
        if seq == contiguous + 1:
            # Walk forward over what arrived earlier, beyond a gap this event filled. (Any
            # other seq cannot move the prefix: the progress row is locked or ours alone.)
            for (stored,) in self._execute(
                    "SELECT DISTINCT seq FROM events WHERE site = ? AND station = ? AND seq > ? "
                    "ORDER BY seq", [site, station, contiguous]):
                if stored != contiguous + 1:
                    break
                contiguous = stored
        self._execute("UPDATE stations SET contiguous = ?, max_seq = ? "
                      "WHERE site = ? AND station = ?",
                      [contiguous, max(max_seq, seq), site, station])
        return bool(cur.rowcount == 1)

    def _ensure_station(self, site: str, station: str) -> None:
        self._execute("INSERT INTO stations(site, station) VALUES (?, ?) ON CONFLICT DO NOTHING",
                      [site, station])

    def set_presence(self, status: dict[str, Any], now: dt.datetime) -> bool:
        """Take a status unless it is older than what we have (a late 'lost' from an
        earlier connection); True when taken."""
        site, station = status["site"], status["station"]
        with self._transaction():
            self._ensure_station(site, station)
            # The high-water mark only grows, whatever the order statuses arrive in.
            self._execute(f"UPDATE stations SET last_seq = {self.greatest}(last_seq, ?) "  # noqa: S608 - a dialect constant
                          "WHERE site = ? AND station = ?",
                          [status.get("last_seq", 0), site, station])
            cur = self._execute(
                "UPDATE stations SET state = ?, connection = ?, session = ?, status_at = ? "
                "WHERE site = ? AND station = ? AND connection <= ?",
                [status["state"], status["connection"], status["session"], self._moment(now),
                 site, station, status["connection"]])
        return bool(cur.rowcount == 1)

    def quarantine(self, topic: str, payload: bytes, reason: str, now: dt.datetime) -> None:
        self._execute("INSERT INTO quarantine VALUES (?, ?, ?, ?)",
                      [topic, payload, reason[:500], self._moment(now)])

    def gaps(self) -> list[tuple[str, str, int, int]]:
        """(site, station, first missing seq, last missing seq) for each station's first gap:
        below the highest seq received, or up to the high-water mark its status announced
        (events lost at the tail, with nothing after them to show the gap)."""
        return [(site, station, first, last) for site, station, first, last in self._execute(
            "SELECT s.site, s.station, s.contiguous + 1, "  # noqa: S608
            "coalesce((SELECT min(e.seq) FROM events e WHERE e.site = s.site "
            " AND e.station = s.station AND e.seq > s.contiguous) - 1, s.last_seq) "
            f"FROM stations s WHERE {self.greatest}(s.max_seq, s.last_seq) > s.contiguous")]

    def events(self) -> list[dict[str, Any]]:
        return [self._payload(payload) for (payload,) in self._execute(
            "SELECT payload FROM events ORDER BY site, station, seq")]

    def count(self, table: str) -> int:
        if table not in TABLES:
            raise ValueError(f"not a table of the collector: {table!r}")
        row = self._execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.conn.close()


class SqliteEventStore(SqlEventStore):
    def __init__(self, path: Path) -> None:
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

    def _payload(self, stored: Any) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(stored)
        return loaded
