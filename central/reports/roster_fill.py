"""The roster fills the call lists (positives, results, resample with `--roster FILE`):
each listed person's missing name, phone and current address from the roster's row of
the same document number, marked as the roster's (`filled`: which fields, 名单补充; the
phone's `phone_source` "roster"), and the roster's building and household beside them
(楼栋, 户), as a call team and a community's grid workers find a door by them.

A child under its guardian's document carries the guardian's number, so the roster's row
of that number is the guardian's, not the child's: it gives the child a missing phone,
marked as the guardian's (`phone_source` "guardian"), and nothing else: the guardian's
name, address, building and household are never put on the child.

What the lane recorded is kept: the roster fills only what is empty. The roster is read
for the report and forgotten; the log says counts only, never a row of it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from central.reports.projection import phone_source
from central.reports.roster import CHECKED_TYPES, problem_of
from central.reports.roster_file import read

log = logging.getLogger("central.reports")

FILLED = ("name", "phone", "address")    # filled where the list's own is empty
ADDED = ("building", "household")        # the roster's own, always shown


@dataclass(frozen=True)
class Known:
    """What the roster says of one person: FILLED and ADDED, by field."""

    values: dict[str, str]


@dataclass
class Counts:
    rows: int = 0          # the roster's rows of people
    unusable: int = 0      # of them, with a number that cannot be anyone's: never matched
    twice: int = 0         # numbers on more than one row: the first row's is used
    listed: int = 0        # people on the list
    found: int = 0         # of them, in the roster
    filled: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FILLED, 0))
    no_phone: int = 0      # listed, and still without a phone


def known_people(path: Path, encoding: str, counts: Counts) -> dict[str, Known]:
    """The roster's people by document number (upper case), the first row of each."""
    table = read(path, encoding)
    typed = "id_type" in table.fields
    known: dict[str, Known] = {}
    for _, cells in table.rows:
        number = table.value(cells, "id_number").upper()
        if not number:
            continue   # a blank line, or a row without a number: nothing to match on
        counts.rows += 1
        checked = not typed or table.value(cells, "id_type") in CHECKED_TYPES
        if checked and problem_of(number) is not None:
            counts.unusable += 1   # `report missing` names these rows
            continue
        if number in known:
            counts.twice += 1
            continue
        known[number] = Known({name: table.value(cells, name) for name in (*FILLED, *ADDED)})
    return known


def filled(chunks: Iterable[list[dict[str, Any]]], path: Path,
           encoding: str = "") -> Iterator[list[dict[str, Any]]]:
    """The list's rows, each filled from the roster; the counts logged at the end. The
    roster is read now: one that cannot be read ends the report before a row is written."""
    counts = Counts()
    known = known_people(path, encoding, counts)

    def rows() -> Iterator[list[dict[str, Any]]]:
        for chunk in chunks:
            yield [fill(row, known, counts) for row in chunk]
        say(path, counts)

    return rows()


def fill(row: dict[str, Any], known: dict[str, Known], counts: Counts) -> dict[str, Any]:
    if "id_number" not in row:   # a tube that held nobody
        return row
    counts.listed += 1
    person = known.get(str(row["id_number"]).strip().upper())
    row = {**row, **dict.fromkeys(ADDED, ""), "filled": ""}
    if person is not None:
        counts.found += 1
        # A child under its guardian's document: the row of that number is the guardian's.
        # Its phone reaches the guardian (marked so); its name, address, building and
        # household are another person's, never the child's.
        child = row.get("id_type") == "guardian"
        took = [name for name in (("phone",) if child else FILLED)
                if not row.get(name) and person.values[name]]
        for name in took:
            row[name] = person.values[name]
            counts.filled[name] += 1
        if not child:
            row.update({name: person.values[name] for name in ADDED})
        row["filled"] = " ".join(took)
        if "phone" in took:
            row["phone_source"] = phone_source(row["id_type"], "roster")
    counts.no_phone += not row.get("phone")
    return row


def say(path: Path, counts: Counts) -> None:
    """Counts only: how much the roster gave, and who is still out of reach."""
    log.info("roster %s: %d rows; %d of the %d people listed found in it; filled %d "
             "phones, %d names, %d addresses; %d listed still without a phone",
             path.name, counts.rows, counts.found, counts.listed, counts.filled["phone"],
             counts.filled["name"], counts.filled["address"], counts.no_phone)
    if counts.unusable or counts.twice:
        log.warning("roster %s: %d rows with an ID number that cannot be anyone's (report "
                    "missing names them) matched nobody; %d rows repeat a number of an "
                    "earlier row (the earlier is used)", path.name, counts.unusable,
                    counts.twice)
