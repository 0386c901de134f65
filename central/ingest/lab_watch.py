"""What the operations team is alerted to between swab and result, as gauges on the
collector's metrics, read from the database once a minute:

- positive or invalid results no recall list (`report positives`) has listed yet, and
  how long the oldest has waited: a positive pool's people must be called at once;
- boxes handed to a courier and not received at a lab, and the oldest one's time out;
- tubes sealed before today's dispatch cutoff (`--cutoff`, local, default 17:00) and not
  in a box handed over by it, once the cutoff has passed;
- per lab, tubes it received more than `--result-due` ago (default 12 h) with no result
  yet, and how long the one received longest ago without one has waited: read off the
  received tubes not yet resulted, a partial index's few rows (store/box_tubes.py), never
  the day's events or results.

Counts and ages only: nothing personal. The thresholds live in the alert rules
(config/prometheus-alerts.yml).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, Gauge

from central.site_facts import CUTOFF, RESULT_DUE, ZONE
from central.store.event_store import SqlEventStore
from central.store.lab_tables import TO_RECALL, Verdict
from contract import instant

EVERY_S = 60.0
SITES = ZoneInfo(ZONE)
IN_TRANSIT_SINCE = dt.timedelta(hours=48)   # older boxes never received: a report's matter
RECEIVED_SINCE = dt.timedelta(hours=48)     # older tubes without a result: `report labs`'s


def age_s(ts: str, now: dt.datetime) -> float:
    """How long ago; never below 0 (a station's clock a little ahead of central's)."""
    return max(0.0, (now - instant(ts)).total_seconds())


@dataclass(frozen=True)
class Figures:
    waiting: Counter[Verdict]       # result → results not yet in a recall list
    oldest_waiting_s: float
    in_transit: int
    oldest_in_transit_s: float
    not_dispatched: int
    results_overdue: dict[str, int]   # lab → tubes received past the bound, no result
    oldest_result_waiting_s: float


def figures(store: SqlEventStore, now: dt.datetime, zone: ZoneInfo,
            cutoff: dt.time, result_due: dt.timedelta = RESULT_DUE) -> Figures:
    waiting = store.awaiting_recall()
    transit = store.in_transit(now - IN_TRANSIT_SINCE)
    overdue = store.results_waiting(now - RECEIVED_SINCE, now - result_due)
    unresulted = store.results_waiting(now - RECEIVED_SINCE, now)
    return Figures(Counter(result for result, _ in waiting),
                   max((age_s(at, now) for _, at in waiting), default=0.0), len(transit),
                   max((age_s(ts, now) for _, ts in transit), default=0.0),
                   not_dispatched(store, now, zone, cutoff),
                   {w.lab: w.tubes for w in overdue},
                   max((age_s(w.oldest, now) for w in unresulted), default=0.0))


def not_dispatched(store: SqlEventStore, now: dt.datetime, zone: ZoneInfo,
                   cutoff: dt.time) -> int:
    """Tubes sealed today before the cutoff, less those in boxes handed over by it,
    station by station; 0 until the cutoff has passed."""
    local = now.astimezone(zone)
    deadline = dt.datetime.combine(local.date(), cutoff, zone)
    if local < deadline:
        return 0
    start = dt.datetime.combine(local.date(), dt.time(), zone)
    sealed = store.sealed_between(start, deadline)
    sent = store.dispatched_tubes_between(start, deadline)
    return sum(max(0, count - sent.get(station, 0)) for station, count in sealed.items())


class LabWatch:
    def __init__(self, registry: CollectorRegistry, zone: ZoneInfo = SITES,
                 cutoff: dt.time = CUTOFF, result_due: dt.timedelta = RESULT_DUE) -> None:
        self.zone, self.cutoff, self.result_due = zone, cutoff, result_due
        self.labs: set[str] = set()   # every lab that has owed a result: its gauge kept
        self.checked = float("-inf")
        self.waiting = Gauge("natest_recall_waiting",
                             "Positive or invalid results not yet listed by a recall list",
                             ["result"], registry=registry)
        self.oldest_waiting = Gauge(
            "natest_recall_oldest_waiting_seconds",
            "How long the oldest result waiting for a recall list has waited (0: none)",
            registry=registry)
        self.in_transit = Gauge("natest_boxes_in_transit",
                                "Boxes handed to a courier, not yet received at a lab",
                                registry=registry)
        self.oldest_in_transit = Gauge(
            "natest_box_oldest_in_transit_seconds",
            "How long the box longest in transit has been on its way (0: none)",
            registry=registry)
        self.not_dispatched = Gauge(
            "natest_tubes_not_dispatched_at_cutoff",
            "Tubes sealed before today's cutoff and not handed over by it (0 before it)",
            registry=registry)
        self.results_overdue = Gauge(
            "natest_lab_results_overdue",
            "Tubes a lab received longer ago than the result bound (collect --result-due) "
            "without a result, in the last 48 h", ["lab"], registry=registry)
        self.oldest_result_waiting = Gauge(
            "natest_lab_result_oldest_waiting_seconds",
            "How long the received tube longest without a result has waited (0: none)",
            registry=registry)

    def check(self, store: SqlEventStore, lock: threading.Lock, now: dt.datetime,
              monotonic: float) -> None:
        """Once a minute: the figures read (under the store's lock) into the gauges."""
        if monotonic - self.checked >= EVERY_S:
            with lock:
                found = figures(store, now, self.zone, self.cutoff, self.result_due)
            self.show(found, monotonic)

    def show(self, found: Figures, monotonic: float) -> None:
        self.checked = monotonic
        for result in TO_RECALL:
            self.waiting.labels(result).set(found.waiting.get(result, 0))
        self.oldest_waiting.set(found.oldest_waiting_s)
        self.in_transit.set(found.in_transit)
        self.oldest_in_transit.set(found.oldest_in_transit_s)
        self.not_dispatched.set(found.not_dispatched)
        # A lab that owes nothing now reads 0 (its series kept: a scrape between a clear
        # and a set would see none, and the alert would end and fire again).
        self.labs |= found.results_overdue.keys()
        for lab in self.labs:
            self.results_overdue.labels(lab).set(found.results_overdue.get(lab, 0))
        self.oldest_result_waiting.set(found.oldest_result_waiting_s)
