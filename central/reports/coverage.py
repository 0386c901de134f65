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

from dataclasses import dataclass
from typing import Any

Key = tuple[str, ...]
# Each level and the chain of a person's places it is keyed by, from the top.
PLACES = ("district", "street", "community", "building", "household")


@dataclass
class Count:
    expected: int = 0
    tested: int = 0
    invalid: int = 0
    households: int = 0        # the households of the people counted here
    households_none: int = 0   # of them, those none of whose people counted here was tested

    def add(self, figures: list[int], household: bool) -> None:
        """A household's (or a building's people in none) figures: [应检, 已检, 名单有误]."""
        self.expected += figures[0]
        self.tested += figures[1]
        self.invalid += figures[2]
        self.households += household
        self.households_none += household and not figures[1]

    def merge(self, other: Count) -> None:
        self.expected += other.expected
        self.tested += other.tested
        self.invalid += other.invalid
        self.households += other.households
        self.households_none += other.households_none

    def figures(self) -> dict[str, Any]:
        untested = self.expected - self.tested
        share = f"{100 * self.tested / self.expected:.1f}" if self.expected else ""
        return {"expected": self.expected, "tested": self.tested, "untested": untested,
                "percent": share, "households": self.households,
                "households_none": self.households_none, "invalid": self.invalid}


def row(level: str, key: Key, count: Count, group: str = "") -> dict[str, Any]:
    return {"level": level, **dict(zip(PLACES, key, strict=False)), "group": group,
            **count.figures()}
