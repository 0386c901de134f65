"""`station bench lab`'s labs report (#40 item 4): the day's tubes packed in boxes and
received at labs, then `report labs` timed as a district office runs it.

Every sealed tube of the bench's day is packed at its lane, BOX to a box (box.closed
after the lane's day), and every box received at its lane's lab (`lab_of`: three labs
by the lane's number), counted, as a receipt desk's CSV gives them: from 10:00 on the
bench's day, a lane's boxes a minute apart, but the last lane's from 06:00. The day's
results (lab.py's file: tested at 12:00 by the lab that received the tube) leave the
other tubes waiting; by 20:00, the report's as-of, the last lane's have waited past
--result-due (12 h). The report's machine form is checked against counts made here of
the same boxes and results, lab by lab: boxes, tubes, results, waiting, overdue, and
one row per overdue tube.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from central.intake import lab_import
from central.reports import reports
from central.reports.custody import Rules
from central.reports.period import period
from central.store.event_store import Arrived
from central.store.open import open_store
from contract.events import BoxClosed
from tools.central.loadgen import published
from tools.central.reports import write_all
from tools.central.retests import at, timed

BOX = 50
LABS = ("市一院", "市二院", "区疾控中心")
TESTED = 12   # the hour of the bench's day its results are tested at (lab.results_file)


def lab_of(tube: str) -> str:
    """The lab a tube of loadgen's lanes goes to: by its lane's number (its first four
    digits)."""
    return LABS[int(tube[:4]) % len(LABS)]


class Received(NamedTuple):
    box: str
    tubes: tuple[str, ...]
    lab: str
    at: dt.datetime


def packed(target: str, day: dt.date, zone: ZoneInfo) -> list[Received]:
    """Every sealed tube packed at its lane and each box written (after the lane's last
    event); the boxes as they will be received."""
    store = open_store(target)
    lanes: dict[tuple[str, str], list[str]] = {}
    for site, station, tube in store.conn.execute(
            "SELECT site, station, subject FROM events WHERE type = 'tube.sealed' "
            "AND station LIKE 'lane-%' ORDER BY site, station, seq"):   # loadgen's lanes
        lanes.setdefault((site, station), []).append(tube)
    last = {(site, station): seq for site, station, seq in store.conn.execute(
        "SELECT site, station, max_seq FROM stations")}
    early = max(lanes)   # the last lane's boxes: received at 06:00
    boxes: list[Received] = []

    def closed() -> Iterator[Arrived]:
        now = dt.datetime.now(dt.UTC)
        for (site, station), tubes in sorted(lanes.items()):
            for n, first in enumerate(range(0, len(tubes), BOX), start=1):
                held = tuple(tubes[first:first + BOX])
                box = f"B{station[-4:]}{n:03d}"
                fact = BoxClosed(box, held, len(held), len(held) * 10)
                topic, raw = published(site, station, last[site, station] + n, now, fact)
                hour = 6 if (site, station) == early else 10   # a box a minute at each desk
                boxes.append(Received(box, held, lab_of(held[0]), at(day, hour, zone, 60 * n)))
                yield Arrived(json.loads(raw), raw.decode(), topic)

    try:
        write_all(store, closed())
    finally:
        store.close()
    return boxes


def received(target: str, boxes: list[Received], zone: ZoneInfo, work: Path) -> float:
    """The boxes' receipts imported as a desk's CSV (counted); the seconds it took."""
    path = work / "receipts.csv"
    path.write_text("转运箱号,试管数,接收时间,检测机构\n" + "".join(
        f"{b.box},{len(b.tubes)},{b.at.astimezone(zone):%Y-%m-%d %H:%M:%S},{b.lab}\n"
        for b in boxes), encoding="utf-8")
    store = open_store(target)
    began = time.perf_counter()
    try:
        outcome = lab_import.receipts_file(store, path, lab="", zone=zone,
                                           now=dt.datetime.now(dt.UTC))
    finally:
        store.close()
    seconds = time.perf_counter() - began
    if outcome.problems or outcome.stored != len(boxes):
        raise RuntimeError(f"the receipts: {outcome.problems[:3]}")
    return seconds


def labs_rates(target: str, resulted: set[str], zone: ZoneInfo, work: Path) -> dict[str, Any]:
    """Boxes packed and received for the day in `target` (whose results are `resulted`,
    tubes tested at 12:00); `report labs` timed (in Chinese, as an office reads it), its
    machine form checked lab by lab."""
    day = dt.datetime.now(zone).date()
    boxes = packed(target, day, zone)
    figures: dict[str, Any] = {"labs_boxes": len(boxes),
                               "labs_tubes": sum(len(b.tubes) for b in boxes),
                               "labs_receipts_s": received(target, boxes, zone, work)}
    span, rules = period(str(day), None, None, zone), Rules(at(day, 20, zone))
    office, checked = work / "labs.csv", work / "labs-en.csv"
    figures["labs_s"] = timed(lambda: reports.run("labs", target, office, None, span=span,
                                                  rules=rules))
    reports.run("labs", target, checked, None, span=span, rules=rules, columns="en")
    with checked.open(encoding="utf-8-sig") as rows:
        figures["labs_overdue"] = as_counted(list(csv.DictReader(rows)), boxes,
                                             (resulted, at(day, TESTED, zone)), rules)
    return figures


def as_counted(rows: list[dict[str, str]], boxes: list[Received],
               results: tuple[set[str], dt.datetime], rules: Rules) -> int:
    """Each lab's row as counted here from the boxes and the tubes resulted (and when they
    were tested), and one row per overdue tube; or a RuntimeError naming what differs.
    The overdue tubes."""
    resulted, tested = results
    want: dict[str, Counter[str]] = {lab: Counter() for lab in LABS}
    longest: dict[str, float] = {}
    late = set()
    for b in boxes:
        waiting = [tube for tube in b.tubes if tube not in resulted]
        want[b.lab].update({"boxes": 1, "tubes": len(b.tubes), "waiting": len(waiting)})
        if len(waiting) < len(b.tubes):
            hours = (tested - b.at).total_seconds() / 3600
            longest[b.lab] = max(longest.get(b.lab, hours), hours)
        if rules.at - b.at > rules.result_due:
            want[b.lab]["overdue"] += len(waiting)
            late.update(waiting)
    for tube in resulted:
        want[lab_of(tube)]["results"] += 1
    said = {row["lab"]: row for row in rows if row["kind"] == "lab"}
    got = {lab: Counter({k: int(row[k]) for k in ("boxes", "tubes", "results", "waiting",
                                                  "overdue") if row[k]})
           for lab, row in said.items()}
    tubes = {row["tube"] for row in rows if row["kind"] == "tube"}
    wrong = {lab: (dict(got.get(lab, {})), dict(counted)) for lab, counted in want.items()
             if +got.get(lab, Counter()) != +counted}
    slow = {lab: (said[lab]["turnaround_max_h"] if lab in said else "", f"{hours:.1f}")
            for lab, hours in longest.items()
            if lab not in said or said[lab]["turnaround_max_h"] != f"{hours:.1f}"}
    if wrong or slow or tubes != late:
        raise RuntimeError(f"report labs: lab rows (said, counted): {wrong}; longest "
                           f"turnaround (said, counted): {slow}; overdue tubes said "
                           f"{len(tubes)}, counted {len(late)}")
    return len(late)
