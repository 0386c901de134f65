"""The collector's database on PostgreSQL (psycopg 3): the same tables and promises as
the SQLite store, for a city where several collectors write into one database.

A station's progress row is locked (SELECT … FOR UPDATE) while a collector advances
it, so two collectors sharing the load never race on a station's contiguous seq.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import psycopg

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, station TEXT NOT NULL, seq BIGINT NOT NULL,
    session BIGINT NOT NULL, ts TEXT NOT NULL, type TEXT NOT NULL, payload JSONB NOT NULL,
    received_at TIMESTAMPTZ NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_station ON events(site, station, seq);
CREATE TABLE IF NOT EXISTS stations (
    site TEXT NOT NULL, station TEXT NOT NULL, contiguous BIGINT NOT NULL DEFAULT 0,
    max_seq BIGINT NOT NULL DEFAULT 0, state TEXT, connection BIGINT NOT NULL DEFAULT 0,
    session BIGINT, status_at TIMESTAMPTZ, PRIMARY KEY (site, station));
CREATE TABLE IF NOT EXISTS quarantine (
    topic TEXT NOT NULL, payload BYTEA NOT NULL, reason TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL);
"""


class PgEventStore:
    def __init__(self, dsn: str) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)
        with self.conn.transaction():
            # Two collectors starting together must not race on CREATE TABLE.
            self.conn.execute("SELECT pg_advisory_xact_lock(7360420)")
            self.conn.execute(SCHEMA)

    def add_events(self, events: list[dict[str, Any]], now: dt.datetime) -> list[bool]:
        """Store each once by id, all in one transaction; which of them were new."""
        new = []
        with self.conn.transaction():
            for event in events:
                new.append(self._add(event, now))
        return new

    def _add(self, event: dict[str, Any], now: dt.datetime) -> bool:
        site, station, seq = event["site"], event["station"], event["seq"]
        cur = self.conn.execute(
            "INSERT INTO events VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (id) DO NOTHING",
            [event["id"], site, station, seq, event["session"], event["ts"], event["type"],
             json.dumps(event, ensure_ascii=False), now])
        self.conn.execute("INSERT INTO stations(site, station) VALUES (%s, %s) "
                          "ON CONFLICT DO NOTHING", [site, station])
        contiguous, max_seq = self.conn.execute(
            "SELECT contiguous, max_seq FROM stations WHERE site = %s AND station = %s "
            "FOR UPDATE", [site, station]).fetchone()  # type: ignore[misc]
        max_seq = max(max_seq, seq)
        for (stored,) in self.conn.execute(
                "SELECT DISTINCT seq FROM events WHERE site = %s AND station = %s "
                "AND seq > %s ORDER BY seq", [site, station, contiguous]):
            if stored != contiguous + 1:
                break
            contiguous = stored
        self.conn.execute("UPDATE stations SET contiguous = %s, max_seq = %s "
                          "WHERE site = %s AND station = %s", [contiguous, max_seq, site, station])
        return cur.rowcount == 1

    def set_presence(self, status: dict[str, Any], now: dt.datetime) -> bool:
        site, station = status["site"], status["station"]
        with self.conn.transaction():
            self.conn.execute("INSERT INTO stations(site, station) VALUES (%s, %s) "
                              "ON CONFLICT DO NOTHING", [site, station])
            cur = self.conn.execute(
                "UPDATE stations SET state = %s, connection = %s, session = %s, "
                "status_at = %s WHERE site = %s AND station = %s AND connection <= %s",
                [status["state"], status["connection"], status["session"], now, site, station,
                 status["connection"]])
        return cur.rowcount == 1

    def quarantine(self, topic: str, payload: bytes, reason: str, now: dt.datetime) -> None:
        self.conn.execute("INSERT INTO quarantine VALUES (%s, %s, %s, %s)",
                          [topic, payload, reason[:500], now])

    def gaps(self) -> list[tuple[str, str, int, int]]:
        return [(site, station, first, last) for site, station, first, last in self.conn.execute(
            "SELECT s.site, s.station, s.contiguous + 1, "
            "(SELECT min(e.seq) FROM events e WHERE e.site = s.site AND e.station = s.station "
            " AND e.seq > s.contiguous) - 1 FROM stations s WHERE s.max_seq > s.contiguous")]

    def events(self) -> list[dict[str, Any]]:
        return [payload for (payload,) in self.conn.execute(
            "SELECT payload FROM events ORDER BY site, station, seq")]

    def count(self, table: str) -> int:
        if table not in ("events", "stations", "quarantine"):
            raise ValueError(table)
        row = self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.conn.close()
