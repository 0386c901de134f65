"""The day's duplicate checks on keyed digests (#39): the construction (checked against
OpenSSL's HKDF and HMAC), where the secret comes from (the Pi's OTP key through a
simulated firmware tool, a file in RAM), and what the store keeps of a day."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from station.core.codes import PERSON_DECODERS, Classifier
from station.core.digests import INFO, DayDigests
from station.core.messages import CodeScanned, Record, Signal
from station.core.state import Rules, State
from station.core.workflow import Workflow
from station.digest_secret import (
    DigestKeyError,
    otp_secret,
    runtime_name,
    runtime_secret,
    secret_for,
)
from station.store import Store
from tests.conftest import eventually, in_process, personal_data_in, write_config
from tests.people import LI, WANG, ZHANG
from tools.broker import LocalBroker

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)
TODAY = NOW.astimezone(SHANGHAI).date()
RULES = Rules("L1", 3, "preprinted", "warn",
              Classifier(re.compile(r"T\d{6}"), list(PERSON_DECODERS.values())), SHANGHAI)
SECRET = bytes(range(32))


# --- the construction ------------------------------------------------------------------

def test_a_key_a_day_a_secret_a_station_and_no_number_in_a_digest() -> None:
    one, two = DayDigests(SECRET), DayDigests(bytes(32 * [7]))
    tomorrow = TODAY + dt.timedelta(days=1)
    assert one(TODAY, ZHANG) == DayDigests(SECRET)(TODAY, ZHANG)   # the same after a start
    assert len({one(TODAY, ZHANG), one(tomorrow, ZHANG), two(TODAY, ZHANG),
                one(TODAY, LI)}) == 4
    assert re.fullmatch(r"[0-9a-f]{32}", one(TODAY, ZHANG))
    assert ZHANG not in one(TODAY, ZHANG)
    assert one.check == DayDigests(SECRET).check != two.check


def openssl(*args: str, data: bytes = b"") -> str:
    return subprocess.run(["openssl", *args], input=data, capture_output=True,
                          check=True).stdout.decode()


def test_the_digest_is_hkdf_then_hmac_as_openssl_computes_them() -> None:
    """What ARCHITECTURE.md says the digest is, computed by a library nobody here wrote:
    the day's key HKDF-SHA256 (no salt) of the secret, the digest HMAC-SHA256 of the ID
    number under it, cut to 16 bytes."""
    info = (INFO + b" day " + TODAY.isoformat().encode()).hex()
    day_key = openssl("kdf", "-keylen", "32", "-kdfopt", "digest:SHA256",
                      "-kdfopt", f"hexkey:{SECRET.hex()}", "-kdfopt", f"hexinfo:{info}",
                      "HKDF").strip().replace(":", "").lower()
    mac = openssl("dgst", "-sha256", "-mac", "HMAC", "-macopt", f"hexkey:{day_key}",
                  data=ZHANG.encode()).split("= ")[-1].strip()
    assert DayDigests(SECRET)(TODAY, ZHANG) == mac[:32]


# --- where the secret comes from --------------------------------------------------------

OTP_TOOL = """#!/bin/sh
# rpi-otp-private-key as the Pi's firmware tool answers: 64 hex digits, or an error.
[ -n "$OTP_FAIL" ] && { echo "Error: Failed to read key" >&2; exit 1; }
echo "$OTP_KEY"
"""


@pytest.fixture
def otp_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A simulated `rpi-otp-private-key` first on PATH (no Pi here: the firmware's mailbox
    is the edge no real part reaches), printing OTP_KEY."""
    folder = tmp_path / "bin"
    folder.mkdir()
    tool = folder / "rpi-otp-private-key"
    tool.write_text(OTP_TOOL)
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    monkeypatch.delenv("OTP_FAIL", raising=False)
    yield tool


def test_the_otp_key_is_read_through_the_firmware_tool_or_the_lane_says_why_not(
        otp_tool: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTP_KEY", SECRET.hex())
    assert otp_secret() == SECRET
    secret = secret_for("otp", tmp_path)
    assert (secret.source, secret.value) == ("otp", SECRET)
    assert secret_for("runtime", tmp_path).source == "runtime"   # the default: RAM
    monkeypatch.setenv("OTP_KEY", "0" * 64)   # a board with no key programmed
    with pytest.raises(DigestKeyError, match="reads zeros"):
        secret_for("otp", tmp_path)
    monkeypatch.setenv("OTP_FAIL", "1")       # /dev/vcio out of reach, say
    with pytest.raises(DigestKeyError, match=r"failed \(status 1: Error: Failed to read key"):
        otp_secret()
    monkeypatch.setenv("PATH", "/nonexistent")   # not a Pi at all
    with pytest.raises(DigestKeyError, match="not installed"):
        otp_secret()


@pytest.fixture
def ram_folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(dir="/dev/shm") as folder:
        yield Path(folder)


def test_the_runtime_secret_lives_in_ram_made_once_and_ours_alone(
        ram_folder: Path, tmp_path: Path) -> None:
    first = runtime_secret(ram_folder, "k")
    assert first.source == "runtime" and len(first.value) == 32
    assert (ram_folder / "k").stat().st_mode & 0o777 == 0o600
    assert runtime_secret(ram_folder, "k").value == first.value   # the daemon restarted
    with pytest.raises(DigestKeyError, match="not in RAM"):
        runtime_secret(tmp_path, "k")   # a disk: the secret would reach the card
    (ram_folder / "k").chmod(0o644)     # planted, or loosened: a key others may know
    with pytest.raises(DigestKeyError, match="not a file of this user's alone"):
        runtime_secret(ram_folder, "k")
    (ram_folder / "elsewhere").write_bytes(SECRET)
    (ram_folder / "link").symlink_to(ram_folder / "elsewhere")
    with pytest.raises(DigestKeyError, match="symbolic link"):
        runtime_secret(ram_folder, "link")
    (ram_folder / "short").write_bytes(b"x")
    (ram_folder / "short").chmod(0o600)
    with pytest.raises(DigestKeyError, match="holds 1 bytes"):
        runtime_secret(ram_folder, "short")
    os.mkfifo(ram_folder / "fifo", 0o600)   # planted: opening it must not hang a start
    with pytest.raises(DigestKeyError, match="not a file of this user's alone"):
        runtime_secret(ram_folder, "fifo")


def test_the_secret_files_name_never_reads_as_a_person() -> None:
    """The file is named in the log at every start: its tag, made of the data folder's
    path, never reads as a phone or an ID number (hex did, one folder in a thousand)."""
    names = "\n".join(runtime_name(Path(f"/var/lib/natest/lane-{n}")) for n in range(5000))
    assert personal_data_in(names) == []


def test_a_start_cut_short_while_making_the_secret_leaves_no_half_of_it(
        ram_folder: Path) -> None:
    """The secret is written aside and linked whole: the leftover of a crash in between
    (a short file aside) neither stands as the secret nor keeps the next start out."""
    aside = ram_folder / f".k.{os.getpid()}"
    aside.write_bytes(b"half")
    made = runtime_secret(ram_folder, "k")
    assert len(made.value) == 32 and (ram_folder / "k").read_bytes() == made.value
    assert sorted(p.name for p in ram_folder.iterdir()) == ["k"]


# --- the workflow and the store ---------------------------------------------------------

def step(flow: Workflow, state: State, code: str, at: dt.datetime) -> tuple[State, str]:
    new, effects = flow.step(state, CodeScanned(code), at)
    return new, next(e.cue for e in effects if isinstance(e, Signal))


def test_a_tube_open_past_midnight_still_knows_who_is_in_it() -> None:
    """A key a day: the tube's people of yesterday carry yesterday's digests."""
    flow = Workflow(RULES, DayDigests(SECRET))
    late = dt.datetime(2026, 11, 22, 23, 58, tzinfo=SHANGHAI)
    state, _ = step(flow, State(), "T000001", late)
    state, cue = step(flow, state, ZHANG, late)
    assert cue == "accepted"
    after = late + dt.timedelta(minutes=4)
    state, cue = step(flow, state, ZHANG, after)
    assert cue == "already_in_tube"
    state, cue = step(flow, state, LI, after)
    assert cue == "one_left"
    _, cue = step(flow, state, LI, after)
    assert cue == "already_in_tube"
    two_days_on = late + dt.timedelta(days=2)   # still open two midnights later
    for someone in (ZHANG, LI):   # joined the day it opened, and the day after
        _, cue = step(flow, state, someone, two_days_on)
        assert cue == "already_in_tube"


def drive(store: Store, codes: list[str], at: dt.datetime, state: State) -> State:
    flow = Workflow(RULES, store.digests)
    for code in codes:
        state, effects = flow.step(state, CodeScanned(code), at)
        records = [e for e in effects if isinstance(e, Record)]
        store.commit([f for r in records for f in r.facts], state, at, clock_synced=True,
                     marks=[m for r in records for m in r.marks])
    return state


def test_digests_of_a_secret_that_is_gone_are_forgotten_not_compared(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "station.db"
    store = Store(db, "S1", "L1", digests=DayDigests(SECRET))
    drive(store, ["T000001", ZHANG, LI], NOW, State())
    store.close()
    kept = Store(db, "S1", "L1", digests=DayDigests(SECRET))   # the OTP key: the same
    assert not kept.forgot and len(kept.load_state().sampled_today) == 2
    kept.close()
    rebooted = Store(db, "S1", "L1", digests=DayDigests(bytes(32)))   # RAM lost its key
    state = rebooted.load_state()
    assert rebooted.forgot and state.sampled_today == frozenset()
    assert state.tube is not None and [s.key for s in state.tube.samples] == ["", ""]
    # The day goes on: the open tube takes its third person, and a repeat is seen again.
    state = drive(rebooted, [WANG], NOW, state)
    assert state.tube is None and len(state.sampled_today) == 1


def test_an_argon2id_store_from_before_39_forgets_its_digests_and_its_masks(
        tmp_path: Path) -> None:
    """The old digests could be tested against with the salt beside them: they go, with
    the salt and the ID numbers' masks of the snapshot, and their bytes with them."""
    db = tmp_path / "station.db"
    store = Store(db, "S1", "L1", digests=DayDigests(SECRET))
    drive(store, ["T000001", ZHANG], NOW, State())
    store.close()
    old_digest, mask = "ab" * 16, ZHANG[:4] + "*" * 10 + ZHANG[-4:]
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("DELETE FROM meta WHERE key = 'digest_check'")
        conn.execute("INSERT INTO meta VALUES ('person_keys', ?)",
                     [json.dumps({"salt": "c2FsdA==", "alg": "argon2id"})])
        conn.execute("UPDATE sampled_today SET id_number = ?", [old_digest])
        snap = json.loads(conn.execute("SELECT value FROM meta WHERE key = 'state'")
                          .fetchone()[0])
        snap["tube"]["samples"][0].update(who=f"张*丰 {mask}", key=old_digest)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'state'",
                     [json.dumps(snap, ensure_ascii=False)])
    conn.close()
    again = Store(db, "S1", "L1", digests=DayDigests(SECRET))
    state = again.load_state()
    assert again.forgot and state.sampled_today == frozenset()
    assert state.tube is not None and [(s.who, s.key) for s in state.tube.samples] == [
        ("张*丰", "")]
    # Read while the store is open, as a power cut would leave the files: WAL included.
    card = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert old_digest.encode() not in card and mask.encode() not in card
    assert b"argon2id" not in card
    again.close()


def files_of(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.iterdir()
                    if p.name.startswith(db.name))


def test_after_a_day_changes_nothing_of_the_day_before_is_in_the_files(
        tmp_path: Path) -> None:
    """The first step of a new day empties the day's table; the WAL that still holds the
    old pages is truncated (and the checkpoint's answer read: a busy reader makes it
    try again later). Read as raw bytes, as a thief would."""
    db = tmp_path / "station.db"
    digests = DayDigests(SECRET)
    store = Store(db, "S1", "L1", digests=digests)
    state = drive(store, ["T000001", ZHANG, LI, WANG], NOW, State())
    assert not store.wal_pending   # a store's first day: no earlier one to empty
    yesterday = [digests(TODAY, n).encode() for n in (ZHANG, LI, WANG)]
    assert all(d in files_of(db) for d in yesterday)   # the search sees them while kept
    reader = sqlite3.connect(db)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM outbox").fetchone()   # a snapshot held open
    state = drive(store, ["T000002"], NOW + dt.timedelta(days=1), state)
    assert store.wal_pending
    assert not store.tidy() and store.wal_pending          # the reader: tried later
    assert any(d in files_of(db) for d in yesterday)
    reader.rollback()
    reader.close()
    assert store.tidy() and not store.wal_pending
    assert (tmp_path / "station.db-wal").stat().st_size == 0
    assert [d for d in yesterday if d in files_of(db)] == []
    store.close()


def test_a_station_says_where_its_digests_key_is_and_when_the_check_starts_afresh(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, ram_folder: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(ram_folder))
    caplog.set_level(logging.INFO)
    with LocalBroker() as broker:
        config = write_config(tmp_path, broker.url)
        with in_process(config) as station:
            station.devices.scanner_sim.scan("T000001")   # type: ignore[union-attr]
            station.devices.scanner_sim.scan(ZHANG)       # type: ignore[union-attr]
            assert eventually(lambda: station.accepted >= 2)
        assert "digests keyed by a key in RAM" in caplog.text
        assert "starts afresh" not in caplog.text
        for key in ram_folder.iterdir():   # a reboot: RAM is empty again
            key.unlink()
        with in_process(config) as station:
            assert station.state.sampled_today == frozenset()
        assert "the day's duplicate check starts afresh" in caplog.text
