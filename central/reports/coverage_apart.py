"""A city's roster read for `report coverage` in worker processes while this one reads
the day's documents from the store: a warm report otherwise leaves the machine's second
core idle while the roster is read, checked and digested (two fifths of it at 5,000,000).

A CSV roster with no quote in it is read by PARTS workers at once, each its share of the
rows (roster_file.split_rows cuts it at line ends; any other roster is read whole by the
first); each sends its numbers (digested there under the document key, as sampled.Found
compares them: this process, reading the day's documents meanwhile, is the busiest) and
then its rows in columns (coverage_columns.py), joined here (coverage_merge.py) and
counted once the documents are found: the same rows as a roster read here in one (a test
holds them equal). A valid number given twice is looked for by each worker among its
own digests, and here among the parts' (RosterApart._joined).

A roster refused in a worker is refused here, with the message a read in one gives,
before the store is written (sampled_documents waits for the roster's verdict before
writing the index) and before any other error of the report: the first part's refusal
is the whole's (it reads the file's first rows), a later part's, or a number in two
parts, is said by reading the roster here in one, which names the first such line. What
the read says on standard error (rows flagged, communities not placed) is said here,
once it is done, once for all the parts.
"""

from __future__ import annotations

import logging
import mmap
import multiprocessing
import operator
import os
import pickle
import threading
from collections.abc import Callable, Iterable
from itertools import chain, compress
from multiprocessing.connection import Connection
from pathlib import Path
from queue import SimpleQueue
from types import TracebackType
from typing import Any, Self, cast

from central.errors import CentralError
from central.reports.coverage import Key
from central.reports.coverage_columns import (
    Columns,
    Compared,
    by_community,
    columns,
    communities,
    compared,
    counted,
)
from central.reports.coverage_merge import merged
from central.reports.coverage_roster import Person, people, read_part, say
from central.reports.document_key import DocumentKey
from central.reports.roster_file import Part, RosterRefused
from central.reports.sampled import Found
from central.reports.sites import Sites

log = logging.getLogger("central.reports")

APART_BYTES = 8_000_000   # some 100,000 rows: below it, spawning costs more than it saves


class _Said(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelno, record.getMessage()))


CHUNK = 200_000   # numbers a message from the worker
# A city's CSV roster read in two parts at once: measured on two cores (BENCHMARKS.md),
# where the report's own process and the database share them with the readers.
PARTS = 2


def _read_apart(path: Path, encoding: str, sites: Sites, part: Part, out: Connection, *,
                shape: Shape, key_files: list[Path] | None) -> None:
    """In a worker: the roster's `part` read and checked, its numbers sent in chunks
    (digested under the key of `key_files`, if given), then its columns (of `shape`), the
    lines it flagged, its communities not placed and what it logged; or why it could not be
    read (RosterRefused, an OSError...), raised again in the report's process as if read
    there: read without the duplicates' dict (a set of its digests looks for a number
    given twice), a part refused is read again with it, so that its refusal is the first
    a read of it in one meets. A thread sends (the pipe takes a message only as fast as
    the report reads it, and the report reads only once it has found the documents), so
    this process ends once its part is read."""
    said = _Said()
    log.addHandler(said)
    log.propagate = False   # said in the report's own process, not on the worker's stderr
    messages: SimpleQueue[tuple[Any, ...] | None] = SimpleQueue()
    sender = threading.Thread(target=_send, args=(messages, out))
    sender.start()
    try:
        digest = None if key_files is None else DocumentKey.of_files(key_files).digest
        households = shape is not communities
        try:
            read = read_part(path, encoding, sites, part, twice=False, households=households)
            made = shape(read.people)
            numbers = compared([person[0] for person in read.people], digest)
            if _given_twice(numbers, made.invalid):
                raise RosterRefused(f"{path}: the same document number twice (one person "
                                    "would be counted twice)")
        except RosterRefused:   # its first: a number twice may come before what refused
            read_part(path, encoding, sites, part, households=households)
            raise
        for start in range(0, len(numbers), CHUNK):
            messages.put(("numbers", numbers[start:start + CHUNK]))
        messages.put(("columns", made, read.flagged, read.unplaced, said.records))
    except Exception as exc:   # any: handed over, raised there as if read there
        messages.put(("failed", _portable(exc), said.records))
    finally:
        log.removeHandler(said)
        messages.put(None)
        sender.join()


def _given_twice(numbers: Compared, invalid: bytearray) -> bool:
    """Whether a valid number (as compared) is given twice: a set made in C, where a
    dict of each number's line, row by row, took 1.7 s of half a city's read."""
    valid = list(compress(numbers, map(operator.not_, invalid)))
    return len(set(valid)) != len(valid)


def _may_quote(path: Path) -> bool:
    """Whether a CSV may hold a quote, and so is read whole (by one worker: a second would
    decode the file only to find nothing to read): whether a byte of it is 0x22, as a
    quote is in UTF-8, GB18030 and UTF-16, and no byte of another character is in the first
    two (in UTF-16, one may be: read whole, the same rows). Looked for in place, unread."""
    with path.open("rb") as file:
        if not os.fstat(file.fileno()).st_size:
            return False
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return mapped.find(b'"') >= 0


def _send(messages: SimpleQueue[tuple[Any, ...] | None], out: Connection) -> None:
    for message in iter(messages.get, None):
        out.send(message)
    out.close()


def _portable(exc: Exception) -> Exception:
    """The error itself where it crosses the pipe whole, else its text."""
    try:
        pickle.loads(pickle.dumps(exc))   # noqa: S301 - our own bytes, just made
    except Exception:   # any: whatever cannot cross is said as text
        return CentralError(f"{type(exc).__name__}: {exc}")
    return exc


Shape = Callable[[list[Person]], Columns]   # columns, or communities (the brief's)


class Roster:
    """A roster read for coverage: `checked()` gives its columns (or raises its refusal),
    `counted(found)` coverage's rows against the documents found (read in `columns`),
    `by_community(found)` the brief's (on the roster, tested) by community (in either)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        return None

    def checked(self) -> Columns:
        raise NotImplementedError

    def numbers(self) -> Compared:
        """Each person's number as compared, in the roster's order (once checked)."""
        raise NotImplementedError

    def counted(self, found: Found) -> list[dict[str, Any]]:
        return counted(self.checked(), self.numbers(), found.found)

    def by_community(self, found: Found) -> dict[Key, tuple[int, int]]:
        return by_community(self.checked(), self.numbers(), found.found)


class RosterHere(Roster):
    """A roster small enough to read here, read and checked at once (a refusal is raised
    before anything else is done, as the report always did)."""

    def __init__(self, path: Path, encoding: str, sites: Sites,
                 key_files: list[Path] | None, shape: Shape = columns) -> None:
        digest = None if key_files is None else DocumentKey.of_files(key_files).digest
        roster = people(path, encoding, sites)
        self.columns = shape(roster)
        self.compared = compared((person[0] for person in roster), digest)

    def checked(self) -> Columns:
        return self.columns

    def numbers(self) -> Compared:
        return self.compared


def read_roster(path: Path, encoding: str, sites: Sites, key_files: list[Path] | None,
                shape: Shape = columns) -> Roster:
    """A city's roster (APART_BYTES and up) read in workers, a smaller one here; in
    columns of `shape` (`communities`: for `by_community` alone)."""
    if path.stat().st_size >= APART_BYTES:
        return RosterApart(path, encoding, sites, key_files, shape=shape)
    return RosterHere(path, encoding, sites, key_files, shape)


class _Reader:
    """A worker reading one part of the roster, and the pipe it answers on."""

    def __init__(self, path: Path, encoding: str, sites: Sites, part: Part, *,
                 shape: Shape, key_files: list[Path] | None) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.messages, sending = spawn.Pipe(duplex=False)
        self.process = spawn.Process(target=_read_apart, args=(
            path, encoding, sites, part, sending), kwargs={"shape": shape, "key_files": key_files},
            daemon=True)
        self.process.start()
        sending.close()   # the worker's alone: its end closing (exit, kill) ends the pipe

    def next(self) -> Any:
        try:
            return self.messages.recv()
        except EOFError:   # killed (out of memory?), even halfway through a message
            self.process.join()
            raise CentralError("the roster's reader stopped without an answer "
                               f"(exit code {self.process.exitcode})") from None

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.messages.close()


class RosterApart(Roster):
    """The roster being read in workers (`parts` of them: an xlsx in one); `checked()`
    waits for them (and raises a refusal), taking their numbers, as compared, as they
    come."""

    def __init__(self, path: Path, encoding: str, sites: Sites,
                 key_files: list[Path] | None, *, parts: int = PARTS,
                 shape: Shape = columns) -> None:
        if key_files is not None:   # read first: a key file refused leaves no worker behind
            DocumentKey.of_files(key_files)
        self.path, self.encoding, self.sites = path, encoding, sites
        count = 1 if path.suffix.lower() == ".xlsx" or _may_quote(path) else max(1, parts)
        self.readers: list[_Reader] = []
        try:
            for k in range(count):
                self.readers.append(_Reader(path, encoding, sites, (k, count), shape=shape,
                                            key_files=key_files))
        except BaseException:   # one that would not start: none left behind
            self.__exit__(None, None, None)
            raise
        self.compared: list[Compared] = []   # each chunk's, in the roster's order
        self.columns: Columns | None = None
        self.failed: Exception | None = None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        for reader in self.readers:
            reader.stop()

    def checked(self) -> Columns:
        if self.columns is None and self.failed is None:
            try:
                self.columns = self._joined()
            except Exception as exc:   # any: raised as often as asked
                self.failed = exc
        if self.failed is not None:
            raise self.failed
        assert self.columns is not None
        return self.columns

    def _joined(self) -> Columns:
        """Each part's columns, in order, joined; refused as a read in one refuses."""
        parts: list[Columns] = []
        flagged: list[int] = []
        unplaced: set[str] = set()
        valid: set[bytes | str] = set()   # the parts' before, their valid numbers
        for k, reader in enumerate(self.readers):
            first = len(self.compared)
            message = self._answer(reader)
            if message[0] == "failed":
                if k and isinstance(message[1], RosterRefused):
                    self._refused_as_one(message[1])
                raise message[1]
            made: Columns = message[1]
            numbers: Iterable[bytes | str] = compress(
                chain.from_iterable(self.compared[first:]), map(operator.not_, made.invalid))
            kept = k < len(self.readers) - 1   # for the parts after it
            if kept:
                numbers = list(numbers)
            if k and not valid.isdisjoint(numbers):
                self._refused_as_one(RosterRefused(
                    f"{self.path}: the same document number twice (one person would be "
                    "counted twice)"))
            if kept:
                valid.update(numbers)
            parts.append(made)
            flagged += message[2]
            unplaced |= message[3]
        say(self.path, flagged, unplaced, self.sites)
        return merged(parts)

    def _answer(self, reader: _Reader) -> Any:
        """A worker's answer, its numbers taken as they come, what it logged said."""
        while (message := reader.next())[0] == "numbers":
            self.compared.append(message[1])
        for level, text in message[-1]:
            log.log(level, "%s", text)
        return message

    def _refused_as_one(self, refusal: RosterRefused) -> None:
        """A later part refused, or a number in two parts: the roster read here in one,
        whose refusal names its first such line (`refusal`, the parts', if it had none),
        the workers stopped and their numbers dropped first."""
        self.__exit__(None, None, None)
        self.compared.clear()
        people(self.path, self.encoding, self.sites)
        raise refusal

    def numbers(self) -> Compared:
        self.checked()
        return cast(Compared, list(chain.from_iterable(self.compared)))
