"""A round of two days (DAYS) at two communities of two buildings each, as central sees
it: the plan of every tube (TUBES) and box (BOXES), the roster (ROSTER: community,
building, household, group) and the sites file (SITES), written as lanes write them
(tests/lane_days.py). What a report should say is computed from these declarations by
the tests themselves (`sampled`, `registered`, `sealed`), never by the report code.

Sites: S01 幸福社区 (lanes a and b) and S02 和平社区 (lane a), both in 长安街道 of 东城区;
S03 光明 in 建国街道 of 西城区, which some roster people and visitors use; S09, whose lane
sends events but which the sites file lacks (未登记站点). People are tests.people's n-th:
1-19 on the roster, 30-32 visitors (not on it).

Day 1: a tube voided after it was sealed (5 and 30 not sampled, the tube not sealed), a
person cancelled (8), a tube voided while open (13). Day 2: 1 sampled again, 5, 8, 13
sampled, a second tube voided after sealing (16). Nobody of household 幸福社区 2栋 203 (19)
is ever sampled, nor 9 and 18.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from central.reports.sites import Site
from central.store.event_store import EventStore
from central.store.open import open_store
from contract.events import TubeVoided
from contract.sealed import read_keys
from station.sealing import Sealer
from tests.central_keys import key_pair
from tests.lane_days import Lane, person, shanghai
from tests.people import nth_person

DAY1, DAY2 = "2026-12-03", "2026-12-04"
DAYS = (DAY1, DAY2)

SITES = (Site("S01", "幸福社区东门", "幸福社区", "长安街道", "东城区", 300),
         Site("S02", "和平广场", "和平社区", "长安街道", "东城区", 200),
         Site("S03", "光明小学", "光明社区", "建国街道", "西城区", None))
UNREGISTERED = "S09"   # sends events; not in SITES


@dataclass(frozen=True)
class Resident:
    """A roster's row: tests.people's n-th person and where the roster puts them."""

    n: int
    community: str
    building: str
    household: str
    group: str = ""      # 人群分类; "" for none

    @property
    def id_number(self) -> str:
        return nth_person(self.n)


def _household(community: str, building: str, household: str,
               *people: tuple[int, str]) -> list[Resident]:
    return [Resident(n, community, building, household, group) for n, group in people]


ROSTER = (
    *_household("幸福社区", "1栋", "101", (1, "老年人"), (2, ""), (3, "儿童")),
    *_household("幸福社区", "1栋", "102", (4, ""), (5, "重点行业")),
    *_household("幸福社区", "2栋", "201", (6, "老年人"), (7, "")),
    *_household("幸福社区", "2栋", "202", (8, ""), (9, "儿童")),
    *_household("幸福社区", "2栋", "203", (19, "老年人")),
    *_household("和平社区", "1栋", "101", (10, "老年人"), (11, "")),
    *_household("和平社区", "1栋", "102", (12, "重点行业"), (13, ""), (14, "儿童")),
    *_household("和平社区", "2栋", "201", (15, ""), (16, "孕妇")),
    *_household("和平社区", "2栋", "202", (17, "老年人"), (18, "")),
)
VISITORS = (30, 31, 32)

Void = Literal["", "open", "sealed"]


@dataclass(frozen=True)
class Tube:
    day: str
    site: str
    station: str
    tube: str
    people: tuple[int, ...]
    at: tuple[int, int]          # local hour and minute it opened
    undo: bool = False           # its last person cancelled before the swab
    void: Void = ""              # voided while open, or after it was sealed

    @property
    def kept(self) -> tuple[int, ...]:
        """Its people validly registered: none of a voided tube, not the cancelled."""
        if self.void:
            return ()
        return self.people[:-1] if self.undo else self.people


TUBES = (
    Tube(DAY1, "S01", "a", "R1T01", (1, 2, 3, 4, 6), (8, 0)),
    Tube(DAY1, "S01", "a", "R1T02", (7, 8), (8, 30), undo=True),
    Tube(DAY1, "S01", "b", "R1T03", (5, 30), (9, 0), void="sealed"),
    Tube(DAY1, "S01", "b", "R1T04", (31,), (9, 30)),
    Tube(DAY1, "S02", "a", "R1T05", (10, 11, 12), (10, 0)),
    Tube(DAY1, "S02", "a", "R1T06", (13,), (10, 30), void="open"),
    Tube(DAY1, "S03", "a", "R1T07", (15,), (11, 0)),
    Tube(DAY1, UNREGISTERED, "a", "R1T08", (32,), (11, 0)),
    Tube(DAY2, "S01", "a", "R2T01", (5, 1), (8, 0)),
    Tube(DAY2, "S01", "b", "R2T02", (8,), (8, 30)),
    Tube(DAY2, "S02", "a", "R2T03", (13, 14, 17), (9, 0)),
    Tube(DAY2, "S02", "a", "R2T04", (16,), (9, 30), void="sealed"),
    Tube(DAY2, "S03", "a", "R2T05", (30,), (10, 0)),
)


@dataclass(frozen=True)
class Box:
    day: str
    site: str
    station: str
    box: str
    tubes: tuple[str, ...]
    at: tuple[int, int]


BOXES = (
    Box(DAY1, "S01", "a", "R1B1", ("R1T01", "R1T02"), (12, 0)),
    Box(DAY1, "S01", "b", "R1B2", ("R1T04",), (12, 0)),
    Box(DAY1, "S02", "a", "R1B3", ("R1T05",), (12, 0)),
    Box(DAY1, "S03", "a", "R1B4", ("R1T07",), (12, 0)),
    Box(DAY1, UNREGISTERED, "a", "R1B5", ("R1T08",), (12, 0)),
    Box(DAY2, "S01", "a", "R2B1", ("R2T01",), (12, 0)),
    Box(DAY2, "S01", "b", "R2B2", ("R2T02",), (12, 0)),
    Box(DAY2, "S02", "a", "R2B3", ("R2T03",), (12, 0)),
    Box(DAY2, "S03", "a", "R2B4", ("R2T05",), (12, 0)),
)


def play(store: EventStore, sealer: Sealer | None = None) -> None:
    """Every tube and box of the round, lane by lane, stored as a collector stores them
    (persons sealed to `sealer`'s key, given one), received the evening of DAY2."""
    lanes: dict[tuple[str, str], Lane] = {}
    plan: list[Tube | Box] = [*TUBES, *BOXES]
    for what in sorted(plan, key=lambda w: (w.day, w.at, isinstance(w, Box))):
        lane = lanes.setdefault((what.site, what.station),
                                Lane(what.site, what.station, sealer=sealer))
        at = shanghai(what.day, *what.at)
        if isinstance(what, Box):
            kept = {t.tube: len(t.kept) for t in TUBES if t.tube in what.tubes}
            lane.box(what.box, kept, at, courier="C01")
            continue
        people = [person(n) for n in what.people]
        end = lane.tube(what.tube, people, at, undo=len(people) if what.undo else 0,
                        void=what.void == "open")
        if what.void == "sealed":   # CMD:VOID of the last sealed tube
            lane.add(TubeVoided(what.tube, len(people), "sealed"), end + dt.timedelta(minutes=1))
    for lane in lanes.values():
        lane.deliver(store, shanghai(DAY2, 20))


def played(target: str, seal: bool = True) -> str:
    """The round stored at `target` (a SQLite path or a PostgreSQL DSN), persons sealed to
    the tests' central key (tests.central_keys) unless `seal` is False; `target` again."""
    store = open_store(target)
    try:
        play(store, Sealer(read_keys(key_pair()[1], private=False)[0]) if seal else None)
    finally:
        store.close()
    return target


def sampled(days: Iterable[str] = DAYS) -> set[int]:
    """Everyone validly registered on any of `days`."""
    return {n for t in TUBES if t.day in days for n in t.kept}


def registered(days: Iterable[str] = DAYS) -> dict[str, int]:
    """Valid registrations by site on `days` (a person twice counts twice)."""
    count: dict[str, int] = defaultdict(int)
    for t in TUBES:
        if t.day in days:
            count[t.site] += len(t.kept)
    return dict(count)


def sealed(days: Iterable[str] = DAYS) -> dict[str, int]:
    """Tubes sealed and not voided, by site, on `days`."""
    count: dict[str, int] = defaultdict(int)
    for t in TUBES:
        if t.day in days and not t.void:
            count[t.site] += 1
    return dict(count)


def boxed(days: Iterable[str] = DAYS) -> dict[str, int]:
    """Boxes closed, by site, on `days`."""
    count: dict[str, int] = defaultdict(int)
    for b in BOXES:
        if b.day in days:
            count[b.site] += 1
    return dict(count)


ROSTER_HEADER = ("序号", "社区", "楼栋", "户号", "姓名", "身份证号", "联系电话", "人群分类")


def roster_rows(residents: Iterable[Resident] = ROSTER) -> list[list[str]]:
    """The roster as a community keeps it (a header in Chinese, then one row a person)."""
    return [list(ROSTER_HEADER), *([str(i), r.community, r.building, r.household,
                                     f"测试{r.n}", r.id_number, f"1390000{r.n:04d}", r.group]
                                    for i, r in enumerate(residents, 1))]


def write_roster(path: Path, encoding: str = "utf-8") -> Path:
    """The roster as CSV (`encoding`: utf-8, utf-8-sig, gbk) or, for a .xlsx path, a
    workbook with a title row above the header, as communities send it."""
    rows = roster_rows()
    if path.suffix == ".xlsx":
        from openpyxl import Workbook  # noqa: PLC0415

        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["长安街道核酸检测人员名单"])
        for row in rows:
            sheet.append(row)
        book.save(path)
    else:
        with path.open("w", encoding=encoding, newline="") as out:
            csv.writer(out).writerows(rows)
    path.chmod(0o600)
    return path


def write_sites(path: Path) -> Path:
    """SITES as a sites file: TOML for a .toml path, else CSV in English."""
    if path.suffix == ".toml":
        path.write_text("".join(
            f'[[site]]\nid = "{s.id}"\nname = "{s.name}"\ncommunity = "{s.community}"\n'
            f'street = "{s.street}"\ndistrict = "{s.district}"\n'
            + (f"capacity = {s.capacity}\n" if s.capacity else "") + "\n" for s in SITES),
            encoding="utf-8")
        return path
    path.write_text("site,name,community,street,district,capacity\n" + "".join(
        f"{s.id},{s.name},{s.community},{s.street},{s.district},{s.capacity or ''}\n"
        for s in SITES), encoding="utf-8")
    return path
