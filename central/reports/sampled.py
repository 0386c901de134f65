"""The documents sampled in a period, as `report coverage` compares them with a roster:
read lean from the store (central/store/documents.py: the registrations that count,
never the register), each sealed person opened once and then kept in the document index
as a keyed digest (document_key.py), so a second report of the day opens nothing.

`sampled_documents` gives the same documents as `rows.sampled` over the period's
projections (a test holds the two equal): the number of each registration that counts,
under its own document (a child's under its guardian's counts nobody), a paper card's as
typed from it once imported; a person that will not open counts as the projection shows
it (no number) and is said at the report's end. Without central's key the numbers are
compared as they are, and a sealed person ends the report (NeedsKey), as before.

Registrations not yet indexed are opened in worker processes (spawned, each with its
own Opener, as opening_pool.py's), and in this process too whenever the workers are
busy: on a machine of two cores the report's own core would otherwise wait.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import msgspec

from central.reports.document_key import DocumentKey
from central.reports.opening import Document, Opener, Persons, Unopenable, named
from central.reports.opening_pool import AHEAD, FIRST_IN_PROCESS, workers
from central.reports.progress import Progress
from central.reports.projection import card_document
from central.store.documents import Indexed, Sampled, SampledDocuments, Window
from central.store.event_store import SqlEventStore

log = logging.getLogger("central.reports")

Comparable = bytes | str   # a digest under central's key, or the number itself
BLOCK = 2_000        # registrations opened per block
WRITTEN = 20_000     # index rows written per statement


class _Registration(msgspec.Struct):
    person_jwe: str = ""
    person: Document | None = None
    form: str = ""


class _Envelope(msgspec.Struct):
    """Of a registration's payload, only what its document needs."""

    id: str
    site: str
    station: str
    seq: int
    data: _Registration


_ENVELOPE = msgspec.json.Decoder(_Envelope)
# A registration read: event id, the digest of its document (None: it did not open),
# a guardian's document, the paper card's serial, why it did not open, the key it is
# sealed to when that key was not given.
Read = tuple[str, bytes | None, bool, str, str, str | None]


def read(payload: str, opener: Opener | None, key: DocumentKey) -> Read:
    """A registration's own document, digested (its person opened if sealed)."""
    event = _ENVELOPE.decode(payload)
    data = event.data
    if data.person is not None:
        kind, number = data.person.id_type, data.person.id_number
    else:
        try:
            if opener is None:
                raise Unopenable(f"{named(event.site, event.station, event.seq, event.id)}: "
                                 "sealed, and no key given")
            kind, number = opener.document(data.person_jwe, event.id, named(
                event.site, event.station, event.seq, event.id))
        except Unopenable as exc:
            return event.id, None, False, data.form, str(exc), exc.kid
    return event.id, key.digest(number), kind == "guardian", data.form, "", None


_reader: tuple[Opener, DocumentKey] | None = None   # in each worker


def _start(key_files: list[str]) -> None:
    global _reader  # noqa: PLW0603 - one Opener per worker process, made once
    files = [Path(f) for f in key_files]
    _reader = (Opener(files), DocumentKey.of_files(files))


def _read_block(payloads: list[str]) -> list[Read]:
    assert _reader is not None
    return [read(payload, *_reader) for payload in payloads]


class Found:
    """The documents found so far, as compared (`of`), and the paper cards' rows, which
    the cards' typed data decides once every row is read. `number in found`: whether a
    roster's number is among them."""

    def __init__(self, persons: Persons, key: DocumentKey | None) -> None:
        self.persons, self.key = persons, key
        self.found: set[Comparable] = set()
        self.cards: list[tuple[str, Comparable, bool]] = []   # (serial, own, guardian's)
        self.indexed: list[Indexed] = []                      # to write to the index
        self.opened = 0                                       # persons opened here
        self.kept = 0                                         # digests written to the index

    def of(self, number: str) -> Comparable:
        return self.key.digest(number) if self.key is not None else number.upper()

    def __contains__(self, number: object) -> bool:
        return isinstance(number, str) and self.of(number) in self.found

    def take(self, own: Comparable, guardian: bool, form: str) -> None:
        if form:
            self.cards.append((form, own, guardian))
        elif not guardian:
            self.found.add(own)

    def took(self, got: Read) -> None:
        """A registration read here or in a worker: taken, and indexed if it opened."""
        event_id, digest, guardian, form, why, kid = got
        if digest is None:   # shown as not opened: the projection's person without a number
            self.persons.not_opened(why, kid)
            self.take(self.of(""), False, form)
            return
        self.opened += 1
        self.take(digest, guardian, form)
        self.indexed.append(Indexed(event_id, digest, guardian, form))

    def plain(self, payload: str) -> None:
        """Without central's key: the number as it is, a sealed person as Persons says."""
        event = _ENVELOPE.decode(payload)
        data, document = event.data, event.data.person
        if document is None:
            person = self.persons.person(data.person_jwe, event.id, named(
                event.site, event.station, event.seq, event.id), "registration")
            document = Document(person.id_type, person.id_number)
        self.take(self.of(document.id_number), document.id_type == "guardian", data.form)

    def with_cards(self, store: SqlEventStore) -> Found:
        """Every document found, the paper cards' as typed from them (opened as the
        projection opens them), else the card's registration's own."""
        typed = self.persons.forms(store.form_data()) if self.cards else {}
        for serial, own, guardian in self.cards:
            card = typed.get(serial)
            if card is None:
                if not guardian:
                    self.found.add(own)
                continue
            kind, number, _ = card_document(card, "guardian" if guardian else "other")
            if kind != "guardian":
                self.found.add(self.of(number))
        self.cards.clear()
        return self


def sampled_documents(store: SqlEventStore, window: Window, span: Window, persons: Persons,
                      *, site: str = "", count: int | None = None,
                      progress: Progress | None = None,
                      before_writing: Callable[[], object] = lambda: None) -> Found:
    """The documents of the registrations that count in `span`, of the events read in
    `window` (the period and its margin), as compared: digests under central's key
    (`DocumentKey` of the persons' key files) or, given no key, the numbers.
    `before_writing` is called before the index is first written (a roster read
    meanwhile elsewhere refuses there, with nothing written)."""
    opener = persons.opener
    key = DocumentKey.of_files(opener.key_files) if opener is not None else None
    found = Found(persons, key)
    if key is None:
        for block in _sampled_blocks(store, window, span, site, check=None, progress=progress):
            for *_, payload in block:
                if payload is not None:
                    found.plain(payload)
        return found.with_cards(store)
    writer: SampledDocuments | None = store.index_writer() if store.writable() else None
    try:
        if writer is not None and writer.indexed_under() != key.check:
            before_writing()   # a roster refused in its worker: nothing written
            writer.index_under(key.check)
        unindexed = _indexed_taken(_sampled_blocks(
            store, window, span, site, check=key.check, progress=progress), found)
        for got in opened(unindexed, opener, key, count):
            found.took(got)
            if writer is not None and len(found.indexed) >= WRITTEN:
                before_writing()
                writer = _written(writer, found, key.check)
        if writer is not None and found.indexed:
            before_writing()
            writer = _written(writer, found, key.check)
    finally:
        if writer is not None:
            writer.close()
    return found.with_cards(store)


def say_opened(found: Found) -> None:
    """How many sealed persons a report opened itself, not in the document index yet: a
    city's day is minutes of opening where the index timer (natest-central-index.timer)
    has not run, and a technician asking why a report was slow is told."""
    if found.opened:
        log.info("%s sealed %s opened here, not yet in the document index (%s now kept "
                 "in it; natest-central-index.timer opens them as they arrive)",
                 f"{found.opened:,}", "person" if found.opened == 1 else "persons",
                 f"{found.kept:,}")


def _sampled_blocks(store: SqlEventStore, window: Window, span: Window, site: str, *,
                    check: str | None, progress: Progress | None
                    ) -> Iterable[list[Sampled]]:
    blocks = store.sampled_rows(window, span, site, check)
    return progress.counted_blocks(blocks) if progress is not None else blocks


def _written(writer: SampledDocuments, found: Found, check: str) -> SampledDocuments | None:
    """The documents found so far indexed; None (write no more) once a report under
    another key has made the index its own."""
    kept = writer.add_documents(found.indexed, check)
    found.kept += len(found.indexed) if kept else 0
    found.indexed.clear()
    if kept:
        return writer
    writer.close()
    log.info("the document index is now another key's: this report's documents not kept")
    return None


def _indexed_taken(blocks: Iterable[list[Sampled]], found: Found) -> Iterator[str]:
    """The payloads of the rows not indexed yet; the indexed ones taken on the way (a
    block's own documents, as `take` takes them, added at once: most of a day's)."""
    take, add = found.take, found.found.update
    for block in blocks:
        own = [digest for digest, guardian, form, _ in block
               if digest is not None and not guardian and not form]
        add(own)
        if len(own) == len(block):
            continue
        for digest, guardian, form, payload in block:
            if digest is None:
                if payload is not None:
                    yield payload
            elif guardian or form:
                take(digest, guardian, form or "")


def opened(payloads: Iterable[str], opener: Opener | None, key: DocumentKey,
           count: int | None = None) -> Iterator[Read]:
    """Each payload read: here while the report is small or no core is spare, else in
    `count` worker processes, and here too whenever all of them are busy."""
    count = workers() if count is None else count
    source = iter(payloads)
    first = [next(source, None) for _ in range(FIRST_IN_PROCESS)]
    yield from (read(p, opener, key) for p in first if p is not None)
    if opener is None or count < 1 or first[-1] is None:
        yield from (read(p, opener, key) for p in source)
        return
    blocks = iter(lambda: [p for _, p in zip(range(BLOCK), source, strict=False)], [])
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(count, mp_context=spawn, initializer=_start,
                             initargs=([str(f) for f in opener.key_files],)) as pool:
        pending: deque[Future[list[Read]]] = deque()
        for block in blocks:
            if len(pending) < count * AHEAD:
                pending.append(pool.submit(_read_block, block))
            else:   # every worker busy: this core reads the block itself
                yield from (read(p, opener, key) for p in block)
            while pending and pending[0].done():
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
