"""The tubes a lab's receipt desk scanned out of a box (`receive BOX --scanned FILE`, or
`-` for standard input): one tube id a line, as a scanner gun types them (each code and
Enter), in a text file, a CSV, or an xlsx a desk scanned into (the first cell of each
row). A header naming the tube column is passed over.

A tube scanned twice is counted once, and the box's own label scanned among its tubes
is passed over, each said. An id Excel made a number is read as lab_cells reads one, and
held to the register by the caller. Every line that is no tube id is a problem, named
with its line: the receipt is then not stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from central.intake.lab_cells import identifier, number_form
from central.intake.lab_files import FOLDED, folded_header, text_of, xlsx_rows

STDIN = "-"


@dataclass
class Scans:
    source: str                                        # the file, or "standard input"
    tubes: list[str] = field(default_factory=list)     # each once, in the order scanned
    numbers: dict[str, int] = field(default_factory=dict)   # read from a number: its line
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_scans(source: str, box: str, stdin: TextIO) -> Scans:
    """The tubes of `source` (a path, or STDIN) scanned out of `box`."""
    if source == STDIN:
        return scans_of("standard input", enumerate(([line] for line in stdin), 1), box)
    path = Path(source)
    if path.suffix.lower() == ".xlsx":
        return scans_of(str(path), enumerate(_first_cells(xlsx_rows(path)), 1), box)
    text = text_of(path, "utf-8", "a scanner types tube ids in ASCII: is this the file of "
                   "scans?")
    return scans_of(str(path), enumerate(([line] for line in text.splitlines()), 1), box)


def _first_cells(rows: Iterable[list[Any]]) -> Iterator[list[Any]]:
    for cells in rows:
        yield [next((c for c in cells if c is not None and str(c).strip() != ""), None)]


def scans_of(source: str, lines: Iterable[tuple[int, list[Any]]], box: str) -> Scans:
    scans = Scans(source)
    first: dict[str, int] = {}
    for line, (written,) in lines:
        cell = written.split(",")[0].split("\t")[0].strip() if isinstance(
            written, str) else written   # a CSV's first field
        if cell is None or cell == "":
            continue
        if not first and not scans.problems and folded_header(cell) in FOLDED["tube"]:
            continue   # the column's header
        try:
            tube = identifier(cell, "tube")
        except ValueError as exc:
            scans.problems.append(f"{source}:{line}: {exc}")
            continue
        if tube == box:
            scans.notes.append(f"{source}:{line}: the box's own label {box}, passed over")
        elif tube in first:
            scans.notes.append(f"{source}:{line}: tube {tube} scanned again (line "
                               f"{first[tube]}): counted once")
        else:
            first[tube] = line
            scans.tubes.append(tube)
            if number_form(cell):
                scans.numbers[tube] = line
    if not scans.tubes and not scans.problems:
        scans.problems.append(f"{source}: no tube id in it: scan each tube of the box, one "
                              "a line")
    return scans
