"""A lab's file taken in whole or not at all: results (`import-results`) and receipts
(`import-receipts`, and `receive` for one box at a receipt desk).

Every row is checked before anything is stored: against the file itself (a tube given
two different results for one test), against the register (a tube no station opened,
a tube voided at the lane, whose people were sampled again) and against what is stored
(a result that contradicts one imported earlier). One bad row refuses the file, with
every problem and its line said at once, so the lab corrects them and sends it again.
A row already stored is passed over: the same file twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from central.intake.lab_cells import not_registered, number_form
from central.intake.lab_files import Row, receipt_of, result_of, rows
from central.store.event_store import SqlEventStore
from central.store.lab_tables import Receipt, Result, Verdict
from contract import rfc3339

T = TypeVar("T", Result, Receipt)
SHOWN: dict[Verdict, str] = {"negative": "阴性 negative", "positive": "阳性 positive",
                             "invalid": "无效 invalid"}


@dataclass
class Outcome:
    stored: int = 0
    already: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # stored, but worth a look
    # The lines whose id was a number in the spreadsheet: taken only if the register
    # holds an id of exactly its digits (lab_cells.py).
    numbers: set[int] = field(default_factory=set)


def read_all(path: Path, fields: tuple[tuple[str, ...], tuple[str, ...]], encoding: str,
             make: Callable[[Row], T], outcome: Outcome) -> list[T]:
    """Every row made into its record; a problem per row that cannot be. The id is the
    first field."""
    made = []
    for row in rows(path, *fields, encoding):
        try:
            made.append(make(row))
        except ValueError as exc:
            outcome.problems.append(f"{path}:{row.line}: {exc}")
            continue
        if number_form(row.values[fields[0][0]]):
            outcome.numbers.add(row.line)
    return made


def import_results(store: SqlEventStore, path: Path, *, lab: str, zone: ZoneInfo,
                   encoding: str = "utf-8", now: dt.datetime) -> Outcome:
    outcome = Outcome()
    results = read_all(path, (("tube", "result", "tested_at"), ("lab", "ct_orf1ab", "ct_n")),
                       encoding, lambda row: result_of(row, lab, zone), outcome)
    fresh = once_each(results, path, outcome)
    states = store.tube_states(r.tube for r in fresh)
    for r in fresh:
        seen = states.get(r.tube, set())
        if not seen and r.line in outcome.numbers:
            outcome.problems.append(f"{path}:{r.line}: {not_registered('tube', r.tube)}")
        elif not seen:
            outcome.problems.append(f"{path}:{r.line}: tube {r.tube}: no station registered "
                                    "such a tube (a misread label, or not yet delivered)")
        elif "voided" in seen and "sealed" not in seen:
            outcome.problems.append(f"{path}:{r.line}: tube {r.tube} was voided at the lane "
                                    "(its people were sampled again): no one to give it to")
    stored = {(s.tube, s.lab, s.tested_at): (s.result, s.ct_orf1ab, s.ct_n)
              for s in store.results_of(r.tube for r in fresh)}
    new = []
    for r in fresh:
        earlier = stored.get((r.tube, r.lab, rfc3339(r.tested_at)))
        if earlier is None:
            new.append(r)
        elif earlier == (r.result, r.ct_orf1ab, r.ct_n):
            outcome.already += 1
        else:
            outcome.problems.append(
                f"{path}:{r.line}: tube {r.tube}: {SHOWN[r.result]} contradicts the result "
                f"stored for the same test ({SHOWN[earlier[0]]}, {r.lab}, {rfc3339(r.tested_at)}); "
                "a retest has a time of its own")
    if not outcome.problems and new:
        store.add_results(new, path.name, now)
        outcome.stored = len(new)
    return outcome


def once_each(results: list[Result], path: Path, outcome: Outcome) -> list[Result]:
    """The file's results, a row repeated word for word counted once; one test given two
    different results is a problem."""
    first: dict[tuple[str, str, dt.datetime], Result] = {}
    for r in results:
        seen = first.setdefault(r.key, r)
        if seen is not r and (seen.result, seen.ct_orf1ab, seen.ct_n) != (
                r.result, r.ct_orf1ab, r.ct_n):
            outcome.problems.append(f"{path}:{r.line}: tube {r.tube}: {SHOWN[r.result]}, but "
                                    f"line {seen.line} gives {SHOWN[seen.result]} for the "
                                    "same test")
    return list(first.values())


def import_receipts(store: SqlEventStore, receipts: list[Receipt], source: str,
                    outcome: Outcome, now: dt.datetime) -> Outcome:
    """Boxes received at a lab. A box no station has closed is still recorded (its lane
    may not have delivered yet, or its label was misread: custody shows it unmatched);
    one received twice must agree with the first receipt."""
    earlier = store.receipts_of(r.box for r in receipts)
    closed = store.boxes_closed(r.box for r in receipts)
    new, seen = [], set()
    for r in receipts:
        where = f"{source}:{r.line}: " if r.line else ""
        if r.box in seen:
            outcome.problems.append(f"{where}box {r.box} appears twice")
            continue
        seen.add(r.box)
        before = earlier.get(r.box)
        if before is not None and before[:2] != (r.lab, r.tubes):
            outcome.problems.append(f"{where}box {r.box} was received already: {before[0]}, "
                                    f"{before[1]} tubes, at {before[2]}")
            continue
        if before is None:
            new.append(r)
        else:
            outcome.already += 1
        if r.box not in closed and r.line in outcome.numbers:
            outcome.problems.append(f"{where}{not_registered('box', r.box)}")
        elif r.box not in closed:
            outcome.notes.append(f"{where}box {r.box}: no station has closed such a box "
                                 "yet; recorded, and shown unmatched until it does")
        elif closed[r.box] != r.tubes:
            # Said at once, where the box is still on the desk to recount; stored all the
            # same, as counted: the receipt records what arrived, and custody shows both.
            outcome.notes.append(f"{where}WARNING: box {r.box}: the count differs: the slip "
                                 f"says {closed[r.box]} tubes, the desk counted {r.tubes}")
    if not outcome.problems and new:
        store.add_receipts(new, source, now)
        outcome.stored = len(new)
    return outcome


def receipts_file(store: SqlEventStore, path: Path, *, lab: str, zone: ZoneInfo,
                  encoding: str = "utf-8", now: dt.datetime) -> Outcome:
    outcome = Outcome()
    receipts = read_all(path, (("box", "tubes", "received_at"), ("lab",)), encoding,
                        lambda row: receipt_of(row, lab, zone), outcome)
    return import_receipts(store, receipts, path.name, outcome, now)
