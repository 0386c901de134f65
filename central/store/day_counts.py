"""What the daily brief counts of a round in the database itself (report brief, #41 item
5): per site, the registrations and the sealed tubes of a window of events, and the few
rows a count cannot settle alone, never the day's register (a city's day folded in Python
took 90 s and more; BENCHMARKS.md).

The window is iter_events' (event_store.py): an event whose station's clock was synced by
its `ts`, one whose clock was unset by when central received it, that time then its `ts`
(here as text, as the contract writes times). Every comparison of a `ts` is of text, as
the reports' own are (period.py): the contract's times are UTC with milliseconds and a Z,
so text order is time order.

Each dialect's text is composed once, here, from the few parts in which they differ
(`Counting`): the placeholder, the payload as text, the text of a received time, the day
literals by which PostgreSQL prunes partitions (filled by the store's `_dated`), and a
stored result's time as the reports read it (milliseconds: `_instant`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec

from central.store.box_tubes import BoxTubes
from contract import rfc3339
from contract.events import Event, decode_event

REGISTERED = "'sample.registered', 'sample.registered.encrypted'"
UNDONE = "'sample.cancelled', 'tube.voided'"        # what makes a registration not count
TUBE_ENDS = "'tube.sealed', 'tube.voided'"
BOX_EVENTS = "'box.closed', 'box.dispatched'"


@dataclass(frozen=True)
class Counting:
    placeholder: str
    payload: str          # the payload as text, decoded straight into its record
    received_text: str    # received_at as the contract writes a time
    synced_days: str      # more of the synced half's condition: the window's partitions
    known_by: str         # a result (`r`) tested by a time, as the reports compare it


SQLITE_COUNTING = Counting("?", "payload", "received_at", "", "r.tested_at <= ?")
POSTGRESQL_COUNTING = Counting(
    "%s", "payload::text AS payload",
    "to_char(date_trunc('milliseconds', received_at) AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
    " AND day BETWEEN {first} AND {last}",
    "date_trunc('milliseconds', r.tested_at) <= %s")


def window(c: Counting, types: str, *, whole: bool = False) -> str:
    """The window's events of these types: site, station, seq, subject, type, ts (the
    time the event is placed by); `whole`: its payload too, and when central received it
    if its station's clock was unset (else NULL)."""
    p = c.placeholder
    synced, unsynced = f", {c.payload}, NULL AS received" if whole else "", (
        f", {c.payload}, received_at AS received" if whole else "")
    return (f"SELECT site, station, seq, subject, type, ts{synced} FROM events "
            f"WHERE NOT unsynced AND ts >= {p} AND ts < {p}{c.synced_days} "
            f"AND type IN ({types}) UNION ALL SELECT site, station, seq, subject, type, "
            f"{c.received_text} AS ts{unsynced} FROM events WHERE unsynced "
            f"AND received_at >= {p} AND received_at < {p} AND type IN ({types})")


def counted_tubes(c: Counting) -> str:
    """The window's tubes sealed, not voided since (the later of a station's seal and
    void of a tube decides: projection.py), their seal in the period."""
    p = c.placeholder
    return (f"WITH ends AS (SELECT site, station, subject, type, ts, row_number() OVER "
            f"(PARTITION BY site, station, subject ORDER BY seq DESC) AS latest "
            f"FROM ({window(c, TUBE_ENDS)}) w), "
            f"counted AS (SELECT site, station, subject AS tube, ts FROM ends "
            f"WHERE latest = 1 AND type = 'tube.sealed' AND ts >= {p} AND ts < {p}) ")


@dataclass(frozen=True)
class Statements:
    people: str       # registrations of the period by site and today, undone or not
    undone: str       # every registration, undo and void of a tube undone in the window
    # The counted tubes read once (four reads of them took the brief 8 s at 5 million
    # events): their count by site, today and whether a result is back (kind 0), those
    # with a result other than negative (1, in the stations' order), those sealed in a
    # range of time (2).
    tubes: str
    boxes: str        # the window's box events


def statements(c: Counting) -> Statements:
    p = c.placeholder
    tubes = counted_tubes(c)
    known = (f"EXISTS (SELECT 1 FROM results r WHERE r.tube = counted.tube "
             f"AND {c.known_by}")
    return Statements(
        people=(f"SELECT site, ts >= {p}, count(*) FROM ({window(c, REGISTERED)}) w "
                f"WHERE ts >= {p} AND ts < {p} GROUP BY 1, 2"),
        undone=(f"SELECT site, station, seq, payload, received FROM "
                f"({window(c, f'{REGISTERED}, {UNDONE}', whole=True)}) w "
                f"WHERE (site, station, subject) IN (SELECT site, station, subject FROM "
                f"({window(c, UNDONE)}) u) ORDER BY site, station, seq"),
        tubes=(f"{tubes}SELECT 0 AS kind, site, NULL AS station, NULL AS tube, NULL AS ts, "
               f"ts >= {p} AS today, {known}) AS back, count(*) AS n FROM counted "
               f"GROUP BY 2, 6, 7 "
               f"UNION ALL SELECT 1, site, station, tube, NULL, FALSE, FALSE, 0 FROM counted "
               f"WHERE {known} AND r.result <> 'negative') "
               f"UNION ALL SELECT 2, site, station, tube, ts, FALSE, FALSE, 0 FROM counted "
               f"WHERE ts >= {p} AND ts < {p} ORDER BY kind, site, station"),
        boxes=(f"SELECT site, station, seq, payload, received FROM "
               f"({window(c, BOX_EVENTS, whole=True)}) w ORDER BY site, station, seq"))


class CountedTubes(NamedTuple):
    by_site: list[tuple[str, bool, bool, int]]      # site, sealed today, result back, n
    to_decide: list[tuple[str, str, str]]           # site, station, tube
    sealed: list[tuple[str, str, str, str]]         # site, station, tube, sealed at


class Span(NamedTuple):
    """What the brief counts in: its window of events [start, at), and the period of
    the round [first, end) whose registrations, seals and boxes count; `today` its last
    day's start."""

    start: dt.datetime
    at: dt.datetime
    first: dt.datetime
    end: dt.datetime
    today: dt.datetime


COUNTING = {"sqlite": statements(SQLITE_COUNTING),
            "postgresql": statements(POSTGRESQL_COUNTING)}


class DayCounts(BoxTubes):
    """The brief's counts, on the collector's connection (the SQL event store builds on
    them), in its dialect's statements."""

    @property
    def counting(self) -> Statements:
        return COUNTING[self.dialect.name]

    def _dated(self, statement: str, window: tuple[dt.datetime, dt.datetime]) -> Any:
        """A statement of a window's synced events, with the window's days where the
        dialect has a day to choose partitions by (as it is here: none)."""
        return statement

    def _window(self, span: Span) -> list[Any]:
        return [rfc3339(span.start), rfc3339(span.at), self._moment(span.start),
                self._moment(span.at)]

    def _counted(self, span: Span) -> list[Any]:
        return [*self._window(span), rfc3339(span.first), rfc3339(span.end)]

    def _run(self, statement: str, span: Span, params: list[Any]) -> Any:
        return self._execute(self._dated(statement, (span.start, span.at)), params)

    def people_by_site(self, span: Span) -> Iterator[tuple[str, bool, int]]:
        """(site, of today, how many) registrations placed in the period, whether they
        stand or were undone since (`undone_events` gives those)."""
        for site, today, n in self._run(self.counting.people, span, [
                rfc3339(span.today), *self._window(span), rfc3339(span.first),
                rfc3339(span.end)]):
            yield site, bool(today), int(n)

    def undone_events(self, span: Span) -> Iterator[Event]:
        """Every registration, undo and void of the window's tubes that an undo or a
        void touched (by station and tube), as iter_events gives them: few, to be
        folded as the register folds them."""
        return self._events(self.counting.undone, span, [*self._window(span),
                                                         *self._window(span)])

    def boxes_of_round(self, span: Span) -> Iterator[Event]:
        """The window's boxes closed and handed over, as iter_events gives them."""
        return self._events(self.counting.boxes, span, self._window(span))

    def _events(self, statement: str, span: Span, params: list[Any]) -> Iterator[Event]:
        for *_, payload, received in self._run(statement, span, params):
            event = decode_event(payload)
            yield event if received is None else msgspec.structs.replace(
                event, ts=self._instant(received))

    def tubes_of_round(self, span: Span, sealed: tuple[dt.datetime, dt.datetime]
                       ) -> CountedTubes:
        """The counted tubes: by site; those to decide (a result other than negative by
        `at`), in the stations' order; and those sealed in [start, end) of `sealed`."""
        found = CountedTubes([], [], [])
        at = self._moment(span.at)
        for kind, site, station, tube, ts, today, back, n in self._run(
                self.counting.tubes, span, [*self._counted(span), rfc3339(span.today), at,
                                            at, *(rfc3339(t) for t in sealed)]):
            if kind == 0:
                found.by_site.append((site, bool(today), bool(back), int(n)))
            elif kind == 1:
                found.to_decide.append((site, station, tube))
            else:
                found.sealed.append((site, station, tube, ts))
        return found
