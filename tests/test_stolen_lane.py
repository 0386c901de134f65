"""A thief with a lane's SD card (#39): its data folder and its log, no central key.

The thief knows what anyone can read: this code (how a digest is made), the structure of
ID numbers (GB 11643), and generous hints: the lane's district (110105) and that the
day's people were born in January 1950. With those, each person's number is one of
31 × 999 = 30,969 guesses, and the thief's budget covers them all: the numbers are in
reach the moment a digest can be tested. From the card the thief takes every digest,
every mask of an ID number (which would cut the guesses to a few), the days the store
names, and every candidate secret (each 32-byte file, each value of the store's meta
table as hex or base64). Before #39 the same thief recovered 6 of 6 people in 4 s
(Argon2id digests with the salt in `meta`, and the masks in the log and the snapshot).

The control proves the thief competent: with the secret copied onto the card, the same
attack recovers everyone."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
import re
import shutil
import sqlite3
from pathlib import Path

import msgspec
import pytest

from contract.events import Person
from contract.id_numbers import check_char
from drivers.sam.text import CardText
from station.digests import DayDigests, runtime_folder, runtime_name
from tests.conftest import eventually, in_process, write_config
from tests.lane_days import person
from tools.broker import LocalBroker

DISTRICT = "110105"
BIRTH_MONTH = [dt.date(1950, 1, 1) + dt.timedelta(days=d) for d in range(31)]
BUDGET = 40_000   # guesses per (candidate secret, day)
DIGEST = re.compile(rb"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
MASK = re.compile(rb"(\d{4})\*{10}([\dX]{4})")
ISO_DAY = re.compile(rb"20\d\d-\d\d-\d\d")


def a_lane_morning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> list[Person]:
    """Six people by card into one tube (the card has names and registered addresses)."""
    people = [person(n) for n in range(1, 7)]
    caplog.set_level(logging.DEBUG)
    with LocalBroker() as broker:
        config = write_config(tmp_path, broker.url, pool_size=10)
        with in_process(config) as station:
            scanner, card = station.devices.scanner_sim, station.devices.card_sim
            assert scanner is not None and card is not None
            scanner.scan("T000001")
            assert eventually(lambda: station.accepted >= 1)
            for n, p in enumerate(people, start=2):
                card.present(CardText("resident", p.id_number, p.name, p.gender, p.birth,
                                      address=p.card_address))
                assert eventually(lambda n=n: station.accepted >= n)  # type: ignore[misc]
                card.lift()
    return people


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


def secrets_on(card: Path, meta: dict[str, str]) -> set[bytes]:
    found = {p.read_bytes() for p in card.rglob("*") if p.is_file() and p.stat().st_size == 32}
    for value in meta.values():
        for token in re.findall(r"[A-Za-z0-9+/=_-]{22,}", value):
            for decode in (bytes.fromhex, base64.b64decode, base64.urlsafe_b64decode):
                try:
                    raw = decode(token)
                except (ValueError, binascii.Error):
                    continue
                if len(raw) >= 16:
                    found.add(raw)
    return found


class Loot(msgspec.Struct):
    digests: set[bytes]
    masks: set[tuple[bytes, bytes]]
    recovered: set[str]


def steal(data: Path, log: str, scratch: Path) -> Loot:
    """What the thief finds in a copy of the data folder and the log, and the ID numbers
    it recovers."""
    card = scratch / "card"
    shutil.copytree(data, card)
    blob = b"".join(p.read_bytes() for p in card.rglob("*") if p.is_file()) + log.encode()
    digests = set(DIGEST.findall(blob))
    masks = set(MASK.findall(blob))
    days = {dt.date.fromisoformat(d.decode()) for d in ISO_DAY.findall(blob)}
    db = sqlite3.connect(card / "station.db")
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    db.close()
    recovered: set[str] = set()
    tries = guesses(masks)
    for secret in secrets_on(card, meta):
        for day in days:
            digest = DayDigests(secret)
            recovered |= {n for n in tries if digest(day, n).encode() in digests}
    return Loot(digests, masks, recovered)


def test_a_thief_with_the_card_and_the_log_recovers_nobody(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    people = a_lane_morning(tmp_path, caplog)
    numbers = {p.id_number for p in people}
    assert numbers <= set(guesses(set())), "the hints must put every number in reach"
    loot = steal(tmp_path / "data", caplog.text, tmp_path / "thief")
    assert len(loot.digests) >= len(people)   # the day's digests are on the card
    assert loot.masks == set()                # no ID number's mask beside them
    assert loot.recovered == set()


def test_the_control_with_the_secret_on_the_card_the_same_thief_recovers_everyone(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    people = a_lane_morning(tmp_path, caplog)
    ram = runtime_folder() / runtime_name(tmp_path / "data")
    shutil.copy(ram, tmp_path / "data" / "digest.key")   # the key moved onto the card
    loot = steal(tmp_path / "data", caplog.text, tmp_path / "thief")
    assert loot.recovered == {p.id_number for p in people}
