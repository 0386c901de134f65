"""The collector's database: events stored once by id, each station's highest
contiguous seq and presence, and a quarantine for what fails the contract.

One implementation of those promises (`SqlEventStore`); SQLite and PostgreSQL differ
only in their dialect: each statement's text (dialect.py), how a transaction starts,
how a batch's rows go in, and PostgreSQL's row lock, so that collectors sharing a
database never race on a station. Their tables are made by migrations.py.
"""

from __future__ import annotations

import datetime as dt
import heapq
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, NamedTuple, Protocol

import msgspec

from central.store.day_counts import DayCounts
from central.store.dialect import COUNTS, FORM_DATA, PRESENCE, Dialect
from central.store.documents import SampledDocuments
from contract import rfc3339
from contract.events import BoxClosed, Event, decode_event

Window = tuple[dt.datetime, dt.datetime]   # [start, end), aware
# A paper card's typed data as imported: serial, id_number, name, phone, id_type, person_jwe
# (a plain card's fields, or a sealed one's token alone: central.intake.forms).
FormRow = tuple[str, str, str, str, str, str]
FETCHED = 10_000   # rows a block read (_blocks) fetches at once


# What the collector writes of an event, in the order its rows are built (_rows).
EVENT_COLUMNS = ("id", "site", "station", "seq", "session", "ts", "type", "payload",
                 "received_at")
# Read off the payload at ingest, for what reports look up without opening payloads: the
# tube or box an event is about (a lab's result names only the tube, a receipt only the
# box), and whether the station's clock was unset (such an event is placed in a day by
# when central received it). Their columns are made by migrations.py's 004_facts.
FACT_COLUMNS = ("subject", "unsynced")


def subject(data: dict[str, Any]) -> str | None:
    """The tube or box an event's data is about, if any."""
    found = data.get("tube") or data.get("box")
    return found if isinstance(found, str) else None


def boxes_closed(events: list[Arrived]) -> dict[str, list[str]]:
    """Box → its packed tubes, of the box.closed events among these."""
    return {e["data"]["box"]: e["data"]["tubes"] for e, _, _ in events
            if e["type"] == BoxClosed.type}


class FormData(NamedTuple):
    """A paper card's data as the reports read it: plain (a test database's), or its
    person sealed in `person_jwe` with the other fields blank."""

    id_number: str
    name: str
    id_type: str
    person_jwe: str
    phone: str = ""


class Arrived(NamedTuple):
    """A message that passed the contract: its body, its payload as received (stored as
    the station sent it), and the topic it came on (kept if it must be quarantined)."""

    body: dict[str, Any]
    raw: str
    topic: str


@dataclass
class Batch:
    """What one commit writes: validated events and statuses, and what failed the contract."""

    events: list[Arrived] = field(default_factory=list)
    statuses: list[Arrived] = field(default_factory=list)
    quarantined: list[tuple[str, bytes, str]] = field(default_factory=list)  # topic, payload, why


@dataclass(frozen=True)
class Written:
    new: int                         # events stored for the first time (the rest: duplicates)
    late: list[dict[str, Any]]       # statuses older than what the station table has


class EventStore(Protocol):
    """What the collector and the reports need of a database, SQLite or PostgreSQL."""

    # Whether batches written at once through connections of their own go faster
    # (PostgreSQL); SQLite takes one writer at a time.
    concurrent_writes: bool

    def write(self, batch: Batch, now: dt.datetime) -> Written: ...
    def presence(self) -> dict[str, int]: ...
    def missing(self) -> int: ...
    def import_forms(self, rows: list[FormRow], now: dt.datetime) -> None: ...
    def form_data(self) -> dict[str, FormData]: ...
    def gaps(self) -> list[tuple[str, str, int, int]]: ...
    def iter_events(self, site: str = "", window: Window | None = None) -> Iterator[Event]: ...
    def count(self, table: str) -> int: ...
    def reconnect(self) -> None: ...
    def not_synchronous(self) -> list[str]: ...
    def commit_waits_for(self) -> str: ...
    def close(self) -> None: ...


class SqlEventStore(DayCounts, SampledDocuments, ABC):
    """The promises, written once. Each statement is the dialect's own (dialect.py); a
    dialect sets its transaction, how it stores times, and its tables (migrations.py)."""

    dialect: Dialect
    concurrent_writes: bool
    conn: Any

    def __init__(self) -> None:
        # Stations whose progress row is known to exist (rows are never deleted): the
        # INSERT … ON CONFLICT that makes one is skipped for them. At 1,000 stations a
        # batch's events come from as many stations as it has events.
        self._known: set[tuple[str, str]] = set()

    @abstractmethod
    def reconnect(self) -> None: ...

    def not_synchronous(self) -> list[str]:
        """Why a commit here may be on no other server: PostgreSQL's replication says;
        a SQLite file is one machine's by design, and says nothing."""
        return []

    def commit_waits_for(self) -> str:
        """What a commit that has not returned waits for, as far as the database says."""
        return ""

    def write(self, batch: Batch, now: dt.datetime) -> Written:
        """All of a batch in one transaction: events once by id, each station's progress
        advanced once, statuses, quarantine."""
        made: list[tuple[str, str]] = []
        with self._transaction():
            new = 0
            if batch.events:
                new = self._insert_events(batch.events, now)
                made = self._advance(batch.events)
                self.receive_packed(boxes_closed(batch.events))
            late = [s.body for s in batch.statuses if not self._set_presence(s.body, now)]
            for topic, payload, reason in batch.quarantined:
                self._execute(self.dialect.quarantine,
                              [topic, payload, reason[:500], self._moment(now)])
        self._known.update(made)   # only once committed: a rollback takes the rows back
        return Written(new, late)

    @staticmethod
    def _rows(events: list[Arrived], received: Any) -> list[tuple[Any, ...]]:
        """Each event's EVENT_COLUMNS, then its FACT_COLUMNS. In id order: collectors
        sharing a database then wait on each other's uncommitted ids (a redelivery to
        both) in one order, never in a cycle."""
        return sorted(((e["id"], e["site"], e["station"], e["seq"], e["session"], e["ts"],
                        e["type"], raw, received, subject(e["data"]), not e["clock_synced"])
                       for e, raw, _ in events), key=itemgetter(0))

    @abstractmethod
    def _insert_events(self, events: list[Arrived], now: dt.datetime) -> int:
        """Insert those not yet stored (by id); how many were new."""

    def _advance(self, events: list[Arrived]) -> list[tuple[str, str]]:
        """Each station's contiguous prefix and highest seq, once per batch; the stations
        whose progress row it made sure of."""
        seqs: dict[tuple[str, str], set[int]] = defaultdict(set)
        for event, _, _ in events:
            seqs[event["site"], event["station"]].add(event["seq"])
        stations = sorted(seqs)  # one lock order for every collector: no deadlock
        unknown = [key for key in stations if key not in self._known]
        if unknown:
            self._make_stations(unknown)
        updates = []
        # One query for every station of the batch, locked in key order, and one update:
        # a batch from 1,000 stations made 1,000 round trips for each, the most of its time.
        progress = {(site, station): (contiguous, max_seq)
                    for site, station, contiguous, max_seq in self._progress(stations)}
        for site, station in stations:
            contiguous, max_seq = progress[site, station]
            arrived = seqs[site, station]
            if contiguous + 1 in arrived:
                if max_seq <= contiguous:
                    # Nothing was stored beyond the prefix before: this batch alone extends it.
                    while contiguous + 1 in arrived:
                        contiguous += 1
                else:  # a gap this batch filled: walk over what arrived before it too
                    contiguous = self._walk(site, station, contiguous)
            updates.append((contiguous, max(max_seq, *arrived), site, station))
        self._set_progress(updates)
        return unknown

    # A batch's stations at once, in the dialect's way of passing many rows.
    @abstractmethod
    def _make_stations(self, stations: list[tuple[str, str]]) -> None:
        """A progress row for each (site, station) that has none."""

    @abstractmethod
    def _progress(self, stations: list[tuple[str, str]]) -> Iterable[tuple[str, str, int, int]]:
        """(site, station, contiguous, max_seq) of each, in key order (and locked, where
        several writers share the database)."""

    @abstractmethod
    def _set_progress(self, updates: list[tuple[int, int, str, str]]) -> None:
        """(contiguous, max_seq, site, station) written, in one statement."""

    def _walk(self, site: str, station: str, contiguous: int) -> int:
        for (stored,) in self._execute(self.dialect.walk, [site, station, contiguous]):
            if stored != contiguous + 1:
                break
            contiguous = stored
        return contiguous

    def _set_presence(self, status: dict[str, Any], now: dt.datetime) -> bool:
        """Take a status unless it is older than what we have (a late 'lost' from an
        earlier connection); True when taken."""
        site, station = status["site"], status["station"]
        self._execute(self.dialect.station, [site, station])
        # The high-water mark only grows, whatever the order statuses arrive in.
        self._execute(self.dialect.high_water, [status.get("last_seq", 0), site, station])
        cur = self._execute(self.dialect.status, [
            status["state"], status["connection"], status["session"], self._moment(now),
            site, station, status["connection"]])
        return bool(cur.rowcount == 1)

    def gaps(self) -> list[tuple[str, str, int, int]]:
        """(site, station, first missing seq, last missing seq) for each station's first gap:
        below the highest seq received, or up to the high-water mark its status announced
        (events lost at the tail, with nothing after them to show the gap)."""
        return [(site, station, first, last)
                for site, station, first, last in self._execute(self.dialect.gaps)]

    def presence(self) -> dict[str, int]:
        """How many stations are in each state of their last status ("unknown": none yet)."""
        return {state: int(n) for state, n in self._execute(PRESENCE)}

    def missing(self) -> int:
        """Events announced (a higher seq, a status's high-water mark) but not stored."""
        row = self._execute(self.dialect.missing).fetchone()
        return int(row[0]) if row else 0

    def import_forms(self, rows: list[FormRow], now: dt.datetime) -> None:
        """Typed data of paper cards: (serial, id_number, name, phone, id_type, person_jwe),
        the person either plain or sealed (central.intake.forms.sealed_rows). A card
        imported again is corrected, not doubled."""
        with self._transaction():
            self._many(self.dialect.import_forms, [(*row, self._moment(now)) for row in rows])

    def form_data(self) -> dict[str, FormData]:
        """serial → (id_number, name, id_type, person_jwe, phone) of every card whose
        data was imported: the reports' opening stage (central.reports.opening_pool.unsealed)
        reads them."""
        return {serial: FormData(number, name, kind, token, phone)
                for serial, number, name, kind, token, phone in self._execute(FORM_DATA)}

    def iter_events(self, site: str = "", window: Window | None = None) -> Iterator[Event]:
        """Every event (of one site, or all; of a window of time, or all) in (site,
        station, seq) order, typed, read as it is used: a city's day does not fit in
        memory twice. In a window, an event whose station's clock was unset is placed by
        when central received it, and its `ts` is that time (`clock_synced` stays false,
        so a report can say so)."""
        d, of_site = self.dialect, [site] if site else []
        if window is None:
            every = d.events_of_site if site else d.events
            for (payload,) in self._stream(every, of_site, "all"):
                yield decode_event(payload)
            return
        start, end = window
        synced = self._stream(self._dated(d.synced_of_site if site else d.synced, window),
                              [rfc3339(start), rfc3339(end), *of_site], "synced")
        unsynced = self._stream(d.unsynced_of_site if site else d.unsynced,
                                [self._moment(start), self._moment(end), *of_site], "unsynced")
        for *_, payload, received in heapq.merge(synced, unsynced, key=itemgetter(0, 1, 2)):
            event = decode_event(payload)
            if received is not None:
                event = msgspec.structs.replace(event, ts=self._instant(received))
            yield event

    def _stream(self, query: Any, params: Any, name: str) -> Iterator[Any]:
        """The rows of a query as they come (`name`: a dialect may open a cursor by it)."""
        return iter(self._execute(query, params))

    def _blocks(self, query: Any, params: Any, name: str) -> Iterator[list[Any]]:
        """The rows of a query as they come, in lists of up to FETCHED (`name`: as
        `_stream`'s)."""
        cursor = self._execute(query, params)
        return iter(lambda: cursor.fetchmany(FETCHED), [])

    def count(self, table: str) -> int:
        if table not in COUNTS:
            raise ValueError(f"not a table of the collector: {table!r}")
        row = self._execute(COUNTS[table]).fetchone()
        return int(row[0]) if row else 0

    @abstractmethod
    def another(self) -> SqlEventStore:
        """A connection of its own to the same store: a writer beside a read, or a
        thread's (a connection is used by one thread at a time)."""

    def index_writer(self) -> SqlEventStore:
        return self.another()

    def close(self) -> None:
        self.conn.close()
