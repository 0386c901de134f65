"""A thief with a lane's SD card (#39): its data folder as a power cut leaves it (copied
while the lane runs: database, WAL and all) and its log, no central key.

The thief knows what anyone can read: this code (how a digest is made), the structure of
ID numbers (GB 11643), and generous hints: the lane's district (110105) and that the
day's people were born in January 1950. With those, each person's number is one of
31 × 999 = 30,969 guesses, and the thief's budget covers them all: the numbers are in
reach the moment a digest can be tested. From the card the thief takes every digest,
every mask of an ID number (which would cut the guesses to a few), the days the store
names, and every candidate secret: each 32 bytes of the card and the log, raw, as hex
or as base64, kept where it gives the store's own check value. Before #39 the same thief
recovered 6 of 6 people in 4 s (Argon2id digests with the salt in `meta`, and the masks
in the log and the snapshot).

The controls prove the thief competent: with the secret copied onto the card (a file,
or a row of the database), the same attack recovers everyone."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
import os
import re
import shutil
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from contract.events import Person
from contract.id_numbers import check_char
from drivers.printer.sim import PrinterSim
from drivers.sam.text import CardText
from station.core.digests import DayDigests
from station.digest_secret import runtime_folder, runtime_name
from tests.conftest import eventually, in_process, write_config
from tests.lane_days import person
from tools.broker import LocalBroker

DISTRICT = "110105"
BIRTH_MONTH = [dt.date(1950, 1, 1) + dt.timedelta(days=d) for d in range(31)]
BUDGET = 40_000   # guesses per (candidate secret, day)
DIGEST = re.compile(rb"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
MASK = re.compile(rb"(\d{4})\*{10}([\dX]{4})")
ISO_DAY = re.compile(rb"20\d\d-\d\d-\d\d")
HEX_KEY = re.compile(rb"[0-9a-fA-F]{64}")
B64_KEY = re.compile(rb"[A-Za-z0-9+/_-]{43}=?")


@pytest.fixture
def printer() -> Iterator[PrinterSim]:
    sim = PrinterSim(language="tspl")
    yield sim
    sim.close()


def a_lane_morning(tmp_path: Path, caplog: pytest.LogCaptureFixture, printer: PrinterSim,
                   single: bool, plant: str = "") -> list[Person]:
    """Six people by card, pooled into one tube or each in a tube of their own with its
    label; the data folder copied to `card/` while the lane still runs. `plant`: the
    secret put on the card first, the controls' way ("file" or "row")."""
    people = [person(n) for n in range(1, 7)]
    caplog.set_level(logging.DEBUG)
    with LocalBroker() as broker:
        config = write_config(tmp_path, broker.url, pool_size=1 if single else 10,
                              tubes="print" if single else "preprinted")
        if single:
            with config.open("a") as f:
                f.write(f'[printer]\ndriver = "tspl"\nuri = "{printer.uri}"\n')
        with in_process(config) as station:
            scanner, card = station.devices.scanner_sim, station.devices.card_sim
            assert scanner is not None and card is not None
            done = 0
            if not single:
                scanner.scan("T000001")
                done += 1
                assert eventually(lambda: station.accepted >= 1)
            for p in people:
                card.present(CardText("resident", p.id_number, p.name, p.gender, p.birth,
                                      address=p.card_address))
                done += 1
                assert eventually(lambda n=done: station.accepted >= n)  # type: ignore[misc]
                card.lift()
            if single:
                assert printer.wait_printed(len(people))
            plant_secret(tmp_path / "data", plant)
            shutil.copytree(tmp_path / "data", tmp_path / "card",   # the power cut
                            ignore=sockets)   # a socket's entry holds no bytes to read
    return people


def sockets(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if stat.S_ISSOCK(os.lstat(Path(folder, name)).st_mode)]


def plant_secret(data: Path, how: str) -> None:
    if not how:
        return
    secret = (runtime_folder() / runtime_name(data)).read_bytes()
    if how == "file":
        (data / "digest.key").write_bytes(secret)
    else:
        with sqlite3.connect(data / "station.db") as db:
            db.execute("CREATE TABLE kept (value BLOB)")
            db.execute("INSERT INTO kept VALUES (?)", [secret])


def guesses(masks: set[tuple[bytes, bytes]]) -> list[str]:
    """Every number the hints allow; only those a mask fits, when the card has masks."""
    found = []
    for day in BIRTH_MONTH:
        for seq in range(1000):
            first17 = f"{DISTRICT}{day:%Y%m%d}{seq:03d}"
            number = first17 + check_char(first17)
            if not masks or (number[:4].encode(), number[-4:].encode()) in masks:
                found.append(number)
    return found[:BUDGET]


def secrets_in(blob: bytes, check: str) -> set[bytes]:
    """Every 32 bytes of the blob (raw, hex, base64) that gives the store's check value."""
    tries = {blob[i:i + 32] for i in range(len(blob) - 31)}
    tries |= {bytes.fromhex(m.decode()) for m in HEX_KEY.findall(blob)}
    for token in B64_KEY.findall(blob):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                tries.add(decode(token + b"=" * (-len(token) % 4)))
            except (ValueError, binascii.Error):
                continue
    return {t for t in tries if len(t) == 32 and DayDigests(t).check == check}


class Loot(msgspec.Struct):
    digests: set[bytes]
    masks: set[tuple[bytes, bytes]]
    secrets: set[bytes]
    recovered: set[str]


def steal(card: Path, log: str) -> Loot:
    """What the thief finds in the copied data folder and the log, and the ID numbers
    it recovers."""
    blob = b"".join(p.read_bytes() for p in sorted(card.rglob("*")) if p.is_file())
    blob += log.encode()
    db = sqlite3.connect(card / "station.db")
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    db.close()
    digests = set(DIGEST.findall(blob))
    masks = set(MASK.findall(blob))
    days = {dt.date.fromisoformat(d.decode()) for d in ISO_DAY.findall(blob)}
    secrets = secrets_in(blob, meta["digest_check"])
    recovered: set[str] = set()
    tries = guesses(masks)
    for secret in secrets:
        digest = DayDigests(secret)
        for day in days:
            recovered |= {n for n in tries if digest(day, n).encode() in digests}
    return Loot(digests, masks, secrets, recovered)


@pytest.mark.parametrize("single", [False, True], ids=["pooled", "single"])
def test_a_thief_with_the_card_and_the_log_recovers_nobody(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, printer: PrinterSim,
        single: bool) -> None:
    people = a_lane_morning(tmp_path, caplog, printer, single)
    assert {p.id_number for p in people} <= set(guesses(set())), "all in reach"
    loot = steal(tmp_path / "card", caplog.text)
    assert len(loot.digests) >= len(people)   # the day's digests are on the card
    assert loot.masks == set()                # no ID number's mask beside them
    assert loot.secrets == set() and loot.recovered == set()


@pytest.mark.parametrize("plant", ["file", "row"])
def test_the_control_with_the_secret_on_the_card_the_same_thief_recovers_everyone(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, printer: PrinterSim,
        plant: str) -> None:
    people = a_lane_morning(tmp_path, caplog, printer, single=False, plant=plant)
    loot = steal(tmp_path / "card", caplog.text)
    assert len(loot.secrets) == 1
    assert loot.recovered == {p.id_number for p in people}
