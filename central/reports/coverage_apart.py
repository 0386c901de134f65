"""A city's roster read for `report coverage` in a worker process while this one reads
the day's documents from the store: a warm report otherwise leaves the machine's second
core idle while the roster is read, checked and digested (two fifths of it at 5,000,000).

The worker reads it as coverage_roster.people does, digests each number under the
document key (as sampled.Found compares them), and hands back compact arrays: each
person's household (an index into the chains, in the order first named), groups (an
index), whether their number is invalid, and the digests joined. Counted here as
coverage.counted counts people()'s list: the same rows (a test holds them equal).

A roster refused in the worker is refused here, with the same message, before the store
is written (sampled_documents waits for the roster's verdict before writing the index)
and before any other error of the report. What the read says on standard error (rows
flagged, communities not placed) is said here, once it is done.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
from array import array
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from central.reports.coverage import Coverage, Tally
from central.reports.coverage_roster import Chain, people
from central.reports.document_key import DIGEST_BYTES, DocumentKey
from central.reports.sampled import Found
from central.reports.sites import Sites

log = logging.getLogger("central.reports")

APART_BYTES = 8_000_000   # some 100,000 rows: below it, spawning costs more than it saves


@dataclass
class Lean:
    """The roster's people as the worker hands them back, one entry a person each."""

    chains: list[Chain]                 # the households' chains, in the order first named
    groups: list[tuple[str, ...]]       # the group tuples, in the order first named
    homes: array[int]                   # each person's chain, by index
    kinds: array[int]                   # each person's groups, by index
    invalid: bytes                      # 1: the number cannot be anyone's
    compared: bytes | list[str]         # the digests joined, or (no key) the numbers
    said: list[tuple[int, str]]         # what the read logged: level, message


class _Said(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelno, record.getMessage()))


def lean_roster(path: Path, encoding: str, sites: Sites, key_files: list[str] | None
                ) -> Lean:
    """The roster read, checked and digested (in the worker; RosterRefused as people's)."""
    said = _Said()
    log.addHandler(said)
    log.propagate = False   # said in the report's own process, not on the worker's stderr
    try:
        roster = people(path, encoding, sites)
    finally:
        log.removeHandler(said)
    gc.disable()   # nothing here makes a cycle (as in people())
    chains: dict[Chain, int] = {}
    groups: dict[tuple[str, ...], int] = {}
    homes, kinds, invalid = array("I"), array("I"), bytearray()
    for _, chain, of_groups, bad in roster:
        homes.append(chains.setdefault(chain, len(chains)))
        kinds.append(groups.setdefault(of_groups, len(groups)))
        invalid.append(bad)
    if key_files is None:
        compared: bytes | list[str] = [number for number, *_ in roster]
    else:
        digest = DocumentKey.of_files([Path(f) for f in key_files]).digest
        compared = b"".join(digest(number) for number, *_ in roster)
    return Lean(list(chains), list(groups), homes, kinds, bytes(invalid), compared,
                said.records)


class RosterApart:
    """The roster being read in a worker; `checked()` waits for it (and raises its
    refusal), `counted(found)` gives coverage's rows against the documents found."""

    def __init__(self, path: Path, encoding: str, sites: Sites,
                 key_files: list[Path] | None) -> None:
        self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        self.future = self.pool.submit(lean_roster, path, encoding, sites, None if (
            key_files is None) else [str(f) for f in key_files])
        self.lean: Lean | None = None

    def __enter__(self) -> RosterApart:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.pool.shutdown(cancel_futures=True)

    def checked(self) -> Lean:
        if self.lean is None:
            self.lean = self.future.result()
            for level, message in self.lean.said:
                log.log(level, "%s", message)
        return self.lean

    def counted(self, found: Found) -> list[dict[str, Any]]:
        lean = self.checked()
        collecting = gc.isenabled()
        gc.disable()
        try:
            return Coverage.of(_tally(lean, found.found)).rows()
        finally:
            if collecting:
                gc.enable()


def _tally(lean: Lean, held: set[bytes | str]) -> Tally:
    """Counted as coverage.Tally counts people(), by household on small ints."""
    homes = [[0, 0, 0] for _ in lean.chains]
    grouped: dict[tuple[int, int], list[int]] = {}
    compared = lean.compared
    numbers = compared if isinstance(compared, list) else (
        compared[at:at + DIGEST_BYTES] for at in range(0, len(compared), DIGEST_BYTES))
    for home, kind, bad, number in zip(lean.homes, lean.kinds, lean.invalid, numbers,
                                       strict=True):
        tested = not bad and number in held
        figures = homes[home]
        figures[0] += 1
        figures[1] += tested
        figures[2] += bad
        of_kind = grouped.get((home, kind))
        if of_kind is None:
            of_kind = grouped[(home, kind)] = [0, 0, 0]
        of_kind[0] += 1
        of_kind[1] += tested
        of_kind[2] += bad
    tally = Tally(dict(zip(lean.chains, homes, strict=True)))
    for (home, kind), figures in grouped.items():
        for group in lean.groups[kind]:
            summed = tally.grouped.setdefault((lean.chains[home], group), [0, 0, 0])
            for at in range(3):
                summed[at] += figures[at]
    return tally
