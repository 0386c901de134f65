"""The follow-up's figures for Prometheus, written by the report run that made them.

Who is past a bound can only be told by linking a pool's people to their single tubes by
document number, and the numbers are sealed to central's key, which the collector never
holds (ingest/ opens no person). So the figures are not the collector's gauges: `report
followup --metrics-file FILE`, run by a timer where the reports' key is (README,
"The follow-up"), writes them for node_exporter's textfile collector, counts only,
nothing personal. A keyed digest of each number that central derived and stored for
the collector to join on was weighed: it would put a lookup of every person's document
beside the events in the database (a dump's reader could test guesses against it, as
#39's thief did a lane's), to save a run the timer makes anyway.

`natest_followup_written_timestamp_seconds` says when the figures were made: the alert
rules (config/prometheus-alerts.yml) raise one of their own when the run stops, so a
silent alert never means a stale all-clear.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

from central.reports.followup import ORDER, STEPS


def registry_of(rows: Iterable[dict[str, Any]], at: dt.datetime) -> CollectorRegistry:
    """The figures of a follow-up's rows, as of `at`."""
    rows = list(rows)
    registry = CollectorRegistry()
    people = Gauge("natest_followup_people",
                   "People of positive or invalid pools, by their follow-up status",
                   ["status"], registry=registry)
    late = Gauge("natest_followup_overdue",
                 "People of positive or invalid pools past a bound: not re-sampled in "
                 "time (resample), or their single result late (result)",
                 ["step"], registry=registry)
    unlinked = Gauge("natest_followup_not_opened",
                     "People of positive or invalid pools whose document did not open: "
                     "they cannot be linked to a retest", registry=registry)
    written = Gauge("natest_followup_written_timestamp_seconds",
                    "When the follow-up's figures were made", registry=registry)
    statuses = Counter(row["followup"] for row in rows)
    steps = Counter(row["overdue"] for row in rows)
    for status in ORDER:
        people.labels(status).set(statuses[status])
    for step in STEPS:
        late.labels(step).set(steps[step])
    unlinked.set(sum(row["note"] == "not_opened" for row in rows))
    written.set(at.timestamp())
    return registry


def write(path: Path, rows: Iterable[dict[str, Any]], at: dt.datetime) -> None:
    """The figures, written whole (written aside, then renamed over the last ones)."""
    write_to_textfile(str(path), registry_of(rows, at))
