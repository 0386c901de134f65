"""PostgreSQL's tables: `events` partitioned by day, and the database as the migrations
(migrations.py) see it.

`events` is partitioned by day: a city's day is some 25 million rows, and a day's
partition is inserted into, reported on and, after the retention, dropped whole
(README, "A city's database"). The day is the event's own (`ts`, the station's clock),
not the collector's: a redelivery days later has the same id and the same day, so the
key (id, day) still stores it once. The day never depends on the collector's clock: a
partition is made only for days in [2020-01-01, today + 2], and events of other days (a
station whose clock was never set, or runs ahead) keep their day in the key and sit in
the default partition `events_other`.

The payload is `json` (pg.py says why); a database made with `jsonb` keeps it and works
as before: making it `json` would rewrite every row and bring back no station's text
(jsonb kept none).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from central.store.migrations import Schema

log = logging.getLogger("central.event_store_pg")   # its name before the move

SCHEMA_LOCK = 7360420          # pg_advisory_xact_lock: one collector changes the schema
FIRST_DAY = dt.date(2020, 1, 1)
OTHER_DAY = dt.date(1970, 1, 1)   # the day column of events whose `ts` has no usable date

# The first release's columns, and the day (migrations' 001_collector).
EVENTS = """CREATE TABLE events (
    id TEXT NOT NULL, site TEXT NOT NULL, station TEXT NOT NULL, seq BIGINT NOT NULL,
    session BIGINT NOT NULL, ts TEXT NOT NULL, type TEXT NOT NULL, payload JSON NOT NULL,
    received_at TIMESTAMPTZ NOT NULL, day DATE NOT NULL,
    PRIMARY KEY (id, day)) PARTITION BY RANGE (day)"""


def event_day(ts: str) -> dt.date:
    """The day in an event's key: the date of its `ts`, or OTHER_DAY when it has none.
    A function of the event alone: the same event always has the same key."""
    try:
        return dt.date.fromisoformat(ts[:10])
    except ValueError:
        return OTHER_DAY


def gets_partition(day: dt.date, today: dt.date) -> bool:
    return FIRST_DAY <= day <= today + dt.timedelta(days=2)


def create_partition(conn: psycopg.Connection[Any], day: dt.date) -> None:
    conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF events "
                         "FOR VALUES FROM ({}) TO ({})").format(
        sql.Identifier(f"events_{day:%Y%m%d}"), sql.Literal(day),
        sql.Literal(day + dt.timedelta(days=1))))


class PgSchema(Schema):
    conn: psycopg.Connection[Any]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            # Two collectors starting together must not race on CREATE TABLE.
            self.run("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])
            yield

    def applied(self) -> set[str]:
        if self.run("SELECT to_regclass('migrations')").fetchone() == (None,):
            return set()
        return {name for (name,) in self.run("SELECT name FROM migrations")}

    def record(self, name: str, at: str) -> None:
        self.run("INSERT INTO migrations VALUES (%s, %s)", [name, at])

    def columns(self, table: str) -> list[str]:
        return [name for (name,) in self.run(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = %s ORDER BY ordinal_position", [table])]

    def make_events(self) -> None:
        kind = self.run("SELECT relkind FROM pg_class WHERE relname = 'events' "
                        "AND relnamespace = current_schema()::regnamespace").fetchone()
        if kind is None:
            self._create_events()
        elif kind[0] == "r":
            self._partition_existing()
        # Releases before partitioned with the old table's key still named events_pkey,
        # and PostgreSQL named the new one events_pkey1.
        key = self.run("SELECT conname FROM pg_constraint WHERE contype = 'p' "
                       "AND conrelid = 'events'::regclass").fetchone()
        if key and key[0] != "events_pkey":
            self.conn.execute(sql.SQL("ALTER TABLE events RENAME CONSTRAINT {} TO events_pkey")
                              .format(sql.Identifier(key[0])))

    def _create_events(self) -> None:
        self.run(EVENTS)
        self.run("CREATE INDEX events_by_station ON events (site, station, seq)")
        self.run("CREATE TABLE events_other PARTITION OF events DEFAULT")

    def _partition_existing(self) -> None:
        """A database from before partitioning: its rows move into the partitioned table."""
        log.warning("partitioning the events table by day (once; rows are copied)")
        self.run("ALTER TABLE events RENAME TO events_unpartitioned")
        self.run("ALTER INDEX events_by_station RENAME TO events_unpartitioned_idx")
        self.run("ALTER TABLE events_unpartitioned RENAME CONSTRAINT events_pkey "
                 "TO events_unpartitioned_pkey")
        self._create_events()
        today = dt.datetime.now(dt.UTC).date()
        for (prefix,) in self.run(
                "SELECT DISTINCT left(ts, 10) FROM events_unpartitioned").fetchall():
            day = event_day(prefix)
            if gets_partition(day, today):
                create_partition(self.conn, day)
            self.run("INSERT INTO events (id, site, station, seq, session, ts, type, payload, "
                     "received_at, day) SELECT id, site, station, seq, session, ts, type, "
                     "payload, received_at, %s FROM events_unpartitioned "
                     "WHERE left(ts, 10) = %s", [day, prefix])
        self.run("DROP TABLE events_unpartitioned")

    def read_facts(self) -> None:
        if self.run("SELECT EXISTS (SELECT 1 FROM events)").fetchone() == (True,):
            log.warning("reading the subject and clock columns of stored events "
                        "(once; rows are read)")
        self.run("UPDATE events SET (subject, unsynced) = ("
                 "coalesce(payload::json -> 'data' ->> 'tube', payload::json -> 'data' ->> 'box'), "
                 "NOT (payload::json ->> 'clock_synced')::boolean)")

    def make_subject_index(self) -> None:
        # Only the rows that open, close or move a tube or box (one in six of a day's):
        # a result's tube is checked on them, and a tube's registrations are read between
        # its opening and its closing by station and seq, so the ten registrations of each
        # tube need no entry (measured at ingest in BENCHMARKS.md). PostgreSQL's planner
        # proves a query of those types needs only these rows. Releases before held every
        # row with a subject in it.
        found = self.run("SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                         "AND indexname = 'events_by_subject'").fetchone()
        if found and "subject IS NOT NULL" in found[0]:
            log.warning("making events_by_subject again, of fewer rows (once; rows are read)")
            self.run("DROP INDEX events_by_subject")
        self.run("CREATE INDEX IF NOT EXISTS events_by_subject ON events (subject, type) "
                 "WHERE type IN ('tube.opened', 'tube.sealed', 'tube.voided', 'tube.released', "
                 "'box.closed', 'box.dispatched')")

    def make_singles_index(self) -> None:
        # A single tube's opening is one row in some hundreds of a day's; the condition is
        # singles_since's (dialect.py), which the planner must see implies it. On each
        # day's partition; the payload read as it is stored (json, or an older jsonb).
        if self.run("SELECT EXISTS (SELECT 1 FROM events)").fetchone() == (True,):
            log.warning("indexing the openings of single tubes (once; rows are read)")
        self.run("CREATE INDEX IF NOT EXISTS events_singles ON events (ts) "
                 "WHERE type = 'tube.opened' AND payload->'data'->>'pool_size' = '1'")
