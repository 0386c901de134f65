"""The brief's figures of every site, counted in the database (store/day_counts.py), never
by folding the round's register: a city's day of 5 million events folded in Python took
the brief 90 s and more (BENCHMARKS.md, #41 item 5).

Each figure is the register's (brief.py says what they are), reached another way:
- people: the registrations of the round counted by site, less those the register holds
  undone, found by folding only the events of the tubes an undo or a void touched, with
  the register's own fold (projection.py): a registration's status is decided by its
  station's events of its tube alone;
- tubes: those whose last seal or void (by seq) at their station is a seal, sealed in the
  round; with a result back as of `--at`; those with a result other than negative have
  their results read, and the register's rule (recall.deciding) picks the pools;
- boxes: the round's boxes closed and handed over, folded as the register folds them
  (few: a box holds tens of tubes), with their labs' receipts;
- late tubes: the counted tubes sealed on a day whose cutoff has passed, judged with
  their station's boxes by custody's own rule (custody.undispatched).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterator

from central.reports.brief_figures import Figures
from central.reports.custody import overdue, undispatched
from central.reports.day import Asked
from central.reports.opening import Persons
from central.reports.opening_pool import unsealed
from central.reports.period import MARGIN, Period
from central.reports.projection import Projection, Registration, Station, by_station
from central.reports.recall import by_tube, deciding, known_by
from central.store.day_counts import CountedTubes, Span
from central.store.event_store import SqlEventStore
from central.store.lab_tables import StoredResult
from contract import instant

Recall = dict[str, tuple[str, StoredResult]]   # tube → its site and deciding result
# How far either side of the days whose cutoff has passed the tubes sealed are read: each
# is then judged by custody's own rule, so the read may hold more than it keeps.
EITHER_SIDE = dt.timedelta(seconds=1)


def today_of(ask: Asked) -> dt.datetime:
    """The start of `--at`'s local day: the round's last."""
    return dt.datetime.combine(ask.span.last, dt.time(), ask.span.zone)


def span_of(ask: Asked) -> Span:
    """The events the brief reads (from the round's first day, by the period's margin:
    a tube opened before midnight, up to `--at`) and what of them it counts."""
    return Span(ask.span.start - MARGIN, ask.rules.at, ask.span.start, ask.span.end,
                today_of(ask))


def counted(ask: Asked, store: SqlEventStore, found: dict[str, Figures]) -> Recall:
    """Each site's figures of the round as of `--at` added to `found` (a site only where
    the register would name it); the tubes to recall."""
    span = span_of(ask)
    people(store, span, ask.span, found)
    round_tubes = store.tubes_of_round(span, before_cutoffs(ask))
    recall = tubes(store, span, round_tubes, found)
    boxes = dict(boxes_by_station(store, span, ask.span))
    box_figures(ask, store, boxes, found)
    late_tubes(ask, round_tubes.sealed, boxes, found)
    return recall


def people(store: SqlEventStore, span: Span, period: Period,
           found: dict[str, Figures]) -> None:
    standing: Counter[tuple[str, bool]] = Counter()
    for site, today, n in store.people_by_site(span):
        standing[site, today] += n
    for reg in undone(store, span, period):
        standing[reg.site, instant(reg.time) >= span.today] -= 1
    for (site, today), n in standing.items():
        if n:
            found[site].people_round += n
            found[site].people_today += n if today else 0


def undone(store: SqlEventStore, span: Span, period: Period) -> Iterator[Registration]:
    """The round's registrations that do not stand (cancelled, or their tube voided), as
    the register's fold leaves them, folded from the events of their tubes alone."""
    events = unsealed(store.undone_events(span), {}, Persons()).events
    for _, p in by_station(events, {}, defaultdict(set)):
        yield from (r for r in p.registrations
                    if r.status != "registered" and period.holds(r.time))


def tubes(store: SqlEventStore, span: Span, round_tubes: CountedTubes,
          found: dict[str, Figures]) -> Recall:
    for site, today, back, n in round_tubes.by_site:
        figures = found[site]
        figures.tubes_round += n
        figures.tubes_today += n if today else 0
        figures.results_back += n if back else 0
    candidates = round_tubes.to_decide
    results = by_tube(known_by(store.results_of({t for *_, t in candidates}), span.at))
    recall: Recall = {}
    for site, _, tube in candidates:   # in the stations' order: a later station's wins
        decided = deciding(results.get(tube, []))
        if decided is not None and decided.result != "negative":
            recall[tube] = (site, decided)
    return recall


def boxes_by_station(store: SqlEventStore, span: Span, period: Period
                     ) -> Iterator[tuple[Station, Projection]]:
    """Each station's boxes of the round, as the register's fold makes them."""
    for key, p in by_station(store.boxes_of_round(span), {}, defaultdict(set)):
        yield key, Projection([], [b for b in p.boxes if period.holds(b["ts"])], {}, [],
                              [], [], period.holds)


def box_figures(ask: Asked, store: SqlEventStore, boxes: dict[Station, Projection],
                found: dict[str, Figures]) -> None:
    at, today = ask.rules.at, today_of(ask)
    every = [box for p in boxes.values() for box in p.boxes]
    receipts = {box: got for box, got in store.receipts_of(b["box"] for b in every).items()
                if instant(got[2]) <= at}
    for box in every:
        figures = found[box["site"]]
        figures.boxes_dispatched += bool(box.get("dispatched")) and (
            instant(box["dispatched"]) >= today)
        got = receipts.get(box["box"])
        figures.boxes_received += got is not None and instant(got[2]) >= today
        figures.boxes_overdue += overdue(box, got, ask.rules)


def late_tubes(ask: Asked, candidates: list[tuple[str, str, str, str]],
               boxes: dict[Station, Projection], found: dict[str, Figures]) -> None:
    """Tubes sealed before a cutoff that has passed and not handed over by it."""
    sealed: dict[Station, dict[tuple[str, str, str], str]] = defaultdict(dict)
    for site, station, tube, ts in candidates:
        sealed[site, station][site, station, tube] = ts
    cutoffs: dict[str, dt.datetime] = {}
    for key, tubes_of in sealed.items():
        held = boxes.get(key)
        p = Projection([], held.boxes if held else [], tubes_of, [], [], [], ask.span.holds)
        for row in undispatched(p, ask.rules, ask.span.zone, cutoffs):
            found[row["site"]].tubes_late += 1


def before_cutoffs(ask: Asked) -> tuple[dt.datetime, dt.datetime]:
    """When the tubes that may be late were sealed: from the first day of the round
    whose cutoff has passed by `--at` to the last such cutoff (none: an empty range)."""
    day, zone, passed = ask.span.first, ask.span.zone, []
    while day <= ask.span.last:
        if (cutoff := dt.datetime.combine(day, ask.rules.cutoff, zone)) <= ask.rules.at:
            passed.append((dt.datetime.combine(day, dt.time(), zone), cutoff))
        day += dt.timedelta(days=1)
    if not passed:
        return ask.rules.at, ask.rules.at
    return passed[0][0] - EITHER_SIDE, passed[-1][1] + EITHER_SIDE
