"""A city's roster read for `report coverage` in a worker process while this one reads
the day's documents from the store: a warm report otherwise leaves the machine's second
core idle while the roster is read, checked and digested (two fifths of it at 5,000,000).

The worker reads it as coverage_roster.people does and sends its numbers (digested here
under the document key, as sampled.Found compares them) and then the roster in columns
(coverage_columns.py), counted here once the documents are found: the same rows as a
roster read here (a test holds them equal).

A roster refused in the worker is refused here, with the same message, before the store
is written (sampled_documents waits for the roster's verdict before writing the index)
and before any other error of the report. What the read says on standard error (rows
flagged, communities not placed) is said here, once it is done.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from queue import SimpleQueue
from types import TracebackType
from typing import Any, Self

from central.errors import CentralError
from central.reports.coverage import Key
from central.reports.coverage_columns import (
    Columns,
    Compared,
    by_community,
    columns,
    compared,
    counted,
)
from central.reports.coverage_roster import people
from central.reports.document_key import DocumentKey
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


def _read_apart(path: Path, encoding: str, sites: Sites, out: Connection) -> None:
    """In the worker: the roster read and checked, its numbers sent in chunks, then its
    columns and what the read said; or why it could not be read (RosterRefused, an
    OSError...), raised again in the report's process as if read there. A thread sends
    (the pipe takes a message only as fast as the report reads it, and the report reads
    only once it has found the documents), so the columns are made meanwhile."""
    said = _Said()
    log.addHandler(said)
    log.propagate = False   # said in the report's own process, not on the worker's stderr
    messages: SimpleQueue[tuple[Any, ...] | None] = SimpleQueue()
    sender = threading.Thread(target=_send, args=(messages, out))
    sender.start()
    try:
        roster = people(path, encoding, sites)
        for start in range(0, len(roster), CHUNK):
            messages.put(("numbers", [person[0] for person in roster[start:start + CHUNK]]))
        messages.put(("columns", columns(roster), said.records))
    except Exception as exc:   # any: handed over, raised there as if read there
        messages.put(("failed", _portable(exc), said.records))
    finally:
        log.removeHandler(said)
        messages.put(None)
        sender.join()


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


class Roster:
    """A roster read for coverage: `checked()` gives its columns (or raises its refusal),
    `counted(found)` coverage's rows against the documents found, `by_community(found)`
    the brief's (on the roster, tested) by community."""

    digest: Callable[[str], bytes] | None

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
                 key_files: list[Path] | None) -> None:
        self.digest = None if key_files is None else DocumentKey.of_files(key_files).digest
        roster = people(path, encoding, sites)
        self.columns = columns(roster)
        self.compared = compared((person[0] for person in roster), self.digest)

    def checked(self) -> Columns:
        return self.columns

    def numbers(self) -> Compared:
        return self.compared


def read_roster(path: Path, encoding: str, sites: Sites, key_files: list[Path] | None
                ) -> Roster:
    """A city's roster (APART_BYTES and up) read in a worker, a smaller one here."""
    if path.stat().st_size >= APART_BYTES:
        return RosterApart(path, encoding, sites, key_files)
    return RosterHere(path, encoding, sites, key_files)


class RosterApart(Roster):
    """The roster being read in a worker; `checked()` waits for it (and raises its
    refusal), digesting its numbers as they come: a report waits there once it has read
    the documents, and a city's roster is still being read then, so the digests are made
    while the worker puts the roster in columns."""

    def __init__(self, path: Path, encoding: str, sites: Sites,
                 key_files: list[Path] | None) -> None:
        # The key first: a key file refused leaves no worker behind.
        self.digest = None if key_files is None else DocumentKey.of_files(key_files).digest
        spawn = multiprocessing.get_context("spawn")
        self.messages, sending = spawn.Pipe(duplex=False)
        self.worker = spawn.Process(target=_read_apart, args=(path, encoding, sites,
                                                              sending), daemon=True)
        self.worker.start()
        sending.close()   # the worker's alone: its end closing (exit, kill) ends the pipe
        self.digests: list[bytes] = []   # each chunk's joined
        self.plain: list[str] = []       # without central's key: the numbers
        self.columns: Columns | None = None
        self.failed: Exception | None = None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.worker.is_alive():
            self.worker.kill()
        self.worker.join()
        self.messages.close()

    def checked(self) -> Columns:
        while self.columns is None and self.failed is None:
            message = self._next()
            if message[0] == "numbers":
                chunk = compared(message[1], self.digest)
                if isinstance(chunk, list):
                    self.plain += chunk
                else:
                    self.digests.append(chunk)
                continue
            for level, text in message[2]:
                log.log(level, "%s", text)
            if message[0] == "failed":
                self.failed = message[1]
            else:
                self.columns = message[1]
        if self.failed is not None:   # as often as asked
            raise self.failed
        assert self.columns is not None
        return self.columns

    def _next(self) -> Any:
        try:
            return self.messages.recv()
        except EOFError:   # killed (out of memory?), even halfway through a message
            self.worker.join()
            raise CentralError("the roster's reader stopped without an answer "
                               f"(exit code {self.worker.exitcode})") from None

    def numbers(self) -> Compared:
        self.checked()
        return self.plain if self.digest is None else b"".join(self.digests)
