"""Coverage counted by columns: the roster's people as arrays of small ints (each one's
household, each of their groups' household-and-group pair), made while the day's
documents are still being read (coverage_apart.py), then counted against the documents
found with the interpreter's own C loops (`Counter`, `compress`, `map`), never a Python
statement per person: a city's 5,000,000 people took 44 s to count one by one, and the
whole report has 60.

The rows are coverage.py's (row, Count, in the order the roster first names each place
and group), the same as when each person was added in turn (tests/central/
coverage_folded.py; a test holds the two equal). Nothing here is a person's but the
numbers (or their digests), held for the comparison and dropped.
"""

from __future__ import annotations

import gc
import operator
from array import array
from collections import Counter
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

from central.reports.coverage import PLACES, Count, Key, row
from central.reports.coverage_roster import Chain, Person


@dataclass
class Columns:
    """The roster by index, compact for the pipe from the worker (a city's took 13 s to
    pickle and unpickle as tuples). A home is a household in a building (a building's
    people in no household share one, "", not counted as a household); a pair is a home
    and one group of someone in it; a cell is a community and a group. Every list is in
    the order the roster first names its entry."""

    households: list[str] = field(default_factory=list)   # the 户 named, "" (none) first
    buildings: list[Key] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    cells: list[tuple[Key, int]] = field(default_factory=list)   # community, group
    home_building: array[int] = field(default_factory=lambda: array("I"))
    home_household: array[int] = field(default_factory=lambda: array("I"))   # 0: none
    pair_home: array[int] = field(default_factory=lambda: array("I"))
    pair_group: array[int] = field(default_factory=lambda: array("I"))
    pair_cell: array[int] = field(default_factory=lambda: array("I"))
    person_home: array[int] = field(default_factory=lambda: array("I"))
    invalid: bytearray = field(default_factory=bytearray)        # 1: 名单有误
    entry_person: array[int] = field(default_factory=lambda: array("I"))   # one a group
    entry_pair: array[int] = field(default_factory=lambda: array("I"))


Compared = list[bytes] | list[str]   # digests, or (no key) the numbers themselves


def compared(numbers: Iterable[str], digest: Callable[[str], bytes] | None) -> Compared:
    """Each person's number as coverage compares it: digested under central's key
    (`digest`: DocumentKey.digest), or, given None, as it is. (An invalid number's is
    never looked at: `counted` counts it untested.)"""
    if digest is None:
        return list(numbers)
    return list(map(digest, numbers))


def columns(people: Iterable[Person]) -> Columns:
    """The people (coverage_roster.people's) by index."""
    made = Columns()
    homes: dict[Chain, int] = {}
    households: dict[str, int] = {"": 0}   # 户 names repeat from building to building
    buildings: dict[Key, int] = {}
    groups: dict[str, int] = {}
    cells: dict[tuple[Key, int], int] = {}
    pairs: dict[tuple[int, str], int] = {}
    # bound once: a city's roster runs this loop 5,000,000 times
    to_home, to_invalid = made.person_home.append, made.invalid.append
    to_person, to_pair = made.entry_person.append, made.entry_pair.append
    collecting = gc.isenabled()
    gc.disable()   # nothing made here is a cycle (as in people())
    try:
        for person, (_, chain, of_groups, bad) in enumerate(people):
            home = homes.get(chain)
            if home is None:
                home = homes[chain] = len(homes)
                made.home_household.append(households.setdefault(chain[4], len(households)))
                made.home_building.append(buildings.setdefault(chain[:4], len(buildings)))
            to_home(home)
            to_invalid(bad)
            for group in of_groups:
                pair = pairs.get((home, group))
                if pair is None:
                    pair = pairs[(home, group)] = len(pairs)
                    at = groups.setdefault(group, len(groups))
                    made.pair_home.append(home)
                    made.pair_group.append(at)
                    made.pair_cell.append(cells.setdefault((chain[:3], at), len(cells)))
                to_person(person)
                to_pair(pair)
    finally:
        if collecting:
            gc.enable()
    made.buildings = list(buildings)
    made.households = list(households)
    made.groups = list(groups)
    made.cells = list(cells)
    return made


def communities(people: Iterable[Person]) -> Columns:
    """The people by community alone, all the brief counts (`by_community`): each
    community a building of one home, no household, no group; a fifth of `columns`'s
    work on a city's roster."""
    made = Columns()
    of_chain: dict[Chain, int] = {}   # a chain is one tuple for everyone it names
    of_community: dict[Key, int] = {}
    to_home, to_invalid = made.person_home.append, made.invalid.append
    for _, chain, _, bad in people:
        home = of_chain.get(chain)
        if home is None:
            home = of_chain[chain] = of_community.setdefault(chain[:3], len(of_community))
        to_home(home)
        to_invalid(bad)
    made.buildings = list(of_community)
    made.home_building.extend(range(len(of_community)))
    made.home_household.extend([0] * len(of_community))
    made.households = [""]
    return made


class _Figures:
    """应检, 已检, 名单有误 of a column's keys, households and those with none tested."""

    def __init__(self, keys: Iterable[int] = (), tested: bytes = b"", invalid: bytes = b""
                 ) -> None:
        keyed = list(keys)
        self.expected = Counter(keyed)
        self.tested = Counter(compress(keyed, tested))
        self.invalid = Counter(compress(keyed, invalid))
        self.households: Counter[int] = Counter()
        self.households_tested: Counter[int] = Counter()

    @classmethod
    def summed(cls, figures: _Figures, key_of: list[int]) -> _Figures:
        """Figures of wider keys, added up from `figures` (`key_of[at]`: the wider key
        of its key `at`): the groups' of the cells' (a community's group), in a pass over
        the cells instead of one over every person's entry."""
        made = cls()
        for name in ("expected", "tested", "invalid", "households", "households_tested"):
            into: Counter[int] = getattr(made, name)
            for at, count in getattr(figures, name).items():
                into[key_of[at]] += count
        return made

    def count(self, at: int) -> Count:
        households = self.households[at]
        return Count(self.expected[at], self.tested[at], self.invalid[at], households,
                     households - self.households_tested[at])


def _tested(made: Columns, numbers: Compared, found: Container[Any]) -> bytes:
    """1 for each person whose number (`numbers`, as compared, in the roster's order) is
    among `found` and valid (found > invalid: 1 > 0): an invalid number is never tested."""
    return bytes(map(operator.gt, map(found.__contains__, numbers), made.invalid))


def by_community(made: Columns, numbers: Compared, found: Container[Any]
                 ) -> dict[Key, tuple[int, int]]:
    """The brief's coverage: each community (district, street, community), in the order
    the roster first names it: (on the roster, tested), as `counted` counts them."""
    communities: dict[Key, int] = {}
    of_building = [communities.setdefault(building[:3], len(communities))
                   for building in made.buildings]
    # Counted by home (a community's own, in the brief's columns), then added up by
    # community: no list of each person's community made (0.6 s of a city's roster).
    expected, tested = [0] * len(communities), [0] * len(communities)
    for figures, homes in ((expected, Counter(made.person_home)), (tested, Counter(
            compress(made.person_home, _tested(made, numbers, found))))):
        for home, count in homes.items():
            figures[of_building[made.home_building[home]]] += count
    return {community: (expected[at], tested[at]) for community, at in communities.items()}


def counted(made: Columns, numbers: Compared, found: Container[Any]
            ) -> list[dict[str, Any]]:
    """Coverage's rows: the people whose number (`numbers`, as compared, in the roster's
    order) is among `found`, tested."""
    invalid = bytes(made.invalid)
    tested = _tested(made, numbers, found)
    entry_tested = bytes(map(tested.__getitem__, made.entry_person))
    entry_invalid = bytes(map(invalid.__getitem__, made.entry_person))
    counted_home = bytes(map(bool, made.home_household))   # a household, not a building's rest

    buildings = _Figures(map(made.home_building.__getitem__, made.person_home), tested,
                         invalid)
    homes_tested = set(compress(made.person_home, tested))
    buildings.households.update(compress(made.home_building, counted_home))
    buildings.households_tested.update(map(made.home_building.__getitem__, filter(
        counted_home.__getitem__, homes_tested)))

    pair_counted = bytes(map(counted_home.__getitem__, made.pair_home))
    pairs_tested = [p for p in set(compress(made.entry_pair, entry_tested))
                    if pair_counted[p]]
    of_cell = made.pair_cell.__getitem__
    cells = _Figures(map(of_cell, made.entry_pair), entry_tested, entry_invalid)
    cells.households.update(map(of_cell, compress(range(len(pair_counted)), pair_counted)))
    cells.households_tested.update(map(of_cell, pairs_tested))
    groups = _Figures.summed(cells, [group for _, group in made.cells])

    rows = _places(made, buildings, cells)
    rows[1:1] = [row("group", (), groups.count(at), group)
                 for at, group in enumerate(made.groups)]
    rows += _households_none(made, homes_tested, invalid)
    return rows


def _households_none(made: Columns, homes_tested: set[int], invalid: bytes
                     ) -> list[dict[str, Any]]:
    """A row for each household with nobody tested, as `row` makes it, written out: a
    city's has 500,000 of them (nobody tested: 0.0%)."""
    people, flagged = Counter(made.person_home), Counter(compress(made.person_home, invalid))
    rows = []
    for at, household in enumerate(made.home_household):
        if household and at not in homes_tested:
            district, street, community, building = made.buildings[made.home_building[at]]
            rows.append({"level": "household", "district": district, "street": street,
                         "community": community, "building": building,
                         "household": made.households[household], "group": "",
                         "expected": people[at], "tested": 0, "untested": people[at],
                         "percent": "0.0", "households": 1, "households_none": 1,
                         "invalid": flagged[at]})
    return rows


def _places(made: Columns, buildings: _Figures, cells: _Figures) -> list[dict[str, Any]]:
    """合计, then each place from the top down, each community's groups after it."""
    counts: dict[Key, Count] = {(): Count()}
    under: dict[Key, list[Key]] = {}
    for at, building in enumerate(made.buildings):
        count = buildings.count(at)
        for depth in (1, 2, 3, 4):   # each place above it, and itself
            place = building[:depth]
            if place not in counts:   # named first here: under the place above, in turn
                counts[place] = Count()
                under.setdefault(building[:depth - 1], []).append(place)
            counts[place].merge(count)
        counts[()].merge(count)
    cells_of: dict[Key, list[tuple[str, Count]]] = {}
    for at, (community, group) in enumerate(made.cells):
        cells_of.setdefault(community, []).append((made.groups[group], cells.count(at)))
    rows = [row("total", (), counts[()])]

    def tree(above: Key) -> None:
        for key in under.get(above, []):
            level = PLACES[len(key) - 1]
            rows.append(row(level, key, counts[key]))
            if level == "community":
                rows.extend(row("community_group", key, count, group)
                            for group, count in cells_of.get(key, []))
            if level != "building":
                tree(key)

    tree(())
    return rows
