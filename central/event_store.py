"""The collector's database (SQLite): events stored once by id, each station's highest
contiguous seq and presence, and a quarantine for what fails the contract."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any, Protocol

from contract import rfc3339

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, station TEXT NOT NULL, seq INTEGER NOT NULL,
    session INTEGER NOT NULL, ts TEXT NOT NULL, type TEXT NOT NULL, payload TEXT NOT NULL,
    received_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_station ON events(site, station, seq);
CREATE TABLE IF NOT EXISTS stations (
    site TEXT NOT NULL, station TEXT NOT NULL, contiguous INTEGER NOT NULL DEFAULT 0,
    max_seq INTEGER NOT NULL DEFAULT 0, state TEXT, connection INTEGER NOT NULL DEFAULT 0,
    session INTEGER, status_at TEXT, PRIMARY KEY (site, station));
CREATE TABLE IF NOT EXISTS quarantine (
    topic TEXT NOT NULL, payload BLOB NOT NULL, reason TEXT NOT NULL, received_at TEXT NOT NULL);
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


class SqliteEventStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(SCHEMA)

    def add_events(self, events: list[dict[str, Any]], now: dt.datetime) -> list[bool]:
        """Store each once by id, all in one transaction; which of them were new."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            new = []
            for event in events:
                site, station, seq = event["site"], event["station"], event["seq"]
                cur = self.conn.execute(
                    "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [event["id"], site, station, seq, event["session"], event["ts"],
                     event["type"], json.dumps(event, ensure_ascii=False), rfc3339(now)])
                new.append(cur.rowcount == 1)
                self.conn.execute("INSERT OR IGNORE INTO stations(site, station) VALUES (?, ?)",
                                  [site, station])
                self._advance(site, station, seq)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return new

    def _advance(self, site: str, station: str, seq: int) -> None:
        contiguous, max_seq = self.conn.execute(
            "SELECT contiguous, max_seq FROM stations WHERE site = ? AND station = ?",
            [site, station]).fetchone()
        max_seq = max(max_seq, seq)
        if seq == contiguous + 1:
            # Walk forward over what arrived earlier, beyond a gap now filled.
            rows = self.conn.execute(
                "SELECT DISTINCT seq FROM events WHERE site = ? AND station = ? AND seq > ? "
                "ORDER BY seq", [site, station, contiguous])
            for (stored,) in rows:
                if stored != contiguous + 1:
                    break
                contiguous = stored
        self.conn.execute("UPDATE stations SET contiguous = ?, max_seq = ? "
                          "WHERE site = ? AND station = ?", [contiguous, max_seq, site, station])

    def set_presence(self, status: dict[str, Any], now: dt.datetime) -> bool:
        """Take a status unless it is older than what we have (a late 'lost' from an
        earlier connection); True when taken."""
        site, station = status["site"], status["station"]
        self.conn.execute("INSERT OR IGNORE INTO stations(site, station) VALUES (?, ?)",
                          [site, station])
        cur = self.conn.execute(
            "UPDATE stations SET state = ?, connection = ?, session = ?, status_at = ? "
            "WHERE site = ? AND station = ? AND connection <= ?",
            [status["state"], status["connection"], status["session"], rfc3339(now), site,
             station, status["connection"]])
        return cur.rowcount == 1

    def quarantine(self, topic: str, payload: bytes, reason: str, now: dt.datetime) -> None:
        self.conn.execute("INSERT INTO quarantine VALUES (?, ?, ?, ?)",
                          [topic, payload, reason[:500], rfc3339(now)])

    def gaps(self) -> list[tuple[str, str, int, int]]:
        """(site, station, first missing seq, last missing seq) for each station's first gap."""
        out = []
        for site, station, contiguous in self.conn.execute(
                "SELECT site, station, contiguous FROM stations WHERE max_seq > contiguous"):
            (after,) = self.conn.execute(
                "SELECT min(seq) FROM events WHERE site = ? AND station = ? AND seq > ?",
                [site, station, contiguous]).fetchone()
            out.append((site, station, contiguous + 1, after - 1))
        return out

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(payload) for (payload,) in self.conn.execute(
            "SELECT payload FROM events ORDER BY site, station, seq")]

    def count(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608

    def close(self) -> None:
        self.conn.close()
