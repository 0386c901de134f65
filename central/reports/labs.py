"""`report labs`: how each lab did in the period, and which tubes it still owes a result.

Per lab: the boxes it received in the period and their tubes (as the desk counted or
scanned them), the results it returned (tested in the period) and how many were 无效,
and the turnaround of the tubes it received, from receipt to the first result stored
for the tube (its test time): median, 90th percentile (nearest rank) and longest, in
hours. A received tube with no result yet is waiting; one waiting longer than
`--result-due` (RESULT_DUE) as of `--at` is overdue: the lab's row is flagged, and each
such tube is a row after it, with its box and how long it has waited.

All of it as of `--at`, as the brief counts (brief.py, recall.known_by): a receipt after
it is not counted, nor a result tested after it, so a run for a past moment says what
was known then, and the period's windows end at `--at` where it falls inside them.

A received box's tubes are those the desk scanned, or (counted only) those its lane
packed, as the receipt kept them (store/box_tubes.py); a box received before receipts
kept their tubes is read from its box.closed. Nothing personal: ids, counts, times.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from central.reports.custody import Rules
from central.reports.period import Period
from central.reports.recall import known_by
from central.store.event_store import SqlEventStore
from contract import instant

# Stored times are kept to the millisecond (contract.rfc3339): a window ending one after
# `--at` holds everything up to and including it, as known_by reads.
TICK = dt.timedelta(milliseconds=1)


@dataclass
class Lab:
    boxes: int = 0
    tubes: int = 0
    turnaround_h: list[float] = field(default_factory=list)
    waiting: list[tuple[str, str, str]] = field(default_factory=list)   # (box, tube, at)


def received_results(store: SqlEventStore, span: Period, at: dt.datetime, receipts: list[
        tuple[str, str, int, str]]) -> dict[str, dict[str, str | None]]:
    """Box → its tubes as received (scanned, or as packed) → when each tube's first
    result was tested, if by `at` (None: none yet then), for the receipts given (those
    of the period received by `at`)."""
    kept = {box: {tube: tested if tested is not None and instant(tested) <= at else None
                  for tube, tested in tubes.items()}
            for box, tubes in store.received_results(span.start, _until(span, at)).items()}
    older = store.packed(box for box, *_ in receipts if box not in kept)
    first = first_results(store, {tube for box in older.values() for tube in box.tubes}, at)
    return {box: kept.get(box) or {tube: first.get(tube) for tube in
                                    (older[box].tubes if box in older else ())}
            for box, *_ in receipts}


def _until(span: Period, at: dt.datetime) -> dt.datetime:
    """The period's end, or `--at` where it falls inside the period."""
    return min(span.end, at + TICK)


def labs_rows(store: SqlEventStore, span: Period, rules: Rules) -> list[dict[str, Any]]:
    until = _until(span, rules.at)
    receipts = store.receipts_between(span.start, until)
    tubes_of = received_results(store, span, rules.at, receipts)
    labs: dict[str, Lab] = defaultdict(Lab)
    for box, lab, counted, received in receipts:
        seen = labs[lab]
        seen.boxes += 1
        seen.tubes += counted
        for tube, tested in sorted(tubes_of[box].items()):
            if tested is not None:
                hours = (instant(tested) - instant(received)).total_seconds() / 3600
                seen.turnaround_h.append(hours)
            else:
                seen.waiting.append((box, tube, received))
    returned = store.results_by_lab(span.start, until)
    rows = []
    for name in sorted({*labs, *returned}):
        rows += lab_rows(name, labs[name], returned.get(name, {}), rules)
    return rows


def first_results(store: SqlEventStore, tubes: set[str], at: dt.datetime) -> dict[str, str]:
    """Tube → when its first result was tested (RFC 3339), of these tubes with one
    tested by `at`."""
    first: dict[str, str] = {}
    for result in known_by(store.results_of(tubes), at):   # oldest test first
        first.setdefault(result.tube, result.tested_at)
    return first


def lab_rows(name: str, lab: Lab, returned: dict[str, int], rules: Rules) -> list[
        dict[str, Any]]:
    """The lab's row, and a row for each tube past the bound."""
    results = sum(returned.values())
    invalid = returned.get("invalid", 0)
    late = [(box, tube, at) for box, tube, at in lab.waiting
            if rules.at - instant(at) > rules.result_due]
    times = sorted(lab.turnaround_h)
    row = {"kind": "lab", "lab": name, "boxes": lab.boxes, "tubes": lab.tubes,
           "results": results, "invalid": invalid,
           "invalid_rate": f"{100 * invalid / results:.1f}" if results else "",
           "turnaround_median_h": _hours(statistics.median(times)) if times else "",
           "turnaround_p90_h": _hours(times[math.ceil(0.9 * len(times)) - 1]) if times else "",
           "turnaround_max_h": _hours(times[-1]) if times else "",
           "waiting": len(lab.waiting), "overdue": len(late),
           "problems": "result_overdue" if late else "ok"}
    return [row, *({"kind": "tube", "lab": name, "box": box, "tube": tube, "received": at,
                    "waited_h": _hours(_waited(rules.at, at)), "problems": "result_overdue"}
                   for box, tube, at in late)]


def _waited(now: dt.datetime, since: str) -> float:
    return (now - instant(since)).total_seconds() / 3600


def _hours(value: float) -> str:
    return f"{value:.1f}"
