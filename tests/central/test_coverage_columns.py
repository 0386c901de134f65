"""Coverage counted by columns (central/reports/coverage_columns.py) gives the rows the
report gave when it added each person in turn (tests/central/coverage_folded.py): on
generated rosters of every shape (households and none, several groups, one group on
several households, invalid numbers, places named again after others, nobody found,
everybody found), with digests under central's key and with the numbers themselves."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from central.reports.coverage import Count, row
from central.reports.coverage_columns import (
    by_community,
    columns,
    communities,
    compared,
    counted,
)
from central.reports.coverage_merge import merged
from central.reports.coverage_roster import UNGROUPED, Person
from central.reports.document_key import DocumentKey
from tests.central.coverage_folded import counted as folded

KEY = DocumentKey(b"central's private keys, joined")
GROUPS = ("老年人", "儿童", "重点行业", UNGROUPED)

places = st.tuples(st.sampled_from("AB"), st.sampled_from("xy"), st.sampled_from("pq"),
                   st.sampled_from("12"), st.sampled_from(["", "101", "102"]))
person = st.tuples(places, st.lists(st.sampled_from(GROUPS), min_size=1, max_size=3,
                                    unique=True), st.booleans(), st.booleans())


Drawn = list[tuple[tuple[str, ...], list[str], bool, bool]]


def roster(drawn: Drawn) -> tuple[list[Person], set[str]]:
    """People numbered in turn (the chain as a person's district, street, community,
    building, household), and the numbers found: those drawn so."""
    people: list[Person] = []
    found = set()
    for n, (chain, groups, invalid, tested) in enumerate(drawn):
        district, street, community, building, household = chain
        people.append((f"N{n}", (district, district + street, district + street + community,
                                 building, household), tuple(groups), invalid))
        if tested:
            found.add(f"N{n}")
    return people, found


@settings(max_examples=300, deadline=None)
@given(st.lists(person, max_size=40))
def test_the_columns_count_as_each_person_added_in_turn(drawn: Drawn) -> None:
    people, found = roster(drawn)
    expected = folded(people, found)
    made = columns(people)
    numbers = [number for number, *_ in people]
    assert counted(made, compared(numbers, None), found) == expected
    digests = {KEY.digest(number) for number in found}
    assert counted(made, compared(numbers, KEY.digest), digests) == expected


def test_a_household_of_two_groups_found_in_one_and_an_invalid_number() -> None:
    """Worked by hand: one household (two people, one in two groups), one building's
    person in no household, one invalid number found (never tested)."""
    people: list[Person] = [
        ("A1", ("区", "街", "社", "1栋", "101"), ("老年人", "儿童"), False),
        ("A2", ("区", "街", "社", "1栋", "101"), ("儿童",), False),
        ("A3", ("区", "街", "社", "1栋", ""), (UNGROUPED,), False),
        ("A4", ("区", "街", "社", "2栋", "201"), ("老年人",), True),
    ]
    rows = counted(columns(people), compared(["A1", "A2", "A3", "A4"], None), {"A2", "A4"})
    by = {(r["level"], r["group"], r.get("building", "")): (
        r["expected"], r["tested"], r["invalid"], r["households"], r["households_none"])
        for r in rows}
    assert by[("total", "", "")] == (4, 1, 1, 2, 1)
    assert by[("group", "儿童", "")] == (2, 1, 0, 1, 0)
    assert by[("group", "老年人", "")] == (2, 0, 1, 2, 2)
    assert by[("building", "", "1栋")] == (3, 1, 0, 1, 0)
    assert [(r["building"], r["household"]) for r in rows if r["level"] == "household"] == [
        ("2栋", "201")]
    # written out for speed, the row is the one coverage.row makes, in its order
    household = rows[-1]
    made = row("household", ("区", "街", "社", "2栋", "201"), Count(1, 0, 1, 1, 1))
    assert list(household.items()) == list(made.items())


@settings(max_examples=300, deadline=None)
@given(st.lists(person, max_size=40), st.lists(st.integers(0, 40), max_size=3))
def test_a_roster_read_in_parts_joins_into_the_columns_of_one_read(drawn: Drawn,
                                                                   cuts: list[int]) -> None:
    """Cut anywhere (within a household, a building, a group's pair, or between), the
    parts' columns joined are the whole's: every entry numbered as one read numbers it."""
    people, _ = roster(drawn)
    at = sorted({min(cut, len(people)) for cut in cuts})
    parts = [people[start:end] for start, end in zip([0, *at], [*at, len(people)],
                                                     strict=True)]
    assert merged(columns(part) for part in parts) == columns(people)


@settings(max_examples=200, deadline=None)
@given(st.lists(person, max_size=40), st.integers(0, 40))
def test_the_brief_counts_the_same_by_community_alone(drawn: Drawn, cut: int) -> None:
    """The brief's lean columns (each community one home) count each community as the
    whole columns do, read in one or in two parts."""
    people, found = roster(drawn)
    numbers = compared([number for number, *_ in people], None)
    expected = by_community(columns(people), numbers, found)
    assert by_community(communities(people), numbers, found) == expected
    parts = merged([communities(people[:cut]), communities(people[cut:])])
    assert by_community(parts, numbers, found) == expected
