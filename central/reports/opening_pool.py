"""The reports' one opening stage: every report's events and paper cards pass through it
before the fold, which then meets no sealed person (projection.py opens none).

`unsealed` gives a report its paper cards' typed data and its events, each sealed
registration replaced by the one it was at the lane: its person opened with central's
key, or shown as not opened (the reason kept in `Persons`), or, in a report that does
not print people, counted without opening (opening.py's `Persons` decides, for
registrations and cards alike).

Opening a person costs the report 21 µs here beside the 53 µs the register spends on
its row (BENCHMARKS.md), most of it the JOSE library's Python. So a report that prints
people, once it proves large, reads its events in blocks, hands each block's sealed registrations to
worker processes (each with its own Opener on the same key files) and takes the opened
persons back in the events' order, a few blocks ahead of the fold. The workers are
spawned, not forked: a forked child would share the report's database connection.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import chain, islice
from pathlib import Path
from typing import NamedTuple

import msgspec

from central.reports.opening import Opener, Persons, Unopenable, naming, with_person
from central.reports.projection import TypedCard
from central.store.event_store import FormData
from contract.events import Event, Person, SampleRegisteredEncryptedEvent

BLOCK = 1_000   # events read per block
AHEAD = 2       # blocks in flight per worker
# A worker takes about 0.6 s to start (a new interpreter importing the JOSE library):
# a small report opens its persons itself (20,000 events: 0.3 s here), and a large one
# goes on opening in this process until the first worker is up.
FIRST_IN_PROCESS = 20_000
WHILE_WORKERS_START = True

_opener: Opener | None = None   # in each worker


def _start(key_files: list[str]) -> None:
    global _opener  # noqa: PLW0603 - one Opener per worker process, made once
    _opener = Opener([Path(f) for f in key_files])


Opened = tuple[bool, bytes | str, str | None]   # what a worker hands back per person


def _open_block(sealed: list[tuple[str, str, str]]) -> list[Opened]:
    """Each sealed registration (token, event id, where): (True, the person as JSON,
    None) or (False, why it does not open, the key it is sealed to when not given)."""
    assert _opener is not None
    out: list[Opened] = []
    for token, event_id, where in sealed:
        try:
            out.append((True, msgspec.json.encode(_opener.person(token, event_id, where)),
                        None))
        except Unopenable as exc:
            out.append((False, str(exc), exc.kid))
    return out


def workers() -> int:
    """The cores beside the report's own; 0 on a machine of one."""
    return max(0, (os.cpu_count() or 1) - 1)


class Unsealed(NamedTuple):
    """What a report folds: nothing sealed left in it."""

    forms: dict[str, TypedCard]   # paper cards' typed data: serial → (id_number, name, type)
    events: Iterator[Event]             # in order, no SampleRegisteredEncryptedEvent


def unsealed(events: Iterable[Event], forms: dict[str, FormData],
             persons: Persons, count: int | None = None) -> Unsealed:
    """The opening stage of a report: its paper cards (the store's form_data) opened at
    once, its events as they stream (`opened`)."""
    typed = persons.forms(forms)
    return Unsealed(typed, opened(events, persons, count))


def opened(events: Iterable[Event], persons: Persons, count: int | None = None
           ) -> Iterator[Event]:
    """`events`, each sealed registration replaced by the one it was at the lane, in
    order: opened in this process while the report is small, without a key or a spare
    core, and while the workers start; in `count` worker processes after that."""
    count = workers() if count is None else count
    source = iter(events)
    if persons.opener is None or count < 1:
        yield from _here(source, persons)
        return
    yield from _here(islice(source, FIRST_IN_PROCESS), persons)
    blocks = iter(lambda: list(islice(source, BLOCK)), [])
    following = next(blocks, None)
    if following is None:
        return
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(count, mp_context=spawn, initializer=_start,
                             initargs=([str(f) for f in persons.opener.key_files],)) as pool:
        started = pool.submit(_open_block, [])
        pending: deque[tuple[list[Event], Future[list[Opened]]]] = deque()
        for block in chain([following], blocks):
            if WHILE_WORKERS_START and not started.done():
                yield from _here(block, persons)
                continue
            sealed = [(e.data.person_jwe, e.id, naming(e))
                      for e in block if isinstance(e, SampleRegisteredEncryptedEvent)]
            pending.append((block, pool.submit(_open_block, sealed)))
            if len(pending) > count * AHEAD:
                yield from _settled(*pending.popleft(), persons)
        while pending:
            yield from _settled(*pending.popleft(), persons)


def _here(events: Iterable[Event], persons: Persons) -> Iterator[Event]:
    """Opened (or counted) in this process."""
    for event in events:
        yield persons.registered(event) if isinstance(
            event, SampleRegisteredEncryptedEvent) else event


def _settled(block: list[Event], done: Future[list[Opened]],
             persons: Persons) -> Iterator[Event]:
    results = iter(done.result())
    for event in block:
        if not isinstance(event, SampleRegisteredEncryptedEvent):
            yield event
            continue
        ok, found, kid = next(results)
        if ok:
            assert isinstance(found, bytes)
            yield with_person(event, msgspec.json.decode(found, type=Person))
        else:
            assert isinstance(found, str)
            yield with_person(event, persons.not_opened(found, kid))
