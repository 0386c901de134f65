"""The durable store: the outbox of contract events and the workflow's state, in SQLite.

One transaction per accepted step holds the new events (with their seq and id) and the
new state, so after a power cut the station resumes exactly at its last "accepted".
WAL with synchronous=FULL: a commit is on the card before the operator hears it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import uuid
from collections.abc import Iterable
from pathlib import Path

import msgspec

import contract
from contract import rfc3339
from contract.events import (
    ENVELOPES,
    Event,
    SampleRegistered,
    SampleRegisteredEncrypted,
    SampleRegisteredEncryptedEvent,
    SampleRegisteredEvent,
    encode_event,
)
from drivers.printer.job import LabelJob
from station.core import state_codec
from station.core.digests import DayDigests
from station.core.errors import StationError
from station.core.messages import Fact, Mark
from station.core.state import State
from station.outbox import Stored, highest_seq
from station.sealing import Sealer
from station.store_file import connect, migrate

log = logging.getLogger(__name__)


def _no_persons(number: str) -> str:
    raise StoreError("a snapshot with whole persons after the store's first start")


MARK_SQL = {
    ("closed_tubes", True): "INSERT OR IGNORE INTO closed_tubes VALUES (?)",
    ("closed_tubes", False): "DELETE FROM closed_tubes WHERE tube = ?",
    ("sampled_today", True): "INSERT OR IGNORE INTO sampled_today VALUES (?)",
    ("sampled_today", False): "DELETE FROM sampled_today WHERE id_number = ?",
}


def outbox_payload(event: Event) -> str:
    """The text an event is stored and published as: the contract's encoding (compact,
    Chinese kept as UTF-8)."""
    return encode_event(event).decode()


class StoreError(StationError):
    """The store could not do what was asked; the message names the file."""


BUSY_TIMEOUT_MS = 10_000   # store_file.connect's timeout
CORE_CHECKPOINT_PAGES = 10_000   # SQLite's default for every connection is 1,000


class Store:
    """The core's connection: records steps and owns seq and session."""

    def __init__(self, path: Path, site: str, station: str,
                 sealer: Sealer | None = None, digests: DayDigests | None = None) -> None:
        """`sealer`: the person of every registration is sealed to central's key before
        it is written; None only for a lab bench ([privacy] seal = false). `digests`: the
        duplicate checks' (station.core.digests), under a secret the card does not hold; by
        default one of this process's alone."""
        self.path, self.sealer = path, sealer
        self.digests = digests if digests is not None else DayDigests.fresh()
        self.wal_pending = False   # old pages (a finished day's digests) still in the WAL
        try:
            self.db = connect(path)
            migrate(self.db)
            # Checkpoints are left to the other connections (the uplink's marks, the
            # printer's): one copies ~1,000 pages into the database and syncs it, and the
            # core paid that between a scan and its light (10-20 ms under the Pi profile).
            # Past this many pages, in a long outage with nothing printed, it still does.
            self.db.execute(f"PRAGMA wal_autocheckpoint={CORE_CHECKPOINT_PAGES}")
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: {exc}") from exc
        self.site, self.station = site, station
        self.last_seq = self._last_seq()
        with self.db.atomic():   # one commit, one sync: a new session (and a first state)
            self.session = int(self._meta("session") or 0) + 1
            self._set_meta("session", str(self.session))
            if self._meta("state") is None:
                self._set_meta("state", json.dumps(state_codec.snapshot(State())))
            if self.session == 1:   # a new store: no old form to rewrite, nor a WAL to empty
                self._set_meta("digest_check", self.digests.check)
            rewritten, self.forgot = self._adopt_digests()
        self._day = self._persisted_day()
        if rewritten:   # the old forms' bytes: out of the WAL now, not at the next close
            self.tidy()
        if sealer is not None:
            self.seal_plain_outbox(sealer)

    def _last_seq(self) -> int:
        return highest_seq(self.db)

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return str(row[0]) if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta(key, value) VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, value])

    def _adopt_digests(self) -> tuple[bool, bool]:
        """Make the day's digests the current secret's. A store from before sealing holds
        today's numbers themselves: they become digests, and secure_delete overwrites the
        numbers' bytes. Digests made under another secret (the runtime one lost with a
        reboot; the Argon2id ones before #39, whose salt sat beside them) can never match
        again: they are forgotten, and the day's check starts afresh. (Whether anything
        was rewritten; whether people of the day were forgotten.)"""
        if self._meta("digest_check") == self.digests.check:
            return False, False
        raw = self._meta("state")
        data = json.loads(raw) if raw is not None else None
        day = dt.date.fromisoformat(data["day"]) if data and data["day"] else None
        earlier = (self._meta("digest_check") is not None
                   or self._meta("person_keys") is not None)
        numbers = [r[0] for r in self.db.execute("SELECT id_number FROM sampled_today")]
        self.db.execute("DELETE FROM sampled_today")
        if not earlier and numbers and day is not None:
            self.db.conn.executemany("INSERT OR IGNORE INTO sampled_today VALUES (?)",
                                     [(self.digests(day, n),) for n in numbers])
        if data is not None:   # rewritten: persons or ID masks of an old form go
            state = state_codec.restore(data, frozenset(), frozenset(),
                                        lambda n: self.digests(day or dt.date.min, n))
            if earlier:
                state = state_codec.forget_keys(state)
            self._set_meta("state", json.dumps(state_codec.snapshot(state),
                                               ensure_ascii=False))
        self.db.execute("DELETE FROM meta WHERE key = 'person_keys'")
        self._set_meta("digest_check", self.digests.check)
        return True, earlier and bool(numbers)

    def tidy(self) -> bool:
        """Empty the WAL of old page images (a finished day's digests, purged events),
        and check that it was: a reader holding a snapshot makes the checkpoint give up,
        and then it is tried again at the next tidy. True when the WAL is empty."""
        try:   # never waits: the core must not stall behind the uplink's read
            self.db.execute("PRAGMA busy_timeout=0")
            try:
                busy, _, _ = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:   # else every later commit would fail at once on a busy reader
                self.db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        if busy and not self.wal_pending:   # said once, not at every step until it works
            log.warning("%s-wal: not emptied yet (a reader is busy); tried again later",
                        self.path)
        self.wal_pending = bool(busy)
        return not busy

    def seal_plain_outbox(self, sealer: Sealer) -> int:
        """Registrations stored with their person plain (by a store from before sealing, or
        a lab bench's) are sealed in place: the same id and seq, the contract's sealed
        type. Central keeps the first copy of an id it has, so one delivered stays as it
        came, and one not yet delivered goes sealed. secure_delete zeroes the old bytes;
        the WAL that held them is emptied. How many were sealed."""
        try:
            rows = self.db.execute("SELECT seq, payload FROM outbox "
                                   "WHERE type = 'sample.registered'").fetchall()
            if not rows:
                return 0
            with self.db.atomic():
                for seq, payload in rows:
                    plain = msgspec.json.decode(payload, type=SampleRegisteredEvent)
                    fields = msgspec.structs.asdict(plain)
                    fields["data"] = SampleRegisteredEncrypted.of(
                        plain.data, sealer.seal(plain.id, plain.data.person))
                    sealed = SampleRegisteredEncryptedEvent(**fields)
                    self.db.execute("UPDATE outbox SET type = ?, payload = ? WHERE seq = ?",
                                    [sealed.data.type, outbox_payload(sealed), seq])
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        self.tidy()   # the plain bytes' old page images
        log.warning("sealed %d registrations stored with their persons plain", len(rows))
        return len(rows)

    def load_state(self) -> State:
        raw = self._meta("state")
        if raw is None:
            return State()
        closed = frozenset(r[0] for r in self.db.execute("SELECT tube FROM closed_tubes"))
        # The column keeps its old name; it holds digests (station.core.digests), not numbers.
        sampled = frozenset(r[0] for r in self.db.execute("SELECT id_number FROM sampled_today"))
        return state_codec.restore(json.loads(raw), closed, sampled, _no_persons)

    def envelope(self, fact: Fact, seq: int, now: dt.datetime, clock_synced: bool, *,
                 operator: str = "", event_id: str = "") -> Event:
        """The fact in the contract's envelope of its type. `operator`: who was signed
        in at the lane (1.3); "" when nobody was, and then it is left out."""
        return ENVELOPES[fact.type](
            v=contract.VERSION, id=event_id or str(uuid.uuid4()), site=self.site,
            station=self.station, seq=seq, session=self.session, ts=rfc3339(now),
            clock_synced=clock_synced, operator=operator,
            # Every envelope takes its own record: ENVELOPES pairs them by the record's
            # type (tests/contract/test_envelope.py holds the pairs), which mypy cannot see.
            data=fact)  # type: ignore[arg-type]

    def commit(self, facts: Iterable[Fact], new: State, now: dt.datetime, clock_synced: bool,
               *, marks: Iterable[Mark] = (), jobs: Iterable[LabelJob] = ()) -> list[Stored]:
        """Record facts, the new state and its set changes in one durable transaction.

        Raises StoreError (disk full, I/O error, …); then nothing was recorded and the
        caller must keep the old state.
        """
        seq = self.last_seq
        stored: list[Stored] = []
        execute = self.db.conn.execute  # the hot path: no wrapper per statement
        try:
            with self.db.atomic():
                for fact in facts:
                    seq += 1
                    event_id = str(uuid.uuid4())
                    if self.sealer is not None and isinstance(fact, SampleRegistered):
                        fact = SampleRegisteredEncrypted.of(   # noqa: PLW2901 - sealed in place
                            fact, self.sealer.seal(event_id, fact.person))
                    event = self.envelope(fact, seq, now, clock_synced,
                                          operator=new.operator, event_id=event_id)
                    payload = outbox_payload(event)
                    execute(
                        "INSERT INTO outbox(seq, id, type, ts, payload) VALUES (?, ?, ?, ?, ?)",
                        [seq, event_id, fact.type, event.ts, payload])
                    stored.append(Stored(seq, fact.type, payload))
                snapshot = state_codec.snapshot(new)
                execute("UPDATE meta SET value = ? WHERE key = 'state'",
                        [json.dumps(snapshot, ensure_ascii=False)])
                new_day = snapshot["day"] != self._day
                if new_day:
                    execute("DELETE FROM sampled_today")  # a new day starts with nobody
                for mark in marks:
                    execute(MARK_SQL[mark.set, mark.present], [mark.value])
                for job in jobs:
                    execute("INSERT INTO print_jobs(kind, job, created_at) VALUES (?, ?, ?)",
                            [job.kind, json.dumps([job.barcode, list(job.lines)],
                                                  ensure_ascii=False), rfc3339(now)])
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        self.last_seq = seq
        # An earlier day's digests are gone from the tables; their pages still sit in the
        # WAL until a checkpoint truncates it: the runner tidies after the operator is told.
        # A store's first day had no earlier one: no checkpoint then (it cost the first
        # registration of a fresh store 25 ms under the Pi profile, waiting behind it).
        self.wal_pending = self.wal_pending or (new_day and self._day is not None)
        self._day = snapshot["day"]
        return stored

    def purge(self, now: dt.datetime, retention_days: int, today: dt.date | None = None) -> int:
        """Delete events delivered longer ago than the retention: they hold personal data.

        Counted from delivery, not from `ts`: a Pi that booted without a clock may have
        stamped events decades ago, and they must still be kept their full retention.
        """
        cutoff = rfc3339(now - dt.timedelta(days=retention_days))
        try:
            with self.db.atomic():
                cur = self.db.execute(
                    "DELETE FROM outbox WHERE delivered_at < ?", [cutoff])
                # Printed labels carry masked names only, but nobody needs them any more.
                self.db.execute("DELETE FROM print_jobs WHERE printed_at < ?", [cutoff])
                stale = self._stale_day(today)
                if stale:  # a finished day's duplicate-check set is personal data too
                    self.db.execute("DELETE FROM sampled_today")
            if cur.rowcount or stale:
                # executescript steps to the end; execute() would free a single page.
                self.db.conn.executescript("PRAGMA incremental_vacuum;")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        if cur.rowcount or stale or self.wal_pending:
            self.tidy()   # old page images in the WAL would still hold what was purged
        return int(cur.rowcount)

    def _persisted_day(self) -> str | None:
        raw = self._meta("state")
        return json.loads(raw)["day"] if raw else None

    def _stale_day(self, today: dt.date | None) -> bool:
        day = self._persisted_day()
        return today is not None and day is not None and day < today.isoformat()

    def close(self) -> None:
        self.db.conn.close()

