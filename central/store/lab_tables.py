"""What labs tell central, kept beside the events: results per tube, and boxes received.

Results are keyed by (tube, lab, time tested): the same row imported twice is one
result, and a retest of the tube (another time) is kept beside the first, never over it.
`recalled_at` is when a recall list (`report positives`) first listed a positive or
invalid result, so an alert can say that a positive has waited. A box is received once;
its receipt keeps the lab's count, compared with the box's own at report time.

Lookups go through the events' `subject` column (the tube or box an event is about,
indexed) and the small indexes below, never through the payloads.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from operator import attrgetter
from typing import Literal, NamedTuple, get_args

import msgspec

from central.store.connection import CHUNK, SqlConnection
from central.store.dialect import (
    AWAITING_RECALL,
    RECEIPTS_OF,
    RESULTS_OF,
    TUBE_SPANS,
    TUBE_STATES,
)
from contract import instant, rfc3339
from contract.events import (
    BoxClosedEvent,
    BoxDispatchedEvent,
    Event,
    TubeOpenedEvent,
    decode_event,
)

OPEN_SPAN = 500   # a tube not closed yet: the events read after its opening
NEARBY = 64       # seqs between two tubes' spans read as one range rather than two


# What a lab says of a tube (阴性, 阳性, 无效/需重采), the one name for it from the file to
# the recall row; the ones that recall people, most urgent first.
Verdict = Literal["negative", "positive", "invalid"]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
TO_RECALL: tuple[Verdict, ...] = ("positive", "invalid")


def verdict(text: str) -> Verdict:
    """A verdict as stored; anything else is a store written by something else."""
    for known in VERDICTS:
        if text == known:
            return known
    raise ValueError(f"a stored result {text!r} is none of {', '.join(VERDICTS)}")


# What a lab's file says of a tube or a box, as its reader (lab_files.py) makes it and these
# tables keep it: the store's records, so the store imports nothing of the reader.
@dataclass(frozen=True)
class Result:
    line: int
    tube: str
    lab: str
    tested_at: dt.datetime   # aware, UTC
    result: Verdict
    ct_orf1ab: float | None
    ct_n: float | None

    @property
    def key(self) -> tuple[str, str, dt.datetime]:
        """What makes a result one: a retest of the tube is another time."""
        return self.tube, self.lab, self.tested_at


@dataclass(frozen=True)
class Receipt:
    line: int
    box: str
    lab: str
    tubes: int
    received_at: dt.datetime
    scanned: tuple[str, ...] = ()   # the tubes scanned out of it at the desk, if they were


class Packed(NamedTuple):
    """A box as a lane closed it (box.closed): where, when, and the tubes packed in it."""

    site: str
    station: str
    box: str
    tubes: tuple[str, ...]
    tube_count: int
    sample_count: int
    ts: str


class StoredResult(NamedTuple):
    """A result as the store gives it back: the same record in every report."""

    tube: str
    lab: str
    tested_at: str           # RFC 3339, UTC
    result: Verdict
    ct_orf1ab: float | None
    ct_n: float | None


def read_together(spans: dict[tuple[str, str, str], tuple[int, int]]
                  ) -> Iterator[tuple[tuple[str, str], int, int]]:
    """Each station's seq ranges to read for these (site, station, tube) spans: spans
    that overlap or lie within NEARBY seqs of each other are read as one range. A
    follow-up's thousands of single tubes sit side by side at a few lanes: dozens of
    queries, not one a tube (BENCHMARKS.md)."""
    ranges: list[tuple[tuple[str, str], int, int]] = []
    for (site, station, _), (first, end) in sorted(spans.items(),
                                                   key=lambda s: (s[0][:2], s[1])):
        if ranges and ranges[-1][0] == (site, station) and first - ranges[-1][2] <= NEARBY:
            ranges[-1] = (ranges[-1][0], ranges[-1][1], max(ranges[-1][2], end))
        else:
            ranges.append(((site, station), first, end))
    return iter(ranges)


class LabTables(SqlConnection):
    """The lab's results and receipts, and the lookups of tubes and boxes they need, on
    the collector's connection (the SQL event store builds on them). The tables are made
    by migrations.py (005_lab_tables)."""

    def tube_states(self, tubes: Iterable[str]) -> dict[str, set[str]]:
        """Tube id → the kinds of tube event central holds for it (opened, sealed,
        voided), for every tube it has heard of."""
        seen: dict[str, set[str]] = defaultdict(set)
        for tube, kind in self._in(TUBE_STATES, tubes):
            seen[tube].add(kind.removeprefix("tube."))
        return seen

    def results_of(self, tubes: Iterable[str]) -> list[StoredResult]:
        """Every result stored for these tubes, oldest test first."""
        found = [StoredResult(tube, lab, self._instant(when), verdict(result), orf, n)
                 for tube, lab, when, result, orf, n in self._in(RESULTS_OF, tubes)]
        return sorted(found, key=lambda r: (r.tested_at, r.tube, r.lab))

    def tubes_to_recall(self, start: dt.datetime, end: dt.datetime) -> set[str]:
        """The tubes with a positive or invalid result tested in [start, end): a city's
        day has hundreds of thousands of results, and only these few can recall anyone."""
        return {tube for (tube,) in self._execute(
            self.dialect.tubes_to_recall, [self._moment(start), self._moment(end)])}

    def add_results(self, results: list[Result], source: str, now: dt.datetime) -> None:
        """New results, in one transaction (the caller checked them all first); the
        received tubes they are of no longer wait for one (box_tubes.py)."""
        with self._transaction():
            self._many(self.dialect.add_result,
                       [(r.tube, r.lab, self._moment(r.tested_at), r.result, r.ct_orf1ab,
                         r.ct_n, source, self._moment(now)) for r in results])
            tubes = sorted({r.tube for r in results})
            for at in range(0, len(tubes), CHUNK):
                chunk = tubes[at:at + CHUNK]
                self._execute(self.dialect.mark_resulted.format(
                    ids=self.dialect.marks(len(chunk))), [self._moment(now), *chunk])

    def mark_recalled(self, results: Iterable[tuple[str, str, str]], now: dt.datetime) -> None:
        """(tube, lab, tested_at) listed by a recall list: no longer waiting for one."""
        with self._transaction():
            for tube, lab, tested in results:
                self._execute(self.dialect.mark_recalled,
                              [self._moment(now), tube, lab, self._moment(instant(tested))])

    def awaiting_recall(self) -> list[tuple[Verdict, str]]:
        """(result, imported_at) of every positive or invalid result no recall list has
        listed yet."""
        return [(verdict(result), self._instant(at))
                for result, at in self._execute(AWAITING_RECALL)]

    def tube_events(self, tubes: Iterable[str]) -> list[Event]:
        """Every event of these tubes (opened, registrations, undo, sealed or voided), in
        (site, station, seq) order: read between each tube's opening and its closing. An
        event whose station's clock was unset has its `ts` from when central received it,
        as iter_events gives it: a sample has one time in every report."""
        spans: dict[tuple[str, str, str], tuple[int, int]] = {}
        for site, station, seq, tube in self._in(TUBE_SPANS, tubes):
            first, last = spans.get((site, station, tube), (seq, seq))
            spans[site, station, tube] = (min(first, seq), max(last, seq))
        spans = {key: (first, last if last > first else first + OPEN_SPAN)  # not closed (yet)
                 for key, (first, last) in spans.items()}
        found = []
        for (site, station), first, end in read_together(spans):
            for payload, received in self._execute(self.dialect.span_events,
                                                   [site, station, first, end]):
                event = decode_event(payload)
                span = spans.get((site, station, str(getattr(event.data, "tube", ""))))
                if span is not None and span[0] <= event.seq <= span[1]:
                    found.append(event if received is None else msgspec.structs.replace(
                        event, ts=self._instant(received)))
        return sorted(found, key=attrgetter("site", "station", "seq"))

    def boxes_at(self, stations: Iterable[tuple[str, str]]) -> list[Event]:
        """The boxes closed and dispatched at these stations, in (site, station, seq) order."""
        found = []
        for site, station in sorted(set(stations)):
            found += self._execute(self.dialect.boxes_at, [site, station])
        return [decode_event(payload) for _, payload in found]

    def boxes_closed(self, boxes: Iterable[str]) -> dict[str, int]:
        """Box → the tube count on its slip, of these box ids a station closed (events
        central holds). A box id closed at two lanes (a collision `report reconcile`
        names) gives one of its counts."""
        return {box: packed.tube_count for box, packed in self.packed(boxes).items()}

    def packed(self, boxes: Iterable[str]) -> dict[str, Packed]:
        """Box → how a lane closed it, of these box ids a station closed (one of them,
        for an id closed at two lanes)."""
        closed = {}
        for (payload,) in self._in(self.dialect.boxes_closed, boxes):
            if isinstance(event := decode_event(payload), BoxClosedEvent):
                data = event.data
                closed[data.box] = Packed(event.site, event.station, data.box, data.tubes,
                                          data.tube_count, data.sample_count, event.ts)
        return closed

    def receipts_of(self, boxes: Iterable[str]) -> dict[str, tuple[str, int, str]]:
        """Box → (lab, tubes counted, received at) of those received."""
        return {box: (lab, int(tubes), self._instant(at))
                for box, lab, tubes, at in self._in(RECEIPTS_OF, boxes)}

    def receipts_between(self, start: dt.datetime, end: dt.datetime) -> list[
            tuple[str, str, int, str]]:
        """(box, lab, tubes, received at) of every box received in [start, end)."""
        return [(box, lab, int(tubes), self._instant(at)) for box, lab, tubes, at in
                self._execute(self.dialect.receipts_between,
                              [self._moment(start), self._moment(end)])]

    def add_receipts(self, receipts: list[Receipt], source: str, now: dt.datetime) -> None:
        """New receipts, with the tubes of each: scanned at the desk, or (counted only)
        those its lane packed in it."""
        packed = self.packed(r.box for r in receipts if not r.scanned)
        with self._transaction():
            for r in receipts:
                self._execute(self.dialect.add_receipt,
                              [r.box, r.lab, r.tubes, self._moment(r.received_at), source,
                               self._moment(now)])
                tubes = r.scanned or (packed[r.box].tubes if r.box in packed else ())
                self._receipt_tubes(r, tubes, scanned=bool(r.scanned))

    def add_scans(self, receipt: Receipt) -> None:
        """The tubes scanned out of a box received earlier by its count alone, in place
        of the ones its lane packed: received where and when the stored receipt says (a
        scan made later must not move the tubes' wait for a result)."""
        lab, _, at = self.receipts_of([receipt.box])[receipt.box]
        receipt = replace(receipt, lab=lab, received_at=instant(at))
        with self._transaction():
            self._execute(self.dialect.drop_packed, [receipt.box])
            self._receipt_tubes(receipt, receipt.scanned, scanned=True)

    def _receipt_tubes(self, r: Receipt, tubes: Iterable[str], *, scanned: bool) -> None:
        self._many(self.dialect.add_receipt_tube,
                   [(r.box, tube, scanned, r.lab, self._moment(r.received_at), tube)
                    for tube in tubes])

    def in_transit(self, since: dt.datetime) -> list[tuple[str, str]]:
        """(box, dispatched ts) of boxes handed to a courier since then, not received."""
        return [(box, ts) for box, ts in self._execute(self.dialect.in_transit,
                                                       [rfc3339(since)])]

    def sealed_between(self, start: dt.datetime, end: dt.datetime,
                       now: dt.datetime) -> dict[tuple[str, str], int]:
        """(site, station) → tubes sealed in [start, end) and not voided by now (a voided
        tube is sampled again in a new one: it is never counted as sealed, whenever the
        void came, as custody and totals count it)."""
        return {(site, station): int(n) for site, station, n in self._execute(
            self.dialect.sealed_between, [rfc3339(start), rfc3339(end), rfc3339(now)])}

    def dispatched_tubes_between(self, start: dt.datetime, end: dt.datetime) -> dict[
            tuple[str, str], int]:
        """(site, station) → tubes in the boxes handed to a courier in [start, end)."""
        sent: dict[tuple[str, str], int] = defaultdict(int)
        for (payload,) in self._execute(self.dialect.dispatched_between,
                                        [rfc3339(start), rfc3339(end)]):
            event = decode_event(payload)
            if isinstance(event, BoxDispatchedEvent):
                sent[event.site, event.station] += event.data.tube_count
        return sent

    def pool_sizes(self, tubes: Iterable[str]) -> dict[str, int]:
        """Tube → the pool size it was opened for (1: a single tube), of these tubes a
        station opened. A tube id opened at two lanes (a collision) gives the larger."""
        sizes: dict[str, int] = {}
        for (payload,) in self._in(self.dialect.tubes_opened, tubes):
            if isinstance(event := decode_event(payload), TubeOpenedEvent):
                data = event.data
                sizes[data.tube] = max(sizes.get(data.tube, 0), data.pool_size)
        return sizes

    def singles_since(self, start: dt.datetime) -> set[str]:
        """The single tubes (pool_size 1) opened since `start`, at any lane: where a pool's
        people are sampled again (单采复核)."""
        return {tube for (tube,) in self._execute(
            self.dialect.singles_since, [rfc3339(start), self._moment(start)])}
