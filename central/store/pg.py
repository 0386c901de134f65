"""The collector's database on PostgreSQL (psycopg 3): the same tables and promises as
the SQLite store, for a city where several collectors write into one database.

A station's progress row is locked (SELECT … FOR UPDATE) while a collector advances
it, so two collectors sharing the load never race on a station's contiguous seq.
A batch's events go into `events` by one COPY, in id order. A batch holding an event
already stored (a redelivery) fails that COPY on the key; it is then written again
through a temporary table and one INSERT … SELECT … ON CONFLICT DO NOTHING, which stores
only the new ones. COPY alone costs PostgreSQL a third less than the pair, and almost
every batch of a day is new.

The payload is `json`: the text as the station sent it, checked as JSON. `jsonb` cost
PostgreSQL twice as much per event to store (measured: COPY of the same rows 17 µs a
row against 8), and nothing here queries inside a payload; reports read it whole.
A database made with `jsonb` keeps it and works as before.

`events` is partitioned by the event's own day, and made by migrations.py in the
dialect of pg_schema.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import psycopg
from psycopg import sql

from central.store.dialect import POSTGRESQL
from central.store.documents import ADD_NEW, COPY_NEW, NEW_ROWS
from central.store.event_store import (
    EVENT_COLUMNS,
    FACT_COLUMNS,
    FETCHED,
    Arrived,
    Batch,
    SqlEventStore,
    Window,
    Written,
    subject,
)
from central.store.migrations import migrate
from central.store.pg_schema import (
    SCHEMA_LOCK,
    PgSchema,
    create_partition,
    event_day,
    gets_partition,
)
from central.store.pg_server import (
    commit_waits_for,
    connect,
    in_recovery,
    not_synchronous,
    read_only,
)
from contract import rfc3339
from contract.events import Event

log = logging.getLogger("central.event_store_pg")   # its name before the move

# A row of COPY's, as copy_text writes it: the event's columns, its day, its facts.
ROW = sql.SQL(", ").join(map(sql.Identifier, (*EVENT_COLUMNS, "day", *FACT_COLUMNS)))
COPY_EVENTS = sql.SQL("COPY events ({}) FROM STDIN").format(ROW)
COPY_STAGING = sql.SQL("COPY staging ({}) FROM STDIN").format(ROW)
FROM_STAGING = sql.SQL("INSERT INTO events ({row}) SELECT {row} FROM staging ORDER BY id "
                       "ON CONFLICT DO NOTHING").format(row=ROW)

NULL = "\\N"   # COPY's text format for no value


def copy_field(value: str) -> str:
    """A text field in COPY's text format: backslash, and the separators, escaped."""
    return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


# Any of COPY's separators or its escape. Every text field of a row is a string of the
# payload, and JSON writes each of these characters inside a string escaped, with a
# backslash: a payload without any of them (most) has none in any field either.
_SPECIAL = re.compile(r"[\\\t\n\r]")


def copy_text(events: list[Arrived], received: str) -> str:
    """The batch as COPY's text format, in id order, written at once: psycopg's
    write_row, one call and one dumper per value, was a fifth of a collector's time at a
    city's rate; a tuple per row, then every field escaped, still 8.4 µs an event (now
    4.8). A row: id, site, station, seq, session, ts, type, payload, received_at, the day,
    then the facts (subject, unsynced)."""
    f, lines = copy_field, []
    for body, raw, _ in sorted(events, key=_by_id):
        texts = [body["id"], body["site"], body["station"], body["ts"], body["type"], raw]
        about, day = subject(body["data"]), _day_text(body["ts"][:10])
        if _SPECIAL.search(raw):
            texts = [f(text) for text in texts]
            about = None if about is None else f(about)
        id_, site, station, ts, kind, payload = texts
        lines.append(f"{id_}\t{site}\t{station}\t{body['seq']}\t{body['session']}\t"
                     f"{ts}\t{kind}\t{payload}\t{received}\t{day}\t"
                     f"{NULL if about is None else about}\t"
                     f"{'f' if body['clock_synced'] else 't'}\n")
    return "".join(lines)


def _by_id(event: Arrived) -> str:
    return event.body["id"]  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=64)
def _day_text(date_part: str) -> str:
    """The day column of a `ts` beginning with `date_part`: a few distinct a day."""
    return str(event_day(date_part))


class PgEventStore(SqlEventStore):
    concurrent_writes = True
    dialect = POSTGRESQL

    def __init__(self, dsn: str, *, writes: bool = False) -> None:
        """`writes`: a collector's, which a standby refuses (ReadOnlyDatabase) rather
        than fail at its first batch; a report reads a standby."""
        super().__init__()
        self.dsn = dsn
        self.conn: psycopg.Connection[Any] = connect(dsn)
        self._days: set[dt.date] = set()   # days whose partition is known to exist
        if in_recovery(self.conn):
            if writes:
                refused = read_only(self.conn)
                self.conn.close()
                raise refused
            return   # a standby, for reports: the primary made the schema, it is read-only
        migrate(PgSchema(self.conn, POSTGRESQL))
        self._staging()

    def _staging(self) -> None:
        # Emptied at every commit; private to this connection, so to this collector.
        self.conn.execute("CREATE TEMPORARY TABLE staging (LIKE events) ON COMMIT DELETE ROWS")

    def reconnect(self) -> None:
        """A new connection in place of one the database dropped (a restart, a failover);
        raises DatabaseAway while no server takes writes (none answers, or a standby)."""
        with contextlib.suppress(psycopg.Error):
            self.conn.close()
        self.conn = connect(self.dsn, connect_timeout=5)
        if in_recovery(self.conn):
            raise read_only(self.conn)
        self._staging()

    def not_synchronous(self) -> list[str]:
        return not_synchronous(self.conn)

    def commit_waits_for(self) -> str:
        return commit_waits_for(self.dsn, self.conn)

    def _ensure_partitions(self, days: set[dt.date], today: dt.date) -> None:
        """Before the batch's transaction: a partition for each new day (a few a day)."""
        for day in sorted(days - self._days):
            if not gets_partition(day, today):
                continue   # the default partition's, until (if ever) its time comes
            try:
                with self.conn.transaction():
                    self.conn.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])
                    create_partition(self.conn, day)
            except psycopg.errors.CheckViolation:
                # Rows of that day already sit in the default partition (a station clock
                # ahead of ours): they and the new ones stay there, still stored once.
                log.warning("events of %s stay in events_other", day)
            self._days.add(day)

    # A batch's stations as arrays, two or four parameters whatever their number:
    # psycopg parses a query's placeholders in Python, 17 ms for the 4,000 of a batch
    # from 1,000 stations.
    def _make_stations(self, stations: list[tuple[str, str]]) -> None:
        sites, names = zip(*stations, strict=True)
        self.conn.execute("INSERT INTO stations(site, station) SELECT * FROM "
                          "unnest(%s::text[], %s::text[]) ON CONFLICT DO NOTHING",
                          [list(sites), list(names)])

    def _progress(self, stations: list[tuple[str, str]]) -> Iterable[tuple[str, str, int, int]]:
        sites, names = zip(*stations, strict=True)
        return self.conn.execute(
            "SELECT site, station, contiguous, max_seq FROM stations WHERE (site, station) IN "
            "(SELECT * FROM unnest(%s::text[], %s::text[])) ORDER BY site, station FOR UPDATE",
            [list(sites), list(names)])

    def _set_progress(self, updates: list[tuple[int, int, str, str]]) -> None:
        contiguous, max_seq, sites, names = zip(*updates, strict=True)
        self.conn.execute(
            "UPDATE stations SET contiguous = v.contiguous, max_seq = v.max_seq FROM "
            "unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[]) "
            "AS v(contiguous, max_seq, site, station) "
            "WHERE stations.site = v.site AND stations.station = v.station",
            [list(contiguous), list(max_seq), list(sites), list(names)])

    def _transaction(self) -> AbstractContextManager[Any]:
        return self.conn.transaction()

    def iter_events(self, site: str = "", window: Window | None = None) -> Iterator[Event]:
        with self.conn.transaction():   # the server-side cursors live in it
            yield from super().iter_events(site, window)

    def writable(self) -> bool:
        return not in_recovery(self.conn)

    def another(self) -> PgEventStore:
        return PgEventStore(self.dsn)

    def _reading(self) -> AbstractContextManager[Any]:
        return self.conn.transaction()

    def _added(self, block: list[tuple[Any, ...]]) -> None:
        self._execute(NEW_ROWS)
        with self.conn.cursor() as cur, cur.copy(COPY_NEW) as copy:
            copy.set_types(["text", "bytea", "bool", "text"])
            for row in block:
                copy.write_row(row)
        self._execute(ADD_NEW)

    def _stream(self, query: str, params: Any, name: str) -> Iterator[Any]:
        # A server-side cursor: the rows come 10,000 at a time, not all at once.
        with self.conn.cursor(name=f"natest_{name}") as cur:
            cur.itersize = 10_000
            cur.execute(query, params)
            yield from cur

    def _blocks(self, query: str, params: Any, name: str) -> Iterator[list[Any]]:
        with self.conn.cursor(name=f"natest_{name}") as cur:
            cur.execute(query, params)
            while rows := cur.fetchmany(FETCHED):
                yield rows

    def _dated(self, statement: str, window: Window) -> sql.Composed:
        # Literal dates: the planner prunes the other days' partitions before it plans.
        first, last = (event_day(rfc3339(moment)) for moment in window)
        return sql.SQL(statement).format(first=sql.Literal(first), last=sql.Literal(last))

    def _instant(self, stored: Any) -> str:
        return rfc3339(stored)

    def write(self, batch: Batch, now: dt.datetime) -> Written:
        try:
            self._ensure_partitions({event_day(e.body["ts"]) for e in batch.events},
                                    now.date())
            return super().write(batch, now)
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            # The server became a standby under this connection (an old leader rejoining):
            # the database is away for writes, not refusing this batch.
            raise read_only(self.conn) from exc

    def _insert_events(self, events: list[Arrived], now: dt.datetime) -> int:
        text = copy_text(events, now.isoformat())
        try:
            with self.conn.transaction(), self.conn.cursor() as cur, cur.copy(
                    COPY_EVENTS) as copy:
                copy.write(text)
            return len(events)
        except psycopg.errors.UniqueViolation:
            pass   # a redelivery in the batch: only the savepoint is rolled back
        with self.conn.cursor() as cur:
            with cur.copy(COPY_STAGING) as copy:
                copy.write(text)
            cur.execute(FROM_STAGING)
            return int(cur.rowcount)
