"""`report coverage`: the roster's people against those sampled in the period, by
document number, as offices report it: 应检 (on the roster), 已检 (validly registered
in the period, at any site), 未检, and the share tested; for the whole roster, each
priority group, each 区, 街道, 社区 (and its groups) and 楼栋, with the households (户)
counted and those with nobody sampled counted and then listed (by building and
household: no name, no number). The names of who is missing are `report missing`'s.

Counts only: nothing here is a person's. A person in several groups counts in each, so
the groups' rows need not add up to the total; every other level adds up to the one
above it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from typing import Any

from central.reports.coverage_roster import Resident

Key = tuple[str, ...]
# Each level and the chain of a person's places it is keyed by, from the top.
PLACES = ("district", "street", "community", "building", "household")
DEPTH = {"total": 0, "district": 1, "street": 2, "community": 3, "building": 4,
         "household": 5}


@dataclass
class Count:
    expected: int = 0
    tested: int = 0
    invalid: int = 0
    households: dict[Key, bool] = field(default_factory=dict)   # → anyone tested

    def add(self, person: Resident, tested: bool, household: Key | None) -> None:
        self.expected += 1
        self.tested += tested
        self.invalid += person.invalid
        if household is not None:
            self.households[household] = self.households.get(household, False) or tested

    def figures(self) -> dict[str, Any]:
        untested = self.expected - self.tested
        share = f"{100 * self.tested / self.expected:.1f}" if self.expected else ""
        nobody = sum(not anyone for anyone in self.households.values())
        return {"expected": self.expected, "tested": self.tested, "untested": untested,
                "percent": share, "households": len(self.households),
                "households_none": nobody, "invalid": self.invalid}


@dataclass
class Coverage:
    """Each level's counts, keyed by (level, chain), and each place's places under it
    and groups, in the roster's order."""

    counts: dict[tuple[str, Key], Count] = field(default_factory=lambda: defaultdict(Count))
    under: dict[Key, list[Key]] = field(default_factory=lambda: defaultdict(list))
    groups: dict[Key, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, person: Resident, tested: bool) -> None:
        chain = place(person)
        household = chain if person.household else None
        for level, depth in DEPTH.items():
            if level == "household":
                if household is not None:
                    self.counts[(level, chain)].add(person, tested, household)
                continue
            key = chain[:depth]
            if depth and (level, key) not in self.counts:
                self.under[key[:-1]].append(key)
            self.counts[(level, key)].add(person, tested, household)
        for group in person.groups:
            self.counts[("group", (group,))].add(person, tested, household)
            if ("community_group", (*chain[:3], group)) not in self.counts:
                self.groups[chain[:3]].append(group)
            self.counts[("community_group", (*chain[:3], group))].add(person, tested,
                                                                        household)

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


def place(person: Resident) -> Key:
    return (person.district, person.street, person.community, person.building,
            person.household)


def row(level: str, key: Key, count: Count, group: str = "") -> dict[str, Any]:
    return {"level": level, **dict(zip(PLACES, key, strict=False)), "group": group,
            **count.figures()}


def coverage_rows(people: Iterable[Resident], sampled: Container[str]
                  ) -> list[dict[str, Any]]:
    """The report's rows: the roster's `people` against the document numbers `sampled`
    (upper-case, as rows.sampled gives them, or sampled.py's documents found)."""
    coverage = Coverage()
    for person in people:
        coverage.add(person, not person.invalid and person.number in sampled)
    return coverage.rows()
