"""The roster a district sends: for `report missing`, the people a round must reach, read
against who was validly registered (待补采: on the roster, not sampled); for the call
lists (positives, results, resample: roster_fill.py), how to reach them. Read by
roster_file.py, as communities keep rosters (xlsx with title rows, GBK CSV).

A roster passes through hands and spreadsheets before it arrives. An ID number that
cannot be anyone's (Excel's `1.10101E+17`, a wrong check character, a birth date that
cannot be) can never match a registration, as a lane refuses such numbers: listed as
待补采 it would send a team after a person the list has lost. Such a row is flagged
instead (名单有误, `roster_problem`, after the others) and a line on standard error counts
them and names their rows, never the numbers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from central.reports.roster_file import read
from contract.id_numbers import InvalidIdNumber, card_form, validate_id_number

log = logging.getLogger("central.reports")

# The documents whose numbers follow GB 11643 (a resident ID, an HMT residence permit).
CHECKED_TYPES = frozenset({"", "resident", "hmt_permit", "居民身份证", "港澳台居民居住证",
                           "港澳台居民证件"})
PROBLEM = "roster_problem"   # the column added to the roster's own: why a row is flagged

RosterProblem = Literal["excel_number", "format", "check_character", "birth_date"]

# What a spreadsheet makes of an 18-digit number kept as a number: 1.10101E+17.
EXCEL_NUMBER = re.compile(r"\d+(\.\d+)?E\+?\d+", re.IGNORECASE)
ROWS_NAMED = 20   # the stderr line names this many rows, then says how many more


def problem_of(number: str) -> RosterProblem | None:
    """Why a roster's ID number cannot be anyone's, or None when it can."""
    if EXCEL_NUMBER.fullmatch(number.strip()):
        return "excel_number"
    try:
        validate_id_number(number)
    except InvalidIdNumber as exc:
        return exc.problem
    return None


def not_sampled(sampled: set[str], roster: Path, encoding: str = "") -> list[dict[str, Any]]:
    """The roster's rows whose person has no valid registration, in the roster's order,
    then its rows flagged as not a valid number; every row under the roster's own column
    names, with its `roster_problem` ("" for none)."""
    table = read(roster, encoding)
    kind = "id_type" in table.fields
    missing, flagged = [], []
    for line, cells in table.rows:
        if not any(c.strip() for c in cells):
            continue   # a blank line a spreadsheet left
        row = table.as_named(cells)
        value = card_form(table.value(cells, "id_number"))
        checked = not kind or table.value(cells, "id_type") in CHECKED_TYPES
        problem = problem_of(value) if checked else None
        if problem is not None:
            flagged.append((line, {**row, PROBLEM: problem}))
        elif value not in sampled:
            missing.append({**row, PROBLEM: ""})
    if flagged:
        say_flagged(roster, [line for line, _ in flagged])
    return missing + [row for _, row in flagged]


def say_flagged(roster: Path, lines: Iterable[int]) -> None:
    rows = list(lines)
    named = ", ".join(map(str, rows[:ROWS_NAMED])) + (
        f" and {len(rows) - ROWS_NAMED} more" if len(rows) > ROWS_NAMED else "")
    rows_ = "row" if len(rows) == 1 else "rows"
    log.warning("%s: %d %s whose ID number is not valid (%s %s): listed as 名单有误, "
                "not as 待补采; correct them in the roster", roster.name, len(rows), rows_,
                rows_, named)
