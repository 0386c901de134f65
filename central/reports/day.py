"""What a report is asked (`Asked`), and what it reads of its period (`Day`): the
period's events opened (opening_pool.unsealed), then folded station by station
(projection.py) and clipped to the period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from central.reports.catalogue import REPORTS, Report, ReportName
from central.reports.custody import Rules
from central.reports.followup import Bounds
from central.reports.opening import Persons
from central.reports.opening_pool import unsealed
from central.reports.period import Period
from central.reports.progress import Progress
from central.reports.projection import Projection, Station, by_station
from central.reports.sheets import Signers
from central.reports.sites import Sites
from central.store.event_store import SqlEventStore


@dataclass
class Asked:
    name: ReportName
    site: str
    span: Period
    roster: Path | None
    zone: ZoneInfo | None     # Chinese columns and local times, or the machine form
    progress: Progress
    rules: Rules
    columns: str = "zh"       # zh: as an office reads and prints it; en: for programs
    box: str = ""             # the register of one box: its record beside its slip
    persons: Persons = field(default_factory=Persons)   # sealed persons: opened or counted
    recalled: list[tuple[str, str, str]] = field(default_factory=list)
    signers: Signers = field(default_factory=Signers)
    encoding: str = ""        # the roster CSV's, or "": told by its bytes
    bounds: Bounds = field(default_factory=Bounds)   # followup: as of when, how long
    metrics_file: Path | None = None   # followup: its figures for node_exporter
    sites: Sites = field(default_factory=Sites)   # --sites: each site's 社区, 街道, 区

    @property
    def report(self) -> Report:
        report = REPORTS[self.name]
        return report.with_roster() if self.roster else report


Chunks = Iterable[list[dict[str, Any]]]


@dataclass
class Day:
    """What a report reads of its period: the events opened (opening_pool.unsealed), then
    folded station by station, when it asks for them (positives reads its tubes' own)."""

    ask: Asked
    store: SqlEventStore
    # Which stations used each tube and box id: the collisions reconcile lists.
    used: dict[tuple[str, str], set[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(set))

    def stations(self) -> Iterator[tuple[Station, Projection]]:
        ask, span = self.ask, self.ask.span
        day = unsealed(ask.progress.counted(self.store.iter_events(ask.site, span.padded())),
                       self.store.form_data(), ask.persons)
        return ((key, clip(p, span, ask.box))
                for key, p in by_station(day.events, day.forms, self.used))


def clip(p: Projection, span: Period, box: str = "") -> Projection:
    """What a station did in the period, of what its events around it made: the
    registrations and boxes of the period (of one box, given one). Sealing times stay
    whole (a tube of the period's last minute is sealed after it); totals count only the
    period's."""
    return Projection([r for r in p.registrations if span.holds(r.time)
                       and (not box or r.box == box)],
                      [b for b in p.boxes if span.holds(b["ts"])
                       and (not box or b["box"] == box)], p.sealed,
                      p.open_tubes, p.gaps, p.collisions, span.holds)
