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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from central.intake.lab_cells import not_registered, number_form
from central.intake.lab_files import Row, receipt_of, result_of, rows
from central.intake.scanned import Scans
from central.store.event_store import SqlEventStore
from central.store.lab_tables import Packed, Receipt, Result, Verdict
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
    one received twice must agree with the first receipt, and a scan of its tubes is
    added to a receipt that had only their count."""
    boxes = [r.box for r in receipts]
    earlier, packed = store.receipts_of(boxes), store.packed(boxes)
    kept = store.received_tubes(boxes)
    new, scans, seen = [], [], set()
    for r in receipts:
        where = f"{source}:{r.line}: " if r.line else ""
        if r.box in seen:
            outcome.problems.append(f"{where}box {r.box} appears twice")
            continue
        seen.add(r.box)
        before = earlier.get(r.box)
        tubes, scanned = kept.get(r.box, (set(), False))
        # A scan after a count-only receipt is how a desk finds what its count got wrong:
        # only the lab must agree, and the scan is kept whatever the count said.
        adds_scan = before is not None and bool(r.scanned) and not scanned
        if before is not None and (before[0] != r.lab or (
                before[1] != r.tubes and not adds_scan)):
            outcome.problems.append(f"{where}box {r.box} was received already: {before[0]}, "
                                    f"{before[1]} tubes, at {before[2]}")
            continue
        if before is None:
            new.append(r)
        elif adds_scan:
            scans.append(r)   # counted before, scanned now
            if before[1] != r.tubes:
                outcome.notes.append(f"{where}WARNING: box {r.box}: the count differs: "
                                     f"counted {before[1]} tubes at {before[2]}, {r.tubes} "
                                     "scanned now; the scan is kept")
        elif r.scanned and set(r.scanned) != tubes:
            outcome.problems.append(f"{where}box {r.box} was scanned already, and this scan "
                                    f"differs from it: {_differences(tubes, r.scanned)}")
        else:
            outcome.already += 1
        _against_the_slip(store, r, packed.get(r.box), where, outcome)
    if not outcome.problems:
        if new:
            store.add_receipts(new, source, now)
        for r in scans:
            store.add_scans(r)
        outcome.stored = len(new) + len(scans)
    return outcome


def _differences(kept: set[str], scanned: tuple[str, ...]) -> str:
    gone, more = sorted(kept - set(scanned)), sorted(set(scanned) - kept)
    return "; ".join(part for part in (f"not in it now: {' '.join(gone)}" if gone else "",
                                       f"new in it: {' '.join(more)}" if more else "") if part)


def _against_the_slip(store: SqlEventStore, r: Receipt, packed: Packed | None, where: str,
                      outcome: Outcome) -> None:
    """What the desk must hear while the box is still on it: a box no lane closed, a count
    that differs from the slip, and each tube scanned that the lane did not pack in it,
    or packed and not scanned. Stored all the same, as received: the receipt records what
    arrived, and custody shows both sides."""
    if packed is None and r.line in outcome.numbers:
        outcome.problems.append(f"{where}{not_registered('box', r.box)}")
        return
    if packed is None:
        outcome.notes.append(f"{where}box {r.box}: no station has closed such a box "
                             "yet; recorded, and shown unmatched until it does")
        return
    if packed.tube_count != r.tubes:
        outcome.notes.append(f"{where}WARNING: box {r.box}: the count differs: the slip "
                             f"says {packed.tube_count} tubes, the desk counted {r.tubes}")
    if not r.scanned:
        return
    extra = [tube for tube in r.scanned if tube not in packed.tubes]
    home = store.packed_where(extra)
    for tube in packed.tubes:
        if tube not in r.scanned:
            outcome.notes.append(f"{where}WARNING: box {r.box}: tube {tube} was packed in it "
                                 "and not scanned out of it")
    for tube in extra:
        said = f"was packed in box {home[tube]}" if tube in home else "is in no box a lane closed"
        outcome.notes.append(f"{where}WARNING: box {r.box}: tube {tube} scanned out of it "
                             f"{said}")


def receive_box(store: SqlEventStore, receipt: Receipt, scans: Scans | None,
                now: dt.datetime) -> Outcome:
    """One box at a receipt desk: counted, or its tubes scanned (then the count is theirs:
    a count given as well, `receipt.tubes` not -1, must agree). A tube id read from a
    spreadsheet's number must be one the register holds."""
    if scans is None:
        return import_receipts(store, [receipt], "receive", Outcome(), now)
    outcome = Outcome(problems=list(scans.problems), notes=list(scans.notes))
    if receipt.tubes not in (-1, len(scans.tubes)):
        outcome.problems.append(f"--tubes {receipt.tubes}, but {len(scans.tubes)} tubes "
                                f"scanned in {scans.source}: count the box, or scan it, again")
    states = store.tube_states(scans.numbers)
    outcome.problems += [f"{scans.source}:{line}: {not_registered('tube', tube)}"
                         for tube, line in sorted(scans.numbers.items())
                         if tube not in states]
    scanned = replace(receipt, tubes=len(scans.tubes), scanned=tuple(scans.tubes))
    return import_receipts(store, [scanned], "receive", outcome, now)


def receipts_file(store: SqlEventStore, path: Path, *, lab: str, zone: ZoneInfo,
                  encoding: str = "utf-8", now: dt.datetime) -> Outcome:
    outcome = Outcome()
    receipts = read_all(path, (("box", "tubes", "received_at"), ("lab",)), encoding,
                        lambda row: receipt_of(row, lab, zone), outcome)
    return import_receipts(store, receipts, path.name, outcome, now)
