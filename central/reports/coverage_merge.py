"""A roster read in parts (coverage_apart.py: a city's by two processes at once) made one:
the columns of each part (coverage_columns.columns) joined as if the whole were read in
one, which a test holds them to.

columns() numbers each entry (household name, building, group, cell, home, pair) in the
order the roster first names it. A later part's entries that an earlier one named take
that one's number; the rest follow, in the later part's order, as they would have in one
read. Only the homes of buildings both parts name can be in both (a roster is mostly in
order, so those are few): only they are looked up, never a whole city's.
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Hashable, Iterable
from itertools import accumulate, chain, compress, islice
from typing import TypeVar

from central.reports.coverage_columns import Columns

_K = TypeVar("_K", bound=Hashable)


def merged(parts: Iterable[Columns]) -> Columns:
    """The parts' columns, in order, as one roster's."""
    whole: Columns | None = None
    for part in parts:
        if whole is None:
            whole = part
        else:
            _append(whole, part)
    return whole if whole is not None else Columns()


def _append(whole: Columns, part: Columns) -> None:
    """`part`'s people after `whole`'s, `whole` changed in place."""
    of_household = _renumbered(whole.households, part.households)
    known_buildings = len(whole.buildings)
    of_building = _renumbered(whole.buildings, part.buildings)
    of_group = _renumbered(whole.groups, part.groups)
    of_cell = _renumbered(whole.cells, [(community, of_group[group])
                                        for community, group in part.cells])

    # Homes: one of `part` can be one of `whole` only in a building both name.
    building_of = array("I", map(of_building.__getitem__, part.home_building))
    household_of = array("I", map(of_household.__getitem__, part.home_household))
    both = {at for at in of_building if at < known_buildings}
    homes = _entries(whole.home_building, whole.home_household, both)
    found_homes = {j: at for j in compress(range(len(building_of)), map(
        both.__contains__, building_of)) if (at := homes.get(
            (building_of[j], household_of[j]))) is not None}
    of_home, new = _numbered(len(building_of), found_homes, len(whole.home_building))
    whole.home_building.extend(compress(building_of, new))
    whole.home_household.extend(compress(household_of, new))

    # Pairs (a home and a group): one of `part` can be one of `whole` only at a home both have.
    home_of = array("I", map(of_home.__getitem__, part.pair_home))
    group_of = array("I", map(of_group.__getitem__, part.pair_group))
    pairs = _entries(whole.pair_home, whole.pair_group, set(found_homes.values()))
    found_pairs = {j: at for j in compress(range(len(home_of)), map(
        found_homes.__contains__, part.pair_home)) if (at := pairs.get(
            (home_of[j], group_of[j]))) is not None}
    of_pair, new = _numbered(len(home_of), found_pairs, len(whole.pair_home))
    whole.pair_home.extend(compress(home_of, new))
    whole.pair_group.extend(compress(group_of, new))
    whole.pair_cell.extend(compress(map(of_cell.__getitem__, part.pair_cell), new))

    people = len(whole.person_home)
    whole.person_home.extend(map(of_home.__getitem__, part.person_home))
    whole.invalid += part.invalid
    whole.entry_person.extend(map(operator.add, part.entry_person,
                                  [people] * len(part.entry_person)))
    whole.entry_pair.extend(map(of_pair.__getitem__, part.entry_pair))


def _renumbered(names: list[_K], more: list[_K]) -> list[int]:
    """Each of `more`'s number among `names`, those not there added at the end."""
    at = {name: number for number, name in enumerate(names)}
    numbers = []
    for name in more:
        number = at.get(name)
        if number is None:
            number = at[name] = len(names)
            names.append(name)
        numbers.append(number)
    return numbers


def _entries(first: array[int], second: array[int], among: set[int]
             ) -> dict[tuple[int, int], int]:
    """The entries (first, second) of `whole` whose first is `among`, by themselves."""
    return {(first[at], second[at]): at for at in compress(
        range(len(first)), map(among.__contains__, first))}


def _numbered(count: int, found: dict[int, int], start: int) -> tuple[array[int], bytes]:
    """Each of `count` entries' number: `found`'s, else the next from `start` in turn;
    and which are new (1), in C but for the few found."""
    new = bytearray(b"\x01") * count
    for j in found:
        new[j] = 0
    # start, then start plus the new ones before each entry: a new entry's number
    numbers = array("I", islice(accumulate(chain((start,), new)), count))
    for j, at in found.items():
        numbers[j] = at
    return numbers, bytes(new)
