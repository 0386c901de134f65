"""Which tubes are in which box: packed at the lane (box.closed), and received at a lab
(`receipt_tubes`, migrations.py's 009_scanned_tubes): scanned out of the box at the desk
(`receive --scanned`), or, where the desk only counted, the tubes its lane packed.

Custody compares the two (a tube missing, extra, or in another box); a box's manifest
reads the lane's own events of the box and its tubes; `report labs` and the collector's
gauge follow each received tube to its result. `resulted_at` is set when central first
holds a result for the tube (at receipt, if the result came first), so the tubes still
waiting are a partial index's few rows. Every lookup goes by an index: the events'
`subject`, the receipts' box and time, the received tubes' tube.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import NamedTuple

import msgspec

from central.store.dialect import RECEIVED_TUBES, SCANNED_WHERE, TUBE_SPANS
from central.store.lab_tables import LabTables, Receipt, verdict
from contract import instant
from contract.events import (
    BoxClosedEvent,
    BoxDispatchedEvent,
    Event,
    TubeSealedEvent,
    decode_event,
)


class Waiting(NamedTuple):
    """A lab's received tubes without a result: how many, and since when the oldest."""

    lab: str
    tubes: int
    oldest: str   # RFC 3339


class BoxTubes(LabTables):
    def received_tubes(self, boxes: Iterable[str]) -> dict[str, tuple[set[str], bool]]:
        """Box → (its tubes as received, whether the desk scanned them), of the boxes
        received since receipts kept their tubes."""
        found: dict[str, set[str]] = defaultdict(set)
        scanned: set[str] = set()
        for box, tube, was_scanned in self._in(RECEIVED_TUBES, boxes):
            found[box].add(tube)
            if was_scanned:
                scanned.add(box)
        return {box: (tubes, box in scanned) for box, tubes in found.items()}

    def receive_packed(self, closed: dict[str, list[str]]) -> None:
        """Box → its packed tubes, of the box.closed events a batch brings: a box a lab
        received by its count before its lane's box.closed reached central had no tubes
        to keep then; it gets them now, received where and when its receipt says, so the
        gauge of results owed counts them. Within the caller's transaction; a box with
        no receipt, or with its tubes kept already, is left as it is."""
        receipts = self.receipts_of(closed)
        if not receipts:
            return   # the lane's usual case: its box reaches central before the lab
        kept = self.received_tubes(receipts)
        for box, (lab, counted, at) in receipts.items():
            if box not in kept:
                self._receipt_tubes(Receipt(0, box, lab, counted, instant(at)), closed[box],
                                    scanned=False)

    def scanned_where(self, tubes: Iterable[str]) -> dict[str, set[str]]:
        """Tube → the boxes a desk scanned it out of."""
        found: dict[str, set[str]] = defaultdict(set)
        for tube, box in self._in(SCANNED_WHERE, tubes):
            found[tube].add(box)
        return found

    def packed_where(self, tubes: Iterable[str]) -> dict[str, str]:
        """Tube → the box its lane packed it in, of these tubes: looked up at the lanes
        that opened them, through the events' subject and their station's boxes."""
        wanted = set(tubes)
        stations = {(site, station) for site, station, _, _ in self._in(TUBE_SPANS, wanted)}
        found = {}
        for event in self.boxes_at(stations):
            if isinstance(event, BoxClosedEvent):
                for tube in wanted.intersection(event.data.tubes):
                    found[tube] = event.data.box
        return found

    def box_events(self, boxes: Iterable[str]) -> list[Event]:
        """The box.closed and box.dispatched events of these boxes, in (site, station,
        seq) order; an unset station clock's `ts` is when central received the event."""
        return self._timed(self.dialect.box_events, boxes)

    def tubes_sealed(self, tubes: Iterable[str]) -> dict[tuple[str, str, str], TubeSealedEvent]:
        """(site, station, tube) → its tube.sealed event, timed as box_events times."""
        return {(e.site, e.station, e.data.tube): e
                for e in self._timed(self.dialect.tubes_sealed, tubes)
                if isinstance(e, TubeSealedEvent)}

    def _timed(self, sql: str, ids: Iterable[str]) -> list[Event]:
        found = []
        for payload, received in self._in(sql, ids):
            event = decode_event(payload)
            found.append(event if received is None else msgspec.structs.replace(
                event, ts=self._instant(received)))
        return sorted(found, key=lambda e: (e.site, e.station, e.seq))

    def dispatches(self, boxes: Iterable[str]) -> dict[tuple[str, str, str],
                                                        BoxDispatchedEvent]:
        """(site, station, box) → its box.dispatched event."""
        return {(e.site, e.station, e.data.box): e for e in self.box_events(boxes)
                if isinstance(e, BoxDispatchedEvent)}

    def results_waiting(self, start: dt.datetime, end: dt.datetime) -> list[Waiting]:
        """Per lab, the tubes received in [start, end) that no result has come for."""
        return [Waiting(lab, int(n), self._instant(oldest)) for lab, n, oldest in
                self._execute(self.dialect.results_waiting,
                              [self._moment(start), self._moment(end)])]

    def received_results(self, start: dt.datetime, end: dt.datetime) -> dict[
            str, dict[str, str | None]]:
        """Box → tube → when its first result was tested (RFC 3339; None: none yet), of
        the boxes received in [start, end) whose receipt kept their tubes: one read, where
        a tube at a time cost a day's report seconds per 100,000 tubes (BENCHMARKS.md)."""
        found: dict[str, dict[str, str | None]] = defaultdict(dict)
        for box, tube, tested in self._execute(self.dialect.received_results,
                                               [self._moment(start), self._moment(end)]):
            found[box][tube] = None if tested is None else self._instant(tested)
        return found

    def results_by_lab(self, start: dt.datetime, end: dt.datetime) -> dict[
            str, dict[str, int]]:
        """Lab → verdict → the results it tested in [start, end)."""
        found: dict[str, dict[str, int]] = defaultdict(dict)
        for lab, result, n in self._execute(self.dialect.results_by_lab,
                                            [self._moment(start), self._moment(end)]):
            found[lab][verdict(result)] = int(n)
        return found
