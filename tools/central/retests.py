"""`station bench lab`'s follow-up (#40): positive pools and their single retests added
to the lab bench's day, then `report followup` timed as a district office runs it.

`pools` pools of ten at lanes of their own (pools-NN), every person's document their
own, sampled early on the day before the bench's day and all tested positive at 12:00;
then each person sampled singly (pool_size 1) at other lanes (singles-NN), and the
single results back at 17:00, as `planned` says: each pool's first person positive
(confirmed); in one pool of ten the second swabbed singly before the pool's result, which
is not a retest (to_resample, past the bound by 20:00); in one of four the third still
without a result (waiting); in one of twenty the fourth invalid (invalid_again); everyone
else negative (cleared). As many single tubes as people. The report's rows are checked
against the plan, person by person, at every size: a wrong status ends the bench.

Beside it, in the same run: `report positives` of the same day (the recall list the
follow-up starts from: its floor), and the follow-up again without the index of single
tubes' openings (migration 010's events_singles).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from central.intake import lab_import
from central.reports import reports
from central.reports.followup import Bounds, Status
from central.reports.period import period
from central.store.event_store import Arrived
from central.store.lab_tables import Verdict
from central.store.open import open_store
from contract.events import EventData, Person, SampleRegistered, TubeOpened, TubeSealed
from tools.central.loadgen import published, valid_number
from tools.central.reports import write_all

POOL = 10
POOL_LANES, SINGLE_LANES = 10, 20
SITE = "site-00"
LAB = "市一院"
SHOWN: dict[Verdict, str] = {"positive": "阳性", "negative": "阴性", "invalid": "无效"}


@dataclass(frozen=True)
class Planned:
    """One pool member's single tube, and what the follow-up must say of them."""

    person: int                 # 0 … pools × POOL - 1: pool person // POOL
    status: Status
    swabbed: dt.time            # the single tube's swab, on the follow-up's day
    result: Verdict | None      # its result; None: none back yet
    overdue: str = ""

    @property
    def pool(self) -> int:
        return self.person // POOL

    @property
    def number(self) -> str:
        return valid_number(f"12{self.pool:04d}19800101{self.person % POOL:03d}")

    @property
    def tube(self) -> str:
        return f"8{self.person:09d}"


def pool_tube(pool: int) -> str:
    return f"9{pool:09d}"


def planned(person: int) -> Planned:
    pool, position = divmod(person, POOL)
    after = (dt.datetime(2000, 1, 1, 13) + dt.timedelta(seconds=person)).time()
    if position == 0:
        return Planned(person, "confirmed", after, "positive")
    if position == 1 and pool % 10 == 0:   # before the pool's 12:00 result: not a retest
        before = (dt.datetime(2000, 1, 1, 10) + dt.timedelta(seconds=pool)).time()
        return Planned(person, "to_resample", before, "negative", "resample")
    if position == 2 and pool % 4 == 0:
        return Planned(person, "waiting", after, None)
    if position == 3 and pool % 20 == 0:
        return Planned(person, "invalid_again", after, "invalid")
    return Planned(person, "cleared", after, "negative")


def at(day: dt.date, hour: int, zone: ZoneInfo, seconds: float = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), zone) + dt.timedelta(seconds=seconds)


def events(pools: int, day: dt.date, zone: ZoneInfo) -> Iterator[Arrived]:
    """The pools' lanes' events, then the single tubes' lanes', each lane's in seq order."""
    lanes: dict[str, list[tuple[dt.datetime, EventData]]] = {}
    for pool in range(pools):   # swabbed from 06:00, a pool every 12 s at each lane
        tube, began = pool_tube(pool), at(day, 6, zone, pool * 12)
        facts: list[EventData] = [TubeOpened(tube, POOL)]
        facts += [SampleRegistered(tube, n + 1, "card", person(planned(pool * POOL + n)),
                                   False) for n in range(POOL)]
        facts.append(TubeSealed(tube, POOL, "full"))
        lanes.setdefault(f"pools-{pool % POOL_LANES:02d}", []).extend(
            (began + dt.timedelta(milliseconds=n), fact) for n, fact in enumerate(facts))
    for n in range(pools * POOL):
        plan = planned(n)
        swabbed = dt.datetime.combine(day, plan.swabbed, zone)
        single: list[EventData] = [
            TubeOpened(plan.tube, 1), SampleRegistered(plan.tube, 1, "card", person(plan), False),
            TubeSealed(plan.tube, 1, "full")]
        lanes.setdefault(f"singles-{n % SINGLE_LANES:02d}", []).extend(
            (swabbed + dt.timedelta(milliseconds=k), fact) for k, fact in enumerate(single))
    for station, timed_facts in lanes.items():
        for seq, (when, fact) in enumerate(sorted(timed_facts, key=lambda f: f[0]), start=1):
            topic, raw = published(SITE, station, seq, when.astimezone(dt.UTC), fact)
            yield Arrived(json.loads(raw), raw.decode(), topic)


def person(plan: Planned) -> Person:
    return Person("resident", plan.number, "李四", "female", "1980-01-01")


def lab_file(pools: int, day: dt.date, work: Path) -> Path:
    """The pools' results (positive, 12:00) and the single tubes' (17:00; a swab before
    the pool's result, 11:30), as a lab's CSV gives them."""
    rows: list[tuple[str, Verdict, str]] = [(pool_tube(p), "positive", "12:00")
                                            for p in range(pools)]
    rows += [(plan.tube, plan.result, "11:30" if plan.status == "to_resample" else "17:00")
             for plan in map(planned, range(pools * POOL)) if plan.result is not None]
    path = work / "retests-lis.csv"
    path.write_text("试管编号,检测结果,检测机构,检测时间\n" + "".join(
        f"{tube},{SHOWN[result]},{LAB},{day} {when}\n" for tube, result, when in rows),
        encoding="utf-8")
    return path


def added(target: str, pools: int, day: dt.date, zone: ZoneInfo, work: Path) -> int:
    """The pools and their retests written and their results imported; events written."""
    store = open_store(target)
    try:
        arrived = list(events(pools, day, zone))
        write_all(store, arrived)
        path = lab_file(pools, day, work)
        outcome = lab_import.import_results(store, path, lab="", zone=zone,
                                            now=dt.datetime.now(dt.UTC))
    finally:
        store.close()
    if outcome.problems:
        raise RuntimeError(f"the retests' results: {outcome.problems[:3]}")
    return len(arrived)


def timed(run: Any) -> float:
    began = time.perf_counter()
    run()
    return time.perf_counter() - began


def followup_rates(target: str, pools: int, zone: ZoneInfo, work: Path) -> dict[str, Any]:
    """The pools and retests added to the day in `target`; the follow-up (as an office
    reads it, in Chinese) and the recall list of the same pools timed; the follow-up's
    machine form checked person by person against the plan."""
    day = dt.datetime.now(zone).date() - dt.timedelta(days=1)
    written = added(target, pools, day, zone, work)
    span, bounds = period(str(day), None, None, zone), Bounds(at=at(day, 20, zone))
    recall, office, checked = (work / name for name in (
        "retests-positives.csv", "followup.csv", "followup-en.csv"))
    figures: dict[str, Any] = {"followup_pools": pools, "followup_events": written}
    figures["followup_positives_s"] = timed(lambda: reports.run(
        "positives", target, recall, None, span=span, mark=False))
    figures["followup_s"] = timed(lambda: reports.run(
        "followup", target, office, None, span=span, bounds=bounds))
    reports.run("followup", target, checked, None, span=span, bounds=bounds, columns="en")
    with checked.open(encoding="utf-8-sig") as rows:
        figures |= statuses(list(csv.DictReader(rows)), pools)
    figures["followup_positives_rows"] = len(recall.read_text(encoding="utf-8-sig")
                                             .splitlines()) - 1
    return figures


def without_singles_index(target: str, zone: ZoneInfo, work: Path) -> dict[str, Any]:
    """The follow-up of followup_rates' day again, without the index of single tubes'
    openings (migration 010's events_singles): what it buys. Last: it drops the index."""
    day = dt.datetime.now(zone).date() - dt.timedelta(days=1)
    span, bounds = period(str(day), None, None, zone), Bounds(at=at(day, 20, zone))
    store = open_store(target)
    store.conn.execute("DROP INDEX events_singles")
    store.conn.commit()
    store.close()
    return {"followup_without_index_s": timed(lambda: reports.run(
        "followup", target, work / "followup.csv", None, span=span, bounds=bounds))}


def statuses(rows: list[dict[str, str]], pools: int) -> dict[str, Any]:
    """Every row as the plan says (status, overdue step, single tube), or a RuntimeError
    naming the first few that are not (by tube: no number in an error); the count of
    each status."""
    plans = {plan.number: plan for plan in map(planned, range(pools * POOL))}
    wrong = []
    for row in rows:
        plan = plans.get(row["id_number"])
        said = (row["followup"], row["overdue"], row["retest_tube"])
        if plan is None or said != (plan.status, plan.overdue,
                                    "" if plan.status == "to_resample" else plan.tube):
            wrong.append(f"pool {row['pool_tube']}, single {row['retest_tube'] or '-'}: "
                         f"{'/'.join(said[:2])}, planned "
                         f"{f'{plan.status}/{plan.overdue}' if plan else 'no such person'}")
    if wrong or len(rows) != len(plans):
        raise RuntimeError(f"report followup: {len(rows)} rows for {len(plans)} people; "
                           f"not as planned: {'; '.join(wrong[:3])}")
    counted = Counter(row["followup"] for row in rows)
    return {f"followup_{status}": counted[status] for status in sorted(counted)}
