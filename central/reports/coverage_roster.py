"""The roster as `report coverage` reads it: each person's document number, where they
belong (区, 街道, 社区, 楼栋, 户) and their priority groups (人群分类: 老年人、重点行业 …),
read by roster_file.py as communities keep rosters.

Counts are only as good as the columns they are made of, so the roster is refused, with
its line, where a count would be silently wrong: a column coverage does not know (it may
be the community or the group under a name not mapped; a column known to say nothing
of either, as 序号 or 性别, is passed over), or a document number given twice (one
person counted twice). A row whose number cannot be anyone's (名单有误: what Excel made
of it, a wrong check character) is counted as to be tested and not tested, and counted
apart, its rows named on standard error; never its number.

A roster with no 街道 or 区 column takes them from the sites file (`--sites`), by the
community. A level neither gives is UNPLACED. Held in memory only: never stored, never
logged.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import logging
import re
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

from central.reports.roster import CHECKED_TYPES, problem_of, say_flagged
from central.reports.roster_file import (
    FIELDS,
    WHOLE,
    Part,
    RosterRefused,
    Table,
    folded,
    read,
)
from central.reports.sites import Sites
from contract.id_numbers import InvalidIdNumber, card_form, parse_birth

log = logging.getLogger("central.reports")

UNPLACED = "（未填）"      # a level the roster (and the sites file) leaves empty
UNGROUPED = "（未分类）"   # a person the roster puts in no group
# Columns a roster often has that say nothing of where a person belongs or their group.
PASSED_OVER = frozenset(folded(name) for name in (
    "序号", "编号", "no", "性别", "gender", "年龄", "age", "出生日期", "出生年月", "民族",
    "国籍", "籍贯", "备注", "note", "remark", "工作单位", "单位", "职业", "户籍地址",
    "户籍地", "与户主关系", "户主", "户主姓名", "小区", "网格", "单元", "楼层"))
# How a roster puts one person in several groups: 老年人、重点行业
GROUPS_APART = re.compile(r"[、,，;；/|]")


Chain = tuple[str, str, str, str, str]   # 区, 街道, 社区, 楼栋, 户 ("": in no household)
Person = tuple[str, Chain, tuple[str, ...], bool]   # number, chain, groups, invalid


def people(path: Path, encoding: str = "", sites: Sites | None = None) -> list[Person]:
    """The roster's people, lean: (number, where, groups, invalid), each chain and group
    tuple shared by everyone it names (a city's roster of 5,000,000 is held as tuples of
    shared strings). Checked as the roster's rules say; what it flags said on standard
    error."""
    roster = read_part(path, encoding, sites)
    say(path, roster.flagged, roster.unplaced, sites)
    return roster.people


@dataclass
class RosterPart:
    """A part of a roster's rows read (all of them: `people`): its people, the lines it
    flagged (名单有误) and the communities neither it nor the sites file placed."""

    people: list[Person]
    flagged: list[int]
    unplaced: set[str]


def read_part(path: Path, encoding: str = "", sites: Sites | None = None,
              part: Part = WHOLE, *, twice: bool = True, households: bool = True
              ) -> RosterPart:
    """Of the roster's rows, those of `part` (roster_file.split_rows), as `people` reads
    them, nothing said; `twice=False`: a number given twice not looked for (a worker
    looks among its digests, in C: coverage_apart.py); `households=False`: each person
    placed by community alone, in no building, household or group (the brief's
    coverage). Garbage collection is held off while it is read: nothing read here makes
    a cycle, and its passes over millions of new tuples took a third of the read."""
    table = read(path, encoding, part)
    known_columns(table)
    above = Above(table, sites or Sites())
    place = _Places(table, above) if households else _Communities(table, above)
    first: dict[str, int] = {}
    found: list[Person] = []
    flagged: list[int] = []
    number_at, kind_at = table.fields["id_number"], table.fields.get("id_type")
    # _Places's lookups, bound here: a call a row was a fifth of a city's read
    chains, groups, cells_of = place.chains, place.groups, place.cells_of
    width, group_at = place.width, place.group_at
    collecting = gc.isenabled()
    gc.disable()
    try:
        for line, cells in table.rows:
            number = cells[number_at].strip().upper() if number_at < len(cells) else ""
            if not number.isascii():   # typed in full-width: the card's number (or not one)
                number = card_form(number)
            # A row with a number is not blank: the whole row is looked at only without.
            if not number and not any(c.strip() for c in cells):
                continue
            checked = kind_at is None or table.value(cells, "id_type") in CHECKED_TYPES
            invalid = not valid(number) if checked else not number
            if invalid:
                flagged.append(line)
            elif number in first:
                raise _given_twice(path, first[number], line)
            elif twice:
                first[number] = line
            cells.append("")   # a field the roster lacks is read from it
            if len(cells) <= width:   # a short row: its missing cells are empty
                cells.extend([""] * (width + 1 - len(cells)))
            raw = cells_of(cells)
            text = cells[group_at]
            found.append((number, chains.get(raw) or place.chain(raw),
                          groups.get(text) or place.grouped(text), invalid))
    finally:
        if collecting:
            gc.enable()
    return RosterPart(found, flagged, place.above.unplaced)


def _given_twice(path: Path, first: int, again: int) -> RosterRefused:
    return RosterRefused(f"{path}: lines {first} and {again}: the same document number "
                         "twice (one person would be counted twice): keep one of the two rows")


def say(path: Path, flagged: list[int], unplaced: set[str], sites: Sites | None) -> None:
    """What a roster's read has to say: its rows flagged, its communities not placed."""
    if flagged:
        say_flagged(path, flagged)
    if unplaced:
        log.warning("%d %s of the roster not in %s, their 街道 and 区 shown as %s: %s",
                    len(unplaced), "community" if len(unplaced) == 1 else "communities",
                    (sites or Sites()).path, UNPLACED, ", ".join(sorted(unplaced)))


def valid(number: str) -> bool:
    """Whether a roster's number can be someone's: roster.problem_of's verdict, the usual
    18 characters checked here in a microsecond (a city's roster has millions), anything
    else asked of problem_of. The check's weights are 2**(17-i) mod 11 and 13 is 2 mod
    11, so the weighted sum is twice the first 17 digits read in base 13, mod 11: one
    int() in C instead of 17 in Python (isdecimal() has made sure they are digits: true
    of the very characters a pattern's \\d matches, Unicode's Nd, in a third of its time;
    a last character other than a digit or X fails the comparison; `number` is in
    id_numbers.card_form's form, and isascii() leaves other scripts' digits to
    problem_of, which refuses them)."""
    if len(number) == 18 and number.isascii() and number[:17].isdecimal():
        return "10X98765432"[2 * int(number[:17], 13) % 11] == number[17] and _born(
            number[6:14])
    return problem_of(number) is None


@functools.lru_cache(maxsize=100_000)
def _born(yyyymmdd: str) -> bool:
    try:
        birth = parse_birth(yyyymmdd)
    except InvalidIdNumber:
        return False
    return birth.year >= 1880 and birth <= dt.date.today()


_PLACE_FIELDS = ("community", "street", "district", "building", "household")


class _Places:
    """A row's chain (区 … 户) and groups: one tuple for every row naming the same, looked
    up by the row's cells as read (stripped and placed once for each): `chains` by
    `cells_of(cells)` (the cells given one more, "", past the last: `width`), `groups` by
    the cell at `group_at`, `chain` and `grouped` where not found."""

    def __init__(self, table: Table, above: Above) -> None:
        self.table, self.above = table, above
        self.chains: dict[tuple[str, ...], Chain] = {}   # by the cells as read
        self.placed: dict[Chain, Chain] = {}             # by the places they name
        self.buildings: dict[tuple[str, ...], tuple[str, str, str, str]] = {}   # as read
        self.groups: dict[str, tuple[str, ...]] = {}
        at = [table.fields.get(field) for field in (*_PLACE_FIELDS, "group")]
        self.width = max((a for a in at if a is not None), default=-1) + 1
        # A field the roster lacks is read from an empty cell put after the row's last.
        self.cells_of = itemgetter(*(-1 if a is None else a for a in at[:5]))
        self.group_at = -1 if at[5] is None else at[5]

    def chain(self, raw: tuple[str, ...]) -> Chain:
        """The chain of a row's place cells (`cells_of`'s) not looked up before: a new
        household, mostly (a city's roster has one every 2.5 rows), in a building placed
        once, by its cells as read."""
        above = self.buildings.get(raw[:4])
        if above is None:
            above = self.buildings[raw[:4]] = self._chain(
                tuple(cell.strip() for cell in raw[:4]))
        chain = (*above, raw[4].strip())
        chain = self.chains[raw] = self.placed.setdefault(chain, chain)
        return chain

    def grouped(self, text: str) -> tuple[str, ...]:
        """The groups of a row's group cell not looked up before."""
        groups = self.groups[text] = tuple(g.strip() for g in GROUPS_APART.split(
            text) if g.strip()) or (UNGROUPED,)
        return groups

    def _chain(self, given: tuple[str, ...]) -> tuple[str, str, str, str]:
        """A building's places (区, 街道, 社区, 楼栋) of its cells (社区, 街道, 区, 楼栋)."""
        community = given[0] or UNPLACED
        street, district = self.above.of(community, given[1], given[2])
        return district or UNPLACED, street or UNPLACED, community, given[3] or UNPLACED


class _Communities(_Places):
    """A row's community (under its street and district) alone, as the brief counts
    coverage: a third fewer cells looked up a row than every place's (1.0 s of half a
    city's read). Its chain is in no building or household, its groups none."""

    def __init__(self, table: Table, above: Above) -> None:
        super().__init__(table, above)
        at = [table.fields.get(field) for field in _PLACE_FIELDS[:3]]
        self.width = max((a for a in at if a is not None), default=-1) + 1
        self.cells_of = itemgetter(*(-1 if a is None else a for a in at))
        self.group_at = -1   # the empty cell put after the row's last

    def chain(self, raw: tuple[str, ...]) -> Chain:
        chain = (*self._chain((*(cell.strip() for cell in raw), "")), "")
        chain = self.chains[raw] = self.placed.setdefault(chain, chain)
        return chain


def known_columns(table: Table) -> None:
    """Every named column is a field coverage reads or one it knows says nothing of one."""
    names = {folded(name) for names in FIELDS.values() for name in names}
    for at, header in enumerate(table.header):
        if header and folded(header) not in names | PASSED_OVER:
            raise RosterRefused(
                f"{table.path}: line {table.header_at}: unknown column {header!r} (column "
                f"{at + 1}): coverage counts by 区, 街道, 社区, 楼栋, 户 and 人群分类 and does "
                "not know it; if it is one of those, name it so in the header; if not, "
                "remove the column (known: " + ", ".join(
                    f"{field} {'/'.join(FIELDS[field][1:3])}" for field in
                    ("community", "street", "district", "building", "household", "group"))
                + ")")


class Above:
    """A community's street and district: the roster's own columns, else the sites
    file's (one street a community), else UNPLACED; the communities neither places are
    kept, said once at the end (`say`)."""

    def __init__(self, table: Table, sites: Sites) -> None:
        self.sites, self.unplaced = sites, set[str]()
        self.own = "street" in table.fields or "district" in table.fields
        self.cache: dict[str, tuple[str, str]] = {}

    def of(self, community: str, street: str, district: str) -> tuple[str, str]:
        if self.own or not self.sites.given:
            return street, district
        if community not in self.cache:
            pairs = sorted(self.sites.above(community))
            if len(pairs) > 1:
                raise RosterRefused(
                    f"{self.sites.path}: community {community} is under "
                    f"{' and '.join(s for s, _ in pairs)}: give the roster a 街道 column")
            if not pairs:
                self.unplaced.add(community)
            self.cache[community] = pairs[0] if pairs else ("", "")
        return self.cache[community]
