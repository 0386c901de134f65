"""Each report made of a `Day` (day.py): `BUILT`, one builder a report the catalogue
declares (catalogue.py), each handing its rows on chunk by chunk: the rows of each
station's projection (rows.py), or what recall.py and custody.py read of the store.

positives, results, resample (recall.py): who to call; --roster fills their phones;
followup (followup.py): each of a positive or invalid pool's people, linked to retests
"""

from __future__ import annotations

from collections.abc import Callable

from central.reports.catalogue import ReportName
from central.reports.coverage_apart import read_roster
from central.reports.custody import custody_rows
from central.reports.day import Asked, Chunks, Day
from central.reports.followup import followup_rows
from central.reports.labs import labs_rows
from central.reports.manifest import manifest_rows
from central.reports.projection import Projection, collisions, per_station
from central.reports.recall import positives, resample_rows, results_rows
from central.reports.roster import not_sampled
from central.reports.rows import (
    by_tube,
    forms_awaiting,
    local_hour,
    reconcile,
    register,
    sampled,
    utc_hour,
)
from central.reports.sampled import sampled_documents, say_opened
from central.reports.totals import totals_rows


def _register(ask: Asked, day: Day) -> Chunks:
    """A station at a time, as the database orders stations; in Chinese grouped tube by
    tube, in the machine form in the order events came in."""
    return ask.signers.watch(by_tube(register(p)) if ask.zone else register(p)
                             for _, p in day.stations())


def _totals(ask: Asked, day: Day) -> Chunks:
    zone = ask.zone
    hour = utc_hour if zone is None else (lambda ts: local_hour(ts, zone))
    return ask.signers.watch([totals_rows(day.stations(), ask.span, ask.sites, hour)])


def _reconcile(ask: Asked, day: Day) -> Chunks:
    """Boxes of every station, then paper cards, then open tubes, as one projection's;
    after them the gaps and collisions of every station."""
    rows = per_station(day.stations(), reconcile)
    order = {"box": 0, "tube": 1}
    found = [*ask.signers.watch([sorted(rows, key=lambda r: (order[r["kind"]],
                                                            r["problems"][0][0] == "open"))])]
    gaps = [gap for gap in day.store.gaps() if not ask.site or gap[0] == ask.site]
    return [*found, reconcile(Projection([], [], {}, [], gaps, collisions(day.used)))]


def _missing(ask: Asked, day: Day) -> Chunks:
    assert ask.roster is not None
    return [not_sampled({n for _, p in day.stations() for n in sampled(p)}, ask.roster,
                        ask.encoding)]


def _coverage(ask: Asked, day: Day) -> Chunks:
    """The roster read and checked before anything is written (a city's in workers while
    the documents are read: coverage_apart.py), then counted against the documents
    sampled (read lean, never the register: sampled.py); its refusal comes first still."""
    assert ask.roster is not None
    opener, span = ask.persons.opener, ask.span
    with read_roster(ask.roster, ask.encoding, ask.sites,
                     opener.key_files if opener is not None else None) as roster:
        try:
            found = sampled_documents(day.store, span.padded(), (span.start, span.end),
                                      ask.persons, site=ask.site, progress=ask.progress,
                                      before_writing=roster.checked)
        except Exception:   # any: a refused roster is said before it
            roster.checked()   # the roster's refusal, where it has one, is said first
            raise
        say_opened(found)
        return [roster.counted(found)]


def _positives(ask: Asked, day: Day) -> Chunks:
    rows, ask.recalled = positives(day.store, ask.span, ask.persons)
    return ask.signers.watch([rows])


def _followup(ask: Asked, day: Day) -> Chunks:
    rows = followup_rows(day.store, ask.span, ask.persons, ask.bounds)
    if ask.metrics_file is not None:
        from central.reports import followup_gauges  # noqa: PLC0415

        followup_gauges.write(ask.metrics_file, rows, ask.bounds.at)
    return ask.signers.watch([rows])


def _brief(ask: Asked, day: Day) -> Chunks:
    from central.reports.brief import brief_rows  # noqa: PLC0415

    return [brief_rows(ask, day.store, ask.sites)]   # the roster's coverage, if given


BUILT: dict[ReportName, Callable[[Asked, Day], Chunks]] = {
    "register": _register, "totals": _totals, "reconcile": _reconcile, "missing": _missing,
    "coverage": _coverage,
    "forms": lambda ask, day: ask.signers.watch([per_station(day.stations(),
                                                             forms_awaiting)]),
    "positives": _positives,
    # Watched for the sites the printed title names (printed.py): it hides the 采样点
    # column where every row shares one, so the title must say which.
    "results": lambda ask, day: ask.signers.watch(results_rows(day.store, day.stations())),
    "resample": lambda ask, day: ask.signers.watch([resample_rows(
        day.store, day.stations(), ask.span, ask.persons)]),
    "custody": lambda ask, day: ask.signers.watch(custody_rows(day.store, day.stations(),
                                                               ask.rules, ask.span)),
    "followup": _followup,
    "brief": _brief,
    "manifest": lambda ask, day: ask.signers.watch([manifest_rows(day.store, ask.box)]),
    "labs": lambda ask, day: [labs_rows(day.store, ask.span, ask.rules)],
}
