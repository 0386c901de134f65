"""Coverage as it was counted before #41 item 5's columns: each person added into their
household's figures, the households into buildings, and so on up, one Python statement
at a time (5,000,000 people took 44 s). Kept here, as it was, as the answer the report's
counting by columns (central/reports/coverage_columns.py) is held to."""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from typing import Any

from central.reports.coverage import PLACES, Count, Key, row


@dataclass
class Tally:
    """Each person counted once, into their household (their chain: a building's people
    in no household share one) and into each of their groups there, in the roster's
    order; the levels are then summed from these (a city's 5,000,000 people make some
    2,000,000 households, each summed once a level)."""

    homes: dict[Key, list[int]] = field(default_factory=dict)
    grouped: dict[tuple[Key, str], list[int]] = field(default_factory=dict)

    def add(self, chain: Key, groups: tuple[str, ...], tested: bool, invalid: bool) -> None:
        figures = self.homes.get(chain)
        if figures is None:
            figures = self.homes[chain] = [0, 0, 0]
        figures[0] += 1
        figures[1] += tested
        figures[2] += invalid
        for group in groups:
            of_group = self.grouped.get((chain, group))
            if of_group is None:
                of_group = self.grouped[(chain, group)] = [0, 0, 0]
            of_group[0] += 1
            of_group[1] += tested
            of_group[2] += invalid


@dataclass
class Coverage:
    """Each level's counts, keyed by (level, chain), and each place's places under it
    and groups, in the roster's order."""

    counts: dict[tuple[str, Key], Count] = field(default_factory=lambda: defaultdict(Count))
    under: dict[Key, list[Key]] = field(default_factory=lambda: defaultdict(list))
    groups: dict[Key, list[str]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def of(cls, tally: Tally) -> Coverage:
        """Each household into its building, then each place into the one above it, from
        the bottom up (a city's 2,000,000 households are each added once, the few places
        above them once each), in the order the roster first names each."""
        coverage = cls()
        counts = coverage.counts
        below: dict[Key, Count] = {}
        for chain, figures in tally.homes.items():
            if chain[4]:
                counts[("household", chain)].add(figures, True)
            building = below.get(chain[:4])
            if building is None:
                building = below[chain[:4]] = Count()
            building.add(figures, bool(chain[4]))
        for depth in (4, 3, 2, 1):
            level, above = PLACES[depth - 1], dict[Key, Count]()
            for key, count in below.items():
                counts[(level, key)] = count
                coverage.under[key[:-1]].append(key)
                summed = above.get(key[:-1])
                if summed is None:
                    summed = above[key[:-1]] = Count()
                summed.merge(count)
            below = above
        counts[("total", ())] = below.get((), Count())
        coverage._grouped(tally)
        return coverage

    def _grouped(self, tally: Tally) -> None:
        counts = self.counts
        for (chain, group), figures in tally.grouped.items():
            household = bool(chain[4])
            counts[("group", (group,))].add(figures, household)
            if ("community_group", (*chain[:3], group)) not in counts:
                self.groups[chain[:3]].append(group)
            counts[("community_group", (*chain[:3], group))].add(figures, household)

    def rows(self) -> list[dict[str, Any]]:
        """合计, the groups, then the places from the top down (each community's groups
        after it), then the households with nobody sampled."""
        out = [row("total", (), self.counts[("total", ())])]
        out += [row("group", (), c, key[0]) for (level, key), c in self.counts.items()
                if level == "group"]
        out += self._tree(())
        out += [row("household", key, c) for (level, key), c in self.counts.items()
                if level == "household" and not c.tested]
        return out

    def _tree(self, above: Key) -> list[dict[str, Any]]:
        out = []
        for key in self.under.get(above, []):
            level = PLACES[len(key) - 1]
            out.append(row(level, key, self.counts[(level, key)]))
            if level == "community":
                out += [row("community_group", key, self.counts[
                    ("community_group", (*key, group))], group) for group in self.groups[key]]
            out += self._tree(key)
        return out


Listed = tuple[str, Key, tuple[str, ...], bool]   # number, chain, groups, invalid


def counted(people: Iterable[Listed], sampled: Container[str]) -> list[dict[str, Any]]:
    """The rows of the roster's people as coverage_roster.people reads them. Garbage
    collection is held off, as while the roster is read: its passes over the millions of
    people held took a third of the count, and nothing counted makes a cycle."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        tally = Tally()
        for number, chain, groups, invalid in people:
            tally.add(chain, groups, not invalid and number in sampled, invalid)
        return Coverage.of(tally).rows()
    finally:
        if collecting:
            gc.enable()
