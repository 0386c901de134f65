"""The uplink's and the spooler's connection to the store (store.py holds the core's).

Its commits are NORMAL, not FULL: a delivered or printed mark lost in a power cut means
one more delivery of the same id, or one more label, which the contract and the operator
allow. And it takes the WAL's housekeeping off the core's path (`_restart_wal`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import msgspec

from contract import rfc3339
from drivers.printer.job import LabelJob
from station.database import Database
from station.store_file import connect

log = logging.getLogger("station.outbox")

OUTBOX_CACHE_KIB = 512


class Stored(msgspec.Struct, frozen=True):
    seq: int
    type: str
    payload: str


def highest_seq(db: Database) -> int:
    """The highest seq ever recorded (AUTOINCREMENT keeps it past a purge); 0 for none."""
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
    return int(row[0]) if row else 0


def _written(path: Path) -> tuple[int, int]:
    """When the main file was last written, and its size: (0, 0) for none yet."""
    try:
        found = os.stat(path)
    except OSError:
        return (0, 0)
    return (found.st_mtime_ns, found.st_size)


class Outbox:
    """The uplink's own connection (and the spooler's): reads pending events, marks them
    delivered, marks labels printed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = connect(path)
        self._checkpointed = _written(path)
        # Losing a delivered mark in a power cut only means one more delivery of the same
        # id, which the contract allows; not worth an fsync per PUBACK.
        self.db.conn.execute("PRAGMA synchronous=NORMAL")
        # It reads forward by seq and marks what it read: a few pages at a time. SQLite's
        # default 2 MiB of cache per connection would fill with pages read once.
        self.db.conn.execute(f"PRAGMA cache_size=-{OUTBOX_CACHE_KIB}")

    def next_connection(self) -> int:
        """The MQTT connection counter: grows at every connection, across restarts.

        A collector tells a late `lost` from the current connection by it, so a number
        is on the card (synchronous=FULL) before any will or status carries it."""
        self.db.conn.execute("PRAGMA synchronous=FULL")
        try:
            with self.db.atomic():
                self.db.execute("INSERT INTO meta(key, value) VALUES ('connection', '1') "
                                "ON CONFLICT(key) DO UPDATE SET value = "
                                "CAST(value AS INTEGER) + 1")
                row = self.db.execute(
                    "SELECT value FROM meta WHERE key = 'connection'").fetchone()
        finally:
            self.db.conn.execute("PRAGMA synchronous=NORMAL")
        return int(row[0])

    def pending(self, after_seq: int, limit: int) -> list[Stored]:
        rows = self.db.execute(
            "SELECT seq, type, payload FROM outbox WHERE delivered_at IS NULL AND seq > ? "
            "ORDER BY seq LIMIT ?", [after_seq, limit])
        return [Stored(*row) for row in rows]

    def between(self, first: int, last: int, limit: int) -> list[Stored]:
        rows = self.db.execute(
            "SELECT seq, type, payload FROM outbox WHERE seq BETWEEN ? AND ? ORDER BY seq "
            "LIMIT ?", [first, last, limit])
        return [Stored(*row) for row in rows]

    def mark_delivered(self, seqs: Iterable[int], now: dt.datetime) -> None:
        stamp = rfc3339(now)
        with self.db.atomic():
            self.db.conn.executemany(
                "UPDATE outbox SET delivered_at = ? WHERE seq = ? AND delivered_at IS NULL",
                [(stamp, s) for s in seqs])
        self._restart_wal()

    def next_job(self) -> tuple[int, LabelJob] | None:
        row = self.db.execute("SELECT id, kind, job FROM print_jobs WHERE printed_at IS NULL "
                              "ORDER BY id LIMIT 1").fetchone()
        if row is None:
            return None
        barcode, lines = json.loads(row[2])
        return int(row[0]), LabelJob(row[1], barcode, tuple(lines))

    def job_printed(self, job_id: int, now: dt.datetime) -> None:
        """Marked printed, and its lines blanked: a single tube's label carries its
        person's masks, which nobody reads again from the card (#39)."""
        with self.db.atomic():
            self.db.execute("UPDATE print_jobs SET printed_at = ?, job = '[]' WHERE id = ?",
                            [rfc3339(now), job_id])
        self._restart_wal()

    def _restart_wal(self) -> None:
        """After a checkpoint (this connection's own, at SQLite's 1,000 pages, or
        another's), write once more, here: a checkpoint that copied the whole WAL lets
        the next writer start it over, and that writer writes a new WAL header and syncs
        it before its frames (sqlite's wal.c; ticket ff5be73dee). Left to the core, that
        second sync fell between a scan and its light: 2 of every 300 registrations took
        19 ms instead of 10 under the Pi profile. The main file is written by
        checkpoints alone (WAL mode), so its mtime and size tell one happened."""
        written = _written(self.path)
        if written == self._checkpointed:
            return
        self._checkpointed = written
        try:   # housekeeping: a failure here is no failed mark, and leaves it to the core
            with self.db.atomic():   # a count, never the same value: a row written
                self.db.execute(      # unchanged writes no page, and starts no WAL over
                    "INSERT INTO meta(key, value) VALUES ('wal_restarts', '1') "
                    "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")
        except sqlite3.Error as exc:
            log.warning("%s: the WAL not started over here (%s); the core's next commit "
                        "will", self.path, exc)

    def backlog(self) -> int:
        row = self.db.execute("SELECT count(*) FROM outbox WHERE delivered_at IS NULL").fetchone()
        return int(row[0])

    def last_seq(self) -> int:
        return highest_seq(self.db)

    def close(self) -> None:
        self.db.conn.close()
