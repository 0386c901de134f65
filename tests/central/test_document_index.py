"""The document index (migration 011, central/store/documents.py, reports/document_key.py):
a second coverage of a day opens nothing; a registration cancelled or voided after it
was indexed no longer counts; an index made under other keys is emptied, never compared;
and nothing of a person is in the database in plaintext afterwards, not even a digest an
attacker could test guesses against without central's private key. SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from central.reports import sampled as sampled_module
from central.reports.opening import Opener, Persons
from central.reports.progress import Progress
from central.reports.sampled import Found, sampled_documents
from central.store import event_store, pg
from central.store.documents import Indexed
from central.store.event_store import SqlEventStore
from central.store.open import open_store
from contract.events import SampleCancelled, SampleRegistered, TubeSealed, TubeVoided
from contract.sealed import keygen, read_keys
from station.sealing import Sealer
from tests.central.test_sampled_documents import SPAN
from tests.central_keys import key_pair
from tests.conftest import personal_data_in
from tests.lane_days import Lane, person, shanghai

DAY = "2026-12-04"
T = TypeVar("T")


def coverage_read(store: SqlEventStore, *keys: Path) -> Found:
    return sampled_documents(store, SPAN.padded(), (SPAN.start, SPAN.end),
                             Persons(Opener(list(keys)), needed=True), count=0)


def opened_count(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many persons this process opens from now on (count=0: no worker)."""
    opened = [0]
    document = Opener.document

    def counted(self: Opener, token: str, event_id: str, where: str) -> tuple[str, str]:
        opened[0] += 1
        return document(self, token, event_id, where)

    monkeypatch.setattr(Opener, "document", counted)
    return opened


def morning(store: SqlEventStore) -> Lane:
    """Two tubes of a sealing lane: people 1-3 in T1, 4-5 in T2."""
    lane = Lane("S1", "a", sealer=Sealer(read_keys(key_pair()[1], private=False)[0]))
    at = shanghai(DAY, 8)
    for tube, people in (("T1", (1, 2, 3)), ("T2", (4, 5))):
        for position, n in enumerate(people, 1):
            lane.add(SampleRegistered(tube, position, "card", person(n), False), at)
        lane.add(TubeSealed(tube, len(people), "operator"), at)
    lane.deliver(store)
    return lane


def test_a_second_run_opens_nothing_and_undoing_after_indexing_is_honoured(
        central_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(central_db)
    try:
        lane = morning(store)
        opened = opened_count(monkeypatch)
        first = coverage_read(store, key_pair()[0])
        assert opened[0] == 5 and all(person(n).id_number in first for n in range(1, 6))
        assert store.count("document_index") == 5
        # Person 2 cancelled and tube T2 voided, after their documents were indexed.
        lane.add(SampleCancelled("T1", 2), shanghai(DAY, 9))
        lane.add(TubeVoided("T2", 2, "sealed"), shanghai(DAY, 9))
        lane.deliver(store)
        again = coverage_read(store, key_pair()[0])
        assert opened[0] == 5   # nothing opened again
        assert {n for n in range(1, 6) if person(n).id_number in again} == {1, 3}
    finally:
        store.close()


def test_an_index_of_other_keys_is_emptied_and_made_again(
        central_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(central_db)
    try:
        morning(store)
        first = coverage_read(store, key_pair()[0])
        check = store.indexed_under()
        newer, _, _ = keygen(tmp_path, "central-newer")   # a rotation: one key more
        opened = opened_count(monkeypatch)
        rotated = coverage_read(store, key_pair()[0], newer)
        assert opened[0] == 5 and store.indexed_under() not in ("", check)
        assert rotated.found != first.found   # other digests: the old ones never compared
        assert {n for n in range(1, 6) if person(n).id_number in rotated} == set(range(1, 6))
        assert store.count("document_index") == 5
    finally:
        store.close()


def stored_bytes(store: SqlEventStore, target: str) -> bytes:
    """Everything the database holds: a SQLite file and its WAL; PostgreSQL's tables
    read as text, a digest as its hex (the events' payloads, the index, its key's check
    value, the paper cards)."""
    if "://" not in target:
        return b"".join(p.read_bytes() for p in Path(target).parent.glob(
            Path(target).name + "*"))
    tables = ("events", "document_index", "document_index_key", "form_data")
    return "\n".join(row for t in tables for (row,) in store.conn.execute(
        f"SELECT {t}::text FROM {t}")).encode()


def held_in(digest: bytes, held: bytes) -> bool:
    return digest in held or digest.hex().encode() in held


def test_nothing_personal_is_stored_in_plaintext(central_db: str) -> None:
    store = open_store(central_db)
    try:
        morning(store)
        found = coverage_read(store, key_pair()[0])
        held = stored_bytes(store, central_db)
        for n in range(1, 6):
            number = person(n).id_number
            assert number.encode() not in held and person(n).name.encode() not in held
            # an unkeyed hash of the number, which a guess could be tested against
            assert not held_in(hashlib.sha256(number.encode()).digest()[:16], held)
            digest = found.of(number)
            assert isinstance(digest, bytes) and held_in(digest, held)   # keyed: stored
        assert personal_data_in(held.decode("utf-8", "replace")) == []
    finally:
        store.close()


def test_a_report_without_an_index_it_may_write_still_counts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A standby's store (writable() False): opened every time, counted the same."""
    store = open_store(str(tmp_path / "central.db"))
    try:
        morning(store)
        monkeypatch.setattr(type(store), "writable", lambda self: False)
        opened = opened_count(monkeypatch)
        for _ in range(2):
            found = coverage_read(store, key_pair()[0])
            assert all(person(n).id_number in found for n in range(1, 6))
        assert opened[0] == 10 and store.count("document_index") == 0
    finally:
        store.close()


class WritesMidRead(Progress):
    """A collector's write lands after the report's read has begun."""

    def __init__(self, store: SqlEventStore) -> None:
        super().__init__("coverage", live=False)
        self.store = store

    def counted_blocks(self, blocks: Iterable[list[T]]) -> Iterator[list[T]]:
        for n, block in enumerate(super().counted_blocks(blocks)):
            if n == 1:
                late = Lane("S9", "z")
                late.add(TubeSealed("T9", 0, "operator"), shanghai(DAY, 9))
                late.deliver(self.store)
            yield block


def test_the_index_is_written_beside_a_collector_writing_during_the_read(
        central_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The index written every two documents while the read goes on and a collector
    commits: on SQLite a reading connection's write then failed at once ("database is
    locked"); it is written on a connection of its own."""
    monkeypatch.setattr(sampled_module, "WRITTEN", 2)
    monkeypatch.setattr(sampled_module, "FIRST_IN_PROCESS", 1)   # opened as they are read
    for module in (event_store, pg):   # read two rows a block: the read goes on after it
        monkeypatch.setattr(module, "FETCHED", 2)
    store, collector = open_store(central_db), open_store(central_db)
    try:
        morning(store)
        found = sampled_documents(store, SPAN.padded(), (SPAN.start, SPAN.end),
                                  Persons(Opener([key_pair()[0]]), needed=True), count=0,
                                  progress=WritesMidRead(collector))
        assert len(found.found) == 5 and store.count("document_index") == 5
    finally:
        store.close()
        collector.close()


def test_digests_are_never_filed_under_a_key_made_since(central_db: str) -> None:
    """A report under one key checks it and reads; another, under other keys, makes the
    index its own meanwhile: the first one's digests are not written under it."""
    first, second = open_store(central_db), open_store(central_db)
    row = Indexed("e1", b"\x01" * 16, False, "")
    try:
        first.index_under("one")
        second.index_under("two")
        assert not first.add_documents([row], "one")
        assert first.count("document_index") == 0
        assert second.add_documents([row], "two") and second.count("document_index") == 1
        first.index_under("one")   # and back: the other key's digests emptied
        assert first.count("document_index") == 0 and first.indexed_under() == "one"
    finally:
        first.close()
        second.close()
