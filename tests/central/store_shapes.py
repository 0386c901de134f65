"""The shapes central's store had before its migrations (#37), one per release that
changed them, each as that release made a new database: their statements copied from
git history (`git log -p central/event_store*.py station/collector_store.py`), never
derived from today's code, which must upgrade them. Plus the one mixed shape a later
release left on an earlier one (its index kept in the form of its day), and rows of
events stored as each release stored them.

Each shape is named by the commit that introduced it.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

# --- SQLite ---------------------------------------------------------------------------

_EVENTS = """CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, station TEXT NOT NULL, seq INTEGER NOT NULL,
    session INTEGER NOT NULL, ts TEXT NOT NULL, type TEXT NOT NULL, payload TEXT NOT NULL,
    received_at TEXT NOT NULL)"""
_BY_STATION = "CREATE INDEX IF NOT EXISTS events_by_station ON events(site, station, seq)"
_STATIONS_1 = """CREATE TABLE IF NOT EXISTS stations (
    site TEXT NOT NULL, station TEXT NOT NULL, contiguous INTEGER NOT NULL DEFAULT 0,
    max_seq INTEGER NOT NULL DEFAULT 0, state TEXT, connection INTEGER NOT NULL DEFAULT 0,
    session INTEGER, status_at TEXT, PRIMARY KEY (site, station))"""
_STATIONS_2 = """CREATE TABLE IF NOT EXISTS stations (
    site TEXT NOT NULL, station TEXT NOT NULL, contiguous INTEGER NOT NULL DEFAULT 0,
    max_seq INTEGER NOT NULL DEFAULT 0, state TEXT, connection INTEGER NOT NULL DEFAULT 0,
    session INTEGER, status_at TEXT, last_seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, station))"""
_QUARANTINE = """CREATE TABLE IF NOT EXISTS quarantine (
    topic TEXT NOT NULL, payload BLOB NOT NULL, reason TEXT NOT NULL,
    received_at TEXT NOT NULL)"""
_FORMS_1 = """CREATE TABLE IF NOT EXISTS form_data (
    serial TEXT PRIMARY KEY, id_number TEXT NOT NULL, name TEXT NOT NULL,
    phone TEXT NOT NULL, imported_at TEXT NOT NULL)"""
_FORMS_2 = """CREATE TABLE IF NOT EXISTS form_data (
    serial TEXT PRIMARY KEY, id_number TEXT NOT NULL, name TEXT NOT NULL,
    phone TEXT NOT NULL, imported_at TEXT NOT NULL, person_jwe TEXT NOT NULL DEFAULT '')"""
_TUBE_FACTS = ["ALTER TABLE events ADD COLUMN tube TEXT",
               "ALTER TABLE events ADD COLUMN unsynced INTEGER NOT NULL DEFAULT FALSE",
               "CREATE INDEX IF NOT EXISTS events_by_tube ON events (tube) WHERE tube IS NOT NULL",
               "CREATE INDEX IF NOT EXISTS events_unsynced ON events (received_at) WHERE unsynced"]
_SUBJECT_FACTS = ["ALTER TABLE events ADD COLUMN subject TEXT",
                  "ALTER TABLE events ADD COLUMN unsynced INTEGER NOT NULL DEFAULT FALSE"]
_UNSYNCED = "CREATE INDEX IF NOT EXISTS events_unsynced ON events (received_at) WHERE unsynced"
_BY_SUBJECT_1 = ("CREATE INDEX IF NOT EXISTS events_by_subject ON events (subject) "
                 "WHERE subject IS NOT NULL")
_BY_SUBJECT_2 = """CREATE INDEX IF NOT EXISTS events_by_subject ON events (subject, type)
    WHERE subject IS NOT NULL"""


def _lab(real: str, moment: str) -> list[str]:
    return [f"""CREATE TABLE IF NOT EXISTS results (
    tube TEXT NOT NULL, lab TEXT NOT NULL, tested_at {moment} NOT NULL, result TEXT NOT NULL,
    ct_orf1ab {real}, ct_n {real}, source TEXT NOT NULL, imported_at {moment} NOT NULL,
    recalled_at {moment}, PRIMARY KEY (tube, lab, tested_at))""",
            "CREATE INDEX IF NOT EXISTS results_by_time ON results (tested_at)",
            """CREATE INDEX IF NOT EXISTS results_to_recall ON results (imported_at)
    WHERE recalled_at IS NULL AND result <> 'negative'""",
            f"""CREATE TABLE IF NOT EXISTS receipts (
    box TEXT PRIMARY KEY, lab TEXT NOT NULL, tubes INTEGER NOT NULL,
    received_at {moment} NOT NULL, source TEXT NOT NULL, recorded_at {moment} NOT NULL)""",
            """CREATE INDEX IF NOT EXISTS events_custody ON events (type, ts)
    WHERE type IN ('tube.sealed', 'box.closed', 'box.dispatched')""",
            """CREATE INDEX IF NOT EXISTS events_boxes ON events (site, station)
    WHERE type IN ('box.closed', 'box.dispatched')"""]


_SQLITE_LAB = _lab("REAL", "TEXT")
_SQLITE_PAPER = [_EVENTS, _BY_STATION, _STATIONS_2, _QUARANTINE, _FORMS_1]

SQLITE: dict[str, list[str]] = {
    "ba9a73e first collector": [_EVENTS, _BY_STATION, _STATIONS_1, _QUARANTINE],
    "4af84ff high-water mark": [_EVENTS, _BY_STATION, _STATIONS_2, _QUARANTINE],
    "6e38f4e paper cards": _SQLITE_PAPER,
    "84bf0c0 facts, the tube's": _SQLITE_PAPER + _TUBE_FACTS,
    "1a0158e subject, lab tables": [*_SQLITE_PAPER, *_SUBJECT_FACTS, _BY_SUBJECT_1, _UNSYNCED,
                                    *_SQLITE_LAB],
    "1a0158e, opened by d7d5d77": [*_SQLITE_PAPER, *_SUBJECT_FACTS, _BY_SUBJECT_1, _UNSYNCED,
                                   *_SQLITE_LAB, "ALTER TABLE form_data ADD COLUMN person_jwe "
                                   "TEXT NOT NULL DEFAULT ''"],
    "d7b6065 subject and type": [*_SQLITE_PAPER, *_SUBJECT_FACTS, _BY_SUBJECT_2, _UNSYNCED,
                                 *_SQLITE_LAB],
    "d7d5d77 sealed cards": [_EVENTS, _BY_STATION, _STATIONS_2, _QUARANTINE, _FORMS_2,
                             *_SUBJECT_FACTS, _BY_SUBJECT_2, _UNSYNCED, *_SQLITE_LAB],
}

# --- PostgreSQL -----------------------------------------------------------------------

_PG_PLAIN = """CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, station TEXT NOT NULL, seq BIGINT NOT NULL,
    session BIGINT NOT NULL, ts TEXT NOT NULL, type TEXT NOT NULL, payload JSONB NOT NULL,
    received_at TIMESTAMPTZ NOT NULL)"""
_PG_STATIONS_1 = """CREATE TABLE IF NOT EXISTS stations (
    site TEXT NOT NULL, station TEXT NOT NULL, contiguous BIGINT NOT NULL DEFAULT 0,
    max_seq BIGINT NOT NULL DEFAULT 0, state TEXT, connection BIGINT NOT NULL DEFAULT 0,
    session BIGINT, status_at TIMESTAMPTZ, PRIMARY KEY (site, station))"""
_PG_STATIONS_2 = _STATIONS_2.replace("INTEGER", "BIGINT").replace("status_at TEXT",
                                                                   "status_at TIMESTAMPTZ")
_PG_QUARANTINE = """CREATE TABLE IF NOT EXISTS quarantine (
    topic TEXT NOT NULL, payload BYTEA NOT NULL, reason TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL)"""
_PG_FORMS_1 = _FORMS_1.replace("imported_at TEXT", "imported_at TIMESTAMPTZ")


def _by_day(payload: str, facts: str = "") -> list[str]:
    return [f"""CREATE TABLE events (
    id TEXT NOT NULL, site TEXT NOT NULL, station TEXT NOT NULL, seq BIGINT NOT NULL,
    session BIGINT NOT NULL, ts TEXT NOT NULL, type TEXT NOT NULL, payload {payload} NOT NULL,
    received_at TIMESTAMPTZ NOT NULL, day DATE NOT NULL,{facts}
    PRIMARY KEY (id, day)) PARTITION BY RANGE (day)""",
            "CREATE INDEX events_by_station ON events (site, station, seq)",
            "CREATE TABLE events_other PARTITION OF events DEFAULT",
            # a day's partition, as the collector made one for each day it stored
            "CREATE TABLE IF NOT EXISTS events_20261203 PARTITION OF events "
            "FOR VALUES FROM ('2026-12-03') TO ('2026-12-04')"]


_TUBE = " tube TEXT,\n    unsynced BOOLEAN NOT NULL DEFAULT FALSE,"
_SUBJECT = " subject TEXT,\n    unsynced BOOLEAN NOT NULL DEFAULT FALSE,"
_PG_OTHERS = [_PG_STATIONS_2, _PG_QUARANTINE, _PG_FORMS_1]
_PG_LAB = _lab("DOUBLE PRECISION", "TIMESTAMPTZ")
_PG_LIFE = ("""CREATE INDEX IF NOT EXISTS events_by_subject ON events (subject, type) WHERE """
            "type IN ('tube.opened', 'tube.sealed', 'tube.voided', 'tube.released', "
            "'box.closed', 'box.dispatched')")
_PG_SEALED = "ALTER TABLE form_data ADD COLUMN IF NOT EXISTS person_jwe TEXT NOT NULL DEFAULT ''"

POSTGRESQL: dict[str, list[str]] = {
    "0b01b58 first collector": [_PG_PLAIN, _BY_STATION, _PG_STATIONS_1, _PG_QUARANTINE],
    "4af84ff high-water mark": [_PG_PLAIN, _BY_STATION, _PG_STATIONS_2, _PG_QUARANTINE],
    "c5f0fb0 events by day, jsonb": [*_by_day("JSONB"), _PG_STATIONS_2, _PG_QUARANTINE],
    # Its events moved by c5f0fb0's partitioning (its rows copied, here none): the new
    # table's key took a name of its own while the old one's held `events_pkey`.
    "4af84ff, partitioned by 7be4e10": [
        _PG_PLAIN, _BY_STATION, "ALTER TABLE events RENAME TO events_unpartitioned",
        "ALTER INDEX events_by_station RENAME TO events_unpartitioned_idx",
        *_by_day("JSON"), "DROP TABLE events_unpartitioned", *_PG_OTHERS],
    "6e38f4e paper cards, jsonb": [*_by_day("JSONB"), *_PG_OTHERS],
    "7be4e10 json": [*_by_day("JSON"), *_PG_OTHERS],
    "84bf0c0 facts, the tube's": [*_by_day("JSON", _TUBE), *_PG_OTHERS,
                                  "CREATE INDEX IF NOT EXISTS events_by_tube ON events (tube) "
                                  "WHERE tube IS NOT NULL", _UNSYNCED],
    "1a0158e subject, lab tables": [*_by_day("JSON", _SUBJECT), *_PG_OTHERS, _BY_SUBJECT_1,
                                    _UNSYNCED, *_PG_LAB],
    "1a0158e, opened by d7d5d77": [*_by_day("JSON", _SUBJECT), *_PG_OTHERS, _BY_SUBJECT_1,
                                   _UNSYNCED, *_PG_LAB, _PG_SEALED],
    "d7b6065 subject and type": [*_by_day("JSON", _SUBJECT), *_PG_OTHERS, _BY_SUBJECT_2,
                                 _UNSYNCED, *_PG_LAB],
    "f9b3888 life rows": [*_by_day("JSON", _SUBJECT), *_PG_OTHERS, _PG_LIFE, _UNSYNCED,
                          *_PG_LAB],
    "d7d5d77 sealed cards": [*_by_day("JSON", _SUBJECT), *_PG_OTHERS, _PG_LIFE, _UNSYNCED,
                             *_PG_LAB, _PG_SEALED],
}

# --- Rows -----------------------------------------------------------------------------

# A tube opened (its clock set), and a box closed by a station whose clock was unset.
EVENTS: list[dict[str, Any]] = [
    {"v": 1, "id": "e-tube", "site": "s", "station": "l1", "seq": 1, "session": 1,
     "ts": "2026-12-03T08:00:00.000Z", "clock_synced": True, "type": "tube.opened",
     "data": {"tube": "T000001", "pool_size": 10}},
    {"v": 1, "id": "e-box", "site": "s", "station": "l1", "seq": 2, "session": 1,
     "ts": "2026-12-03T08:00:01.000Z", "clock_synced": False, "type": "box.closed",
     "data": {"box": "B0001", "tubes": ["T000001"], "tube_count": 1, "sample_count": 10}},
]
# What reports read of them after any upgrade: (subject, unsynced) in seq order.
FACTS = [("T000001", False), ("B0001", True)]


def _rows(columns: list[str]) -> list[list[Any]]:
    """EVENTS as a release stored them, with the fact columns it had and knew."""
    rows = []
    for e in EVENTS:
        row: list[Any] = [e["id"], e["site"], e["station"], e["seq"], e["session"], e["ts"],
                          e["type"], json.dumps(e, separators=(",", ":")),
                          "2026-12-03T08:00:02.000Z"]
        known = {"day": e["ts"][:10], "tube": e["data"].get("tube"),
                 "subject": e["data"].get("tube") or e["data"].get("box"),
                 "unsynced": not e["clock_synced"]}
        rows.append(row + [known[c] for c in columns[len(row):]])
    return rows


def sqlite_shape(path: str, name: str) -> None:
    conn = sqlite3.connect(path)
    for statement in SQLITE[name]:
        conn.execute(statement)
    columns = [c for (c,) in conn.execute("SELECT name FROM pragma_table_info('events')")]
    for row in _rows(columns):
        conn.execute(f"INSERT INTO events VALUES ({', '.join('?' * len(row))})", row)
    conn.commit()
    conn.close()


def pg_shape(dsn: str, name: str) -> None:
    import psycopg  # noqa: PLC0415 - the central extra

    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in POSTGRESQL[name]:
            conn.execute(statement.encode())
        columns = [c for (c,) in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'events' "
            "AND table_schema = current_schema() ORDER BY ordinal_position")]
        for row in _rows(columns):
            marks = ", ".join(["%s"] * len(row))
            conn.execute(f"INSERT INTO events VALUES ({marks})".encode(), row)
