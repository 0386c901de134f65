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
from itertools import compress
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

    both = {at for at in of_building if at < known_buildings}
    known_homes = len(whole.home_building)
    homes = {(whole.home_building[at], whole.home_household[at]): at for at in compress(
        range(known_homes), map(both.__contains__, whole.home_building))}
    of_home = _numbers(homes, ((of_building[building], of_household[household]) for
                               building, household in zip(part.home_building,
                                                          part.home_household, strict=True)),
                       (whole.home_building, whole.home_household))

    shared = {at for at in of_home if at < known_homes}
    pairs = {(whole.pair_home[at], whole.pair_group[at]): at for at in compress(
        range(len(whole.pair_home)), map(shared.__contains__, whole.pair_home))}
    of_pair = _numbers(pairs, ((of_home[home], of_group[group], of_cell[cell]) for
                               home, group, cell in zip(part.pair_home, part.pair_group,
                                                        part.pair_cell, strict=True)),
                       (whole.pair_home, whole.pair_group, whole.pair_cell))

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


def _numbers(known: dict[tuple[int, int], int], rows: Iterable[tuple[int, ...]],
             into: tuple[array[int], ...]) -> array[int]:
    """Each row's number (a home's, a pair's): the one `known` gives its first two
    fields, else the next, the row appended to `into` (a column a field)."""
    numbers = array("I")
    for row in rows:
        at = known.get((row[0], row[1]))
        if at is None:
            at = len(into[0])
            for column, value in zip(into, row, strict=True):
                column.append(value)
        numbers.append(at)
    return numbers
