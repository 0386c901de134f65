"""The store on real SQLite files: round trips, seq, sessions, purge, a full disk."""

import contextlib
import datetime as dt
import json
import re
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import pytest
from msgspec.structs import replace

from central.reports.opening import Opener
from contract.events import DeviceFault, DeviceRecovery, decode_event
from contract.sealed import read_keys
from station import store_file as store_module
from station.core.codes import PERSON_DECODERS, Classifier
from station.core.digests import DayDigests
from station.core.messages import CodeScanned, Record
from station.core.state import Rules, State, Tube
from station.core.workflow import Workflow
from station.database import Database
from station.outbox import Outbox
from station.sealing import Sealer
from station.store import Store, StoreError
from tests.central_keys import key_pair
from tests.contract.test_envelope import before_37
from tests.people import LI, WANG, ZHANG

NOW = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)
RULES = Rules("L1", 3, "preprinted", "warn",
              Classifier(re.compile(r"T\d{6}"), list(PERSON_DECODERS.values())),
              ZoneInfo("Asia/Shanghai"))
# The station's secret, as the OTP or the RAM file gives it back at every start.
DIGESTS = DayDigests(bytes(range(32)))
TODAY = NOW.astimezone(RULES.timezone).date()


def digest(number: str, day: dt.date = TODAY) -> str:
    return DIGESTS(day, number)


def as_kept(state: State) -> State:
    """The state as the card keeps it: the ID numbers' masks live in memory only (#39)."""
    def kept(tube: Tube | None) -> Tube | None:
        return None if tube is None else replace(
            tube, samples=tuple(replace(s, number="") for s in tube.samples))
    return replace(state, tube=kept(state.tube), last_sealed=kept(state.last_sealed))


def drive(store: Store, state: State, codes: list[str]) -> State:
    flow = Workflow(RULES, store.digests)
    for code in codes:
        new, effects = flow.step(state, CodeScanned(code), NOW)
        records = [e for e in effects if isinstance(e, Record)]
        if records:
            store.commit([f for r in records for f in r.facts], new, NOW, clock_synced=True,
                         marks=[m for r in records for m in r.marks])
        state = new
    return state


def test_state_survives_reopen_exactly(tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    store = Store(db, "S1", "L1", digests=DIGESTS)
    state = drive(store, State(), ["T000001", ZHANG, LI, WANG, "T000002", ZHANG, "CMD:UNDO", LI])
    store.close()
    again = Store(db, "S1", "L1", digests=DIGESTS)
    assert again.load_state() == as_kept(state)
    assert state.tube is not None and state.tube.tube == "T000002"
    assert [s.number for s in state.tube.samples] == [LI[:4] + "*" * 10 + LI[-4:]]
    # The day's set holds digests under the station's secret, which the next start has.
    assert state.closed_tubes == {"T000001"}
    assert state.sampled_today == {digest(n) for n in (ZHANG, LI, WANG)}
    assert not state.sampled_today & {ZHANG, LI, WANG}


def test_every_set_change_reaches_the_tables(tmp_path: Path) -> None:
    """Marks (not whole-set diffs) keep the tables equal to the state: undo, void of an
    open and of a sealed tube, a repeat, and a new day."""
    db = tmp_path / "station.db"
    store = Store(db, "S1", "L1", digests=DIGESTS)
    state = drive(store, State(), ["T000001", ZHANG, LI, "CMD:UNDO", "CMD:VOID",
                                   "T000002", ZHANG, LI, WANG, "T000003", ZHANG, "CMD:SEAL",
                                   "CMD:VOID", "T000004", LI])
    assert store.load_state() == as_kept(state)
    tomorrow = Workflow(RULES, store.digests).step(state, CodeScanned(WANG),
                                                   NOW + dt.timedelta(days=1))
    new, effects = tomorrow
    records = [e for e in effects if isinstance(e, Record)]
    store.commit([f for r in records for f in r.facts], new, NOW, True,
                 marks=[m for r in records for m in r.marks])
    assert new.sampled_today == {digest(WANG, TODAY + dt.timedelta(days=1))}
    assert store.load_state() == as_kept(new)


def test_seq_continues_and_session_grows_across_opens(tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    first = Store(db, "S1", "L1", digests=DIGESTS)
    drive(first, State(), ["T000001", ZHANG])
    first.close()
    second = Store(db, "S1", "L1", digests=DIGESTS)
    assert second.session == first.session + 1
    state = drive(second, second.load_state(), [LI])
    rows = Outbox(db).pending(0, 100)
    payloads = [json.loads(r.payload) for r in rows]
    assert [p["seq"] for p in payloads] == [1, 2, 3]
    assert [p["session"] for p in payloads] == [1, 1, 2]
    assert len({p["id"] for p in payloads}) == 3
    assert state.tube is not None and state.tube.count == 2


def test_purge_keeps_undelivered_and_never_reuses_seq(tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    store = Store(db, "S1", "L1", digests=DIGESTS)
    drive(store, State(), ["T000001", ZHANG, LI])
    outbox = Outbox(db)
    outbox.mark_delivered([1, 2], NOW)
    assert store.purge(NOW + dt.timedelta(days=8), retention_days=7) == 2
    assert [r.seq for r in outbox.pending(0, 10)] == [3]
    outbox.mark_delivered([3], NOW)
    store.purge(NOW + dt.timedelta(days=8), retention_days=7)
    store.close()
    reopened = Store(db, "S1", "L1", digests=DIGESTS)
    assert reopened.last_seq == 3
    (stored,) = reopened.commit([DeviceRecovery("printer")],
                                State(), NOW, True)
    assert stored.seq == 4


def test_purged_personal_data_leaves_no_bytes_in_the_files(tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    store = Store(db, "S1", "L1", digests=DIGESTS)
    qr = json.dumps({"id": WANG, "name": "王五"}, ensure_ascii=False)
    state = drive(store, State(), ["T000001", qr, "CMD:SEAL", "CMD:BOX"])
    store.commit([DeviceFault("printer", "x" * 5000)] * 50,
                 state, NOW, True)  # enough rows for whole pages to be freed
    size_before = sum(f.stat().st_size for f in tmp_path.glob("station.db*"))
    Outbox(db).mark_delivered(range(1, store.last_seq + 1), NOW)
    later = NOW + dt.timedelta(days=8)
    assert store.purge(later, retention_days=7, today=later.date()) > 0
    assert store.db.execute("PRAGMA freelist_count").fetchone()[0] == 0  # space returned
    store.close()
    raw = b"".join(f.read_bytes() for f in tmp_path.glob("station.db*"))
    assert WANG.encode() not in raw and "王五".encode() not in raw
    assert len(raw) < size_before


def test_retention_counts_from_delivery_not_from_an_unsynced_timestamp(tmp_path: Path) -> None:
    store = Store(tmp_path / "station.db", "S1", "L1", digests=DIGESTS)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)   # a Pi with no RTC, before NTP
    store.commit([DeviceRecovery("scanner")], State(), epoch, False)
    Outbox(store.path).mark_delivered([1], NOW)
    assert store.purge(NOW + dt.timedelta(days=6), retention_days=7) == 0
    assert store.purge(NOW + dt.timedelta(days=8), retention_days=7) == 1


def test_full_disk_raises_and_records_nothing(tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    store = Store(db, "S1", "L1", digests=DIGESTS)
    state = drive(store, State(), ["T000001"])
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")
    big = DeviceFault("scanner", "y" * 200_000)
    with pytest.raises(StoreError, match=r"station\.db.*full"):
        store.commit([big], state, NOW, True)
    assert store.last_seq == 1
    assert [r.seq for r in Outbox(db).pending(0, 10)] == [1]


def test_database_file_is_private(tmp_path: Path) -> None:
    db = tmp_path / "data" / "station.db"
    Store(db, "S1", "L1", digests=DIGESTS).close()
    assert db.stat().st_mode & 0o077 == 0
    assert (tmp_path / "data").stat().st_mode & 0o077 == 0


def test_unopenable_database_names_the_file(tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"station\.db"):
        Store(db, "S1", "L1", digests=DIGESTS)


# What sqlite-utils wrote on stations installed before the store dropped it: its quoting.
SQLITE_UTILS_SCHEMA = """
CREATE TABLE [migrations] ([name] TEXT PRIMARY KEY, [applied_at] TEXT);
CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL,
    type TEXT NOT NULL, ts TEXT NOT NULL, payload TEXT NOT NULL, delivered_at TEXT);
CREATE TABLE [meta] ([key] TEXT PRIMARY KEY, [value] TEXT);
CREATE TABLE [closed_tubes] ([tube] TEXT PRIMARY KEY);
CREATE TABLE [sampled_today] ([id_number] TEXT PRIMARY KEY);
INSERT INTO migrations VALUES ('001_outbox', '2026-11-01T00:00:00Z');
INSERT INTO meta VALUES ('session', '4');
"""


def test_a_database_from_an_earlier_install_opens_and_completes(tmp_path: Path) -> None:
    """Half migrated (001 only, as sqlite-utils created it): 002 is applied once, the rows
    and counters already there are kept."""
    db = tmp_path / "station.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(SQLITE_UTILS_SCHEMA)
    store = Store(db, "S1", "L1", digests=DIGESTS)
    assert store.session == 5
    drive(store, State(), ["T000001", ZHANG])
    store.close()
    again = Store(db, "S1", "L1", digests=DIGESTS)
    assert again.session == 6 and again.last_seq == 2
    with sqlite3.connect(db) as conn:
        applied = [r[0] for r in conn.execute("SELECT name FROM migrations ORDER BY name")]
        jobs = conn.execute("SELECT count(*) FROM print_jobs").fetchone()[0]
    assert applied == ["001_outbox", "002_print_jobs", "003_plain_registrations"]
    assert jobs == 0


def test_a_failed_migration_leaves_the_database_as_it_was(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(db: Database) -> None:
        db.execute("CREATE TABLE half_done (x)")
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, ("003", broken)])
    db = tmp_path / "station.db"
    with pytest.raises(StoreError, match="disk I/O error"):
        Store(db, "S1", "L1", digests=DIGESTS)
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == set()  # all steps in one transaction: none applied, none half applied


def test_a_new_stores_first_start_is_one_commit_and_no_checkpoint(tmp_path: Path) -> None:
    """A new store has no old form to rewrite: its first start commits the session, the
    first state and the digests' check together, and empties no WAL (a checkpoint's
    syncs, on the way to ready). Digests then compare, and nothing is forgotten."""
    db = tmp_path / "station.db"
    store = Store(db, "S1", "L1", digests=DIGESTS)
    assert not store.forgot and store.session == 1
    assert Path(f"{db}-wal").stat().st_size > 0          # the commit, still in the WAL
    store.close()
    again = Store(db, "S1", "L1", digests=DIGESTS)
    assert not again.forgot and again.session == 2


def test_the_core_leaves_checkpoints_to_the_other_connections(tmp_path: Path) -> None:
    """Moving the WAL's pages into the database (and syncing it) is work the core must not
    do between a scan and its light: the uplink's and printer's commits do it."""
    db = tmp_path / "station.db"
    store = Store(db, "S1", "L1", digests=DIGESTS)
    outbox = Outbox(db)
    state = drive(store, State(), ["T000001", ZHANG])
    size = db.stat().st_size
    for _ in range(15):   # about 1,500 pages into the WAL, past SQLite's 1,000
        store.commit([DeviceFault("printer", "x" * 400_000)], state, NOW, True)
    assert db.stat().st_size == size                    # all still in the WAL
    outbox.mark_delivered([1], NOW)                     # the uplink's next commit
    assert db.stat().st_size > size + 1_000 * 4096      # checkpointed there


def test_a_store_from_before_sealing_turns_its_numbers_into_digests(tmp_path: Path) -> None:
    """Today's set and the open tube's people, as a store before #28 wrote them (plain
    ID numbers, whole persons in the snapshot), become digests at the first start; the
    numbers' bytes are gone from the file."""
    db = tmp_path / "station.db"
    store = Store(db, "S1", "L1", digests=DIGESTS)
    state = drive(store, State(), ["T000001", ZHANG, LI])
    store.close()
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:   # back to the old form
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("DELETE FROM outbox")   # its events stay plain until purged: not here
        conn.execute("DELETE FROM meta WHERE key = 'digest_check'")
        conn.execute("DELETE FROM sampled_today")
        conn.executemany("INSERT INTO sampled_today VALUES (?)", [(ZHANG,), (LI,)])
        old = {"tube": "T000001", "samples": [
            {"person": {"id_type": "resident", "id_number": n, "name": "张三丰",
                        "gender": "male", "birth": "1949-12-31"}, "repeat_today": False}
            for n in (ZHANG, LI)]}
        snapshot = json.loads(conn.execute("SELECT value FROM meta WHERE key = 'state'")
                              .fetchone()[0])
        conn.execute("UPDATE meta SET value = ? WHERE key = 'state'",
                     [json.dumps({**snapshot, "tube": old}, ensure_ascii=False)])
    again = Store(db, "S1", "L1", digests=DIGESTS)
    restored = again.load_state()
    assert restored.sampled_today == {digest(ZHANG), digest(LI)}
    assert restored.tube is not None
    assert [(s.who, s.key) for s in restored.tube.samples] == [
        ("张*丰", digest(ZHANG)), ("张*丰", digest(LI))]
    assert state.tube is not None and restored.tube.tube == state.tube.tube
    files = [db, db.with_name(db.name + "-wal")]   # open, as a power cut leaves them
    card = b"".join(f.read_bytes() for f in files if f.exists())
    assert ZHANG.encode() not in card and LI.encode() not in card
    again.close()
    assert ZHANG.encode() not in db.read_bytes() and LI.encode() not in db.read_bytes()


def test_registrations_stored_plain_are_sealed_in_place_at_a_start_with_the_key(
        tmp_path: Path) -> None:
    """A lab bench's (or a store from before sealing) registrations, one delivered and
    one not, one in the order lanes wrote before #37: the first start with central's key
    seals both where they are (same id, same seq), central opens each to its person, and
    their numbers' bytes leave the files."""
    db = tmp_path / "station.db"
    bench = Store(db, "S1", "L1", digests=DIGESTS)   # no sealer: [privacy] seal = false
    drive(bench, State(), ["T000001", ZHANG, LI])
    bench.close()
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        seq, payload = conn.execute("SELECT seq, payload FROM outbox "
                                    "WHERE type = 'sample.registered' ORDER BY seq").fetchone()
        conn.execute("UPDATE outbox SET payload = ? WHERE seq = ?",
                     [before_37(decode_event(payload)).decode(), seq])
        before = conn.execute("SELECT seq, id, payload FROM outbox "
                              "WHERE type = 'sample.registered' ORDER BY seq").fetchall()
        conn.execute("UPDATE outbox SET delivered_at = ? WHERE seq = ?",
                     [NOW.isoformat(), before[0][0]])
    assert before[0][2].startswith('{"v":') and before[1][2].startswith('{"type":')
    assert len(before) == 2 and ZHANG.encode() in db.read_bytes()
    sealer = Sealer(read_keys(key_pair()[1], private=False)[0])
    sealing = Store(db, "S1", "L1", sealer, DIGESTS)
    assert sealing.seal_plain_outbox(sealer) == 0   # done at the start, once
    pending = Outbox(db).pending(0, 100)
    sealing.close()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        after = conn.execute("SELECT seq, id, type, payload FROM outbox "
                             "WHERE id IN (?, ?) ORDER BY seq",
                             [before[0][1], before[1][1]]).fetchall()
    assert [(seq, event_id) for seq, event_id, _, _ in after] == [
        (seq, event_id) for seq, event_id, _ in before]
    assert {t for _, _, t, _ in after} == {"sample.registered.encrypted"}
    opener = Opener([key_pair()[0]])
    for (_, _, plain), (_, _, _, payload) in zip(before, after, strict=True):
        opened = opener.open(decode_event(payload))  # type: ignore[arg-type]
        assert msgspec.to_builtins(opened.data.person) == json.loads(plain)["data"]["person"]
        assert {k: v for k, v in json.loads(payload).items() if k not in ("type", "data")} \
            == {k: v for k, v in json.loads(plain).items() if k not in ("type", "data")}
    assert [p.seq for p in pending if p.type == "sample.registered.encrypted"] == [after[1][0]]
    for name in (db, db.with_name(db.name + "-wal")):
        if name.exists():
            assert ZHANG.encode() not in name.read_bytes(), name
            assert LI.encode() not in name.read_bytes(), name
