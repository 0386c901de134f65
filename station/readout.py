"""What the station's database says, read without ever writing: for `station status` and
the kiosk screen, both of which run beside the daemon (SQLite's WAL lets them read
while the daemon commits)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import msgspec
from msgspec.structs import asdict

from station.core.errors import StationError


class NotReadable(StationError):
    """The database is missing or cannot be read; the message names the file."""


class Delivery(msgspec.Struct, frozen=True):
    session: int                 # the daemon's starts so far
    connection: int              # MQTT connections so far
    last_seq: int                # the highest seq recorded
    delivered_up_to: int         # every seq up to here is acknowledged by the broker
    backlog: int                 # events recorded and not yet acknowledged
    oldest_undelivered: str | None   # the ts of the oldest of them
    last_ack: str | None         # when the broker last acknowledged an event
    print_queue: int             # labels waiting for the printer
    tube: str | None             # the open tube
    tube_count: int
    box_tubes: int               # tubes sealed since the last box
    box_samples: int

    @property
    def safe_to_power_off(self) -> bool:
        """Nothing is left that exists only on this station."""
        return self.backlog == 0

    def backlog_age_s(self, now: dt.datetime) -> float | None:
        if self.oldest_undelivered is None:
            return None
        oldest = dt.datetime.fromisoformat(self.oldest_undelivered.replace("Z", "+00:00"))
        return max(0.0, (now - oldest).total_seconds())

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "safe_to_power_off": self.safe_to_power_off}


def read(path: Path) -> Delivery:
    if not path.exists():
        raise NotReadable(f"{path}: no station database here (has the station run yet?)")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as exc:
        raise NotReadable(f"{path}: {exc}") from exc
    try:
        return _read(conn)
    except sqlite3.Error as exc:
        raise NotReadable(f"{path}: {exc}") from exc
    finally:
        conn.close()


def _read(conn: sqlite3.Connection) -> Delivery:
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    last_seq = int(conn.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0])
    # sqlite_sequence remembers purged seqs too: the high-water mark never goes back.
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
    last_seq = max(last_seq, int(row[0]) if row else 0)
    backlog, first = conn.execute(
        "SELECT count(*), min(seq) FROM outbox WHERE delivered_at IS NULL").fetchone()
    oldest = None
    if first is not None:
        oldest = conn.execute("SELECT ts FROM outbox WHERE seq = ?", [first]).fetchone()[0]
    last_ack = conn.execute("SELECT max(delivered_at) FROM outbox").fetchone()[0]
    queue = conn.execute("SELECT count(*) FROM print_jobs WHERE printed_at IS NULL").fetchone()[0]
    state = json.loads(meta.get("state", "{}"))
    tube = state.get("tube") or None
    box = state.get("box", [])
    return Delivery(
        session=int(meta.get("session", 0)), connection=int(meta.get("connection", 0)),
        last_seq=last_seq, delivered_up_to=(first - 1) if first is not None else last_seq,
        backlog=int(backlog), oldest_undelivered=oldest, last_ack=last_ack,
        print_queue=int(queue), tube=tube["tube"] if tube else None,
        tube_count=len(tube["samples"]) if tube else 0,
        box_tubes=len(box), box_samples=sum(count for _, count in box))


def last_print_job(path: Path) -> int:
    """The id of the newest label job (print_jobs' ids only grow between purges)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return int(conn.execute("SELECT coalesce(max(id), 0) FROM print_jobs").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise NotReadable(f"{path}: {exc}") from exc


def backlog(path: Path) -> int | None:
    """Events not yet acknowledged, or None when the database cannot be read now."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            row = conn.execute("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
            return int(row.fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return None
