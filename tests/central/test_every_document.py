"""Every document, end to end on mosquitto and central: a passport holder from a QR code
and from the keyboard, a 港澳 permit typed, a child under its guardian's document and a
paper card completed with a passport, each in `report register --private-key`; bad
documents refused at the lane, on the screen and by voice, with nothing recorded."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from functools import partial
from pathlib import Path

import pytest

from central.cli import main
from central.ingest.collector import Collector
from central.store.open import open_store
from contract.events import Person, SampleRegistered, TubeOpened
from drivers.voice.sim import SimSpeaker
from station.core.messages import Cue, NumberTyped
from station.core.prompts import DEFAULT
from station.runner import Station
from tests.central_keys import key_pair
from tests.conftest import eventually, in_process, write_config
from tests.lane_days import Lane, shanghai
from tests.people import nth_person
from tools.broker import LocalBroker

pytestmark = pytest.mark.broker
GUARDIAN = nth_person(21)
QR_PASSPORT = json.dumps({"id_type": "passport", "id": "E12345678", "name": "SMITH JOHN",
                          "phone": "13800138001", "gender": "男", "birth": "1990-03-04"})
CHILD = json.dumps({"guardian_id": GUARDIAN, "guardian_id_type": "身份证", "name": "王小宝",
                    "birth": "2026-05-01"}, ensure_ascii=False)
# Refused, each for its reason: a lowercase passport, a typed one with a dash, a 港澳
# permit of 7 digits, a passport typed without its key in the lane's tube form.
REFUSED: list[tuple[str | NumberTyped, Cue]] = [
    (json.dumps({"id_type": "passport", "id": "e99999999", "name": "LOW CASE"}),
     "bad_passport"),
    (NumberTyped("G9999-9999", "passport"), "bad_passport"),
    (NumberTyped("H9999999", "hk_macao_pass"), "bad_permit"),
    (NumberTyped("T999999"), "choose_document"),
]


def report(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, str]]:
    capsys.readouterr()
    assert main(["report", *args, "--private-key", str(key_pair()[0])]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))


def step(station: Station, item: str | NumberTyped) -> None:
    if isinstance(item, str):
        assert station.devices.scanner_sim is not None
        station.devices.scanner_sim.scan(item)
    else:
        station.events.put(item)


def refused(station: Station, item: str | NumberTyped, reason: Cue) -> None:
    """Refused for `reason` on the screen and by voice, and nothing recorded."""
    before = (station.accepted, station.store.last_seq)
    step(station, item)
    assert eventually(lambda: (station.view()["last"] or {}).get("cue") == reason), (
        item, station.view()["last"])
    last = station.view()["last"]
    assert last["pattern"] == "refused" and last["line"] == DEFAULT[reason][1]
    voice = station.devices.voice
    assert isinstance(voice, SimSpeaker)
    assert eventually(lambda: bool(voice.said) and voice.said[-1] == DEFAULT[reason][0])
    assert (station.accepted, station.store.last_seq) == before


@pytest.fixture
def lane_day(tmp_path: Path, broker: LocalBroker) -> Path:
    db = tmp_path / "central.db"
    collector = Collector(broker.url, db).start()
    assert collector.subscribed.wait(10)
    with in_process(write_config(tmp_path, broker.url, pool_size=10)) as station:
        accepted: list[str | NumberTyped] = [
            "T000001", QR_PASSPORT, NumberTyped("G87654321", "passport"),
            NumberTyped("M12345678"), CHILD, "FORM-000001", "CMD:SEAL"]
        for n, item in enumerate(accepted, start=1):
            if n == 3:   # the bad ones between the good ones: the tube goes on after them
                for bad, reason in REFUSED:
                    refused(station, bad, reason)
            step(station, item)
            assert eventually(partial(lambda n: station.accepted >= n, n)), item
            time.sleep(0.05)
        assert eventually(lambda: collector.stored == station.store.last_seq)
    collector.stop()
    return db


def test_every_document_reaches_the_register_and_a_card_completes_with_a_passport(
        lane_day: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--db", str(lane_day)]
    rows = report(capsys, "register", "--columns", "en", *db)
    assert [(r["source"], r["id_type"], r["id_number"], r["name"], r["gender"])
            for r in rows] == [
        ("qr", "passport", "E12345678", "SMITH JOHN", "male"),
        ("manual", "passport", "G87654321", "", "unknown"),
        ("manual", "hk_macao_pass", "M12345678", "", "unknown"),
        ("qr", "guardian", GUARDIAN, "王小宝", "unknown"),   # not the guardian's male
        ("form", "other", "FORM-000001", "", "unknown")]
    chinese = report(capsys, "register", *db)
    assert [r["证件类型"] for r in chinese] == [
        "护照", "护照", "港澳居民来往内地通行证", "监护人证件（儿童）", "其他证件"]

    cards = tmp_path / "cards.csv"
    cards.write_text("serial,id_type,id_number,name,phone\n"
                     "FORM-000001,护照,P1234567,DOE JANE,13800138002\n"
                     "FORM-000002,passport,p1234567,LOW CASE,\n"
                     "FORM-000003,港澳通行证,H123,SHORT,\n"
                     "FORM-000004,,,无证人,\n", encoding="utf-8")
    assert main(["import-forms", str(cards), *db,
                 "--seal-to", str(key_pair()[1])]) == 1   # three rows refused, named
    err = capsys.readouterr().err
    assert "cards.csv:3: FORM-000002: a passport number is 5 to 17 uppercase" in err
    assert "cards.csv:4: FORM-000003: a 港澳通行证 number is H or M and 8 digits" in err
    assert "cards.csv:5: FORM-000004: no document number" in err
    assert "p1234567" not in err and "H123," not in err
    for name in lane_day.parent.glob(lane_day.name + "*"):   # sealed: no plaintext
        for value in (b"P1234567", b"DOE JANE", b"13800138002"):
            assert value not in name.read_bytes(), (name, value)
    (card,) = [r for r in report(capsys, "register", "--columns", "en", *db) if r["form"]]
    assert (card["id_type"], card["id_number"], card["name"]) == (
        "passport", "P1234567", "DOE JANE")
    assert report(capsys, "forms", *db) == []


def test_a_card_without_a_number_is_completed_by_its_phone(
        lane_day: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cards = tmp_path / "cards.csv"
    cards.write_text("serial,id_number,name,phone\nFORM-000001,,无证人,13800138003\n",
                     encoding="utf-8")
    assert main(["import-forms", str(cards), "--db", str(lane_day),
                 "--seal-to", str(key_pair()[1])]) == 0
    (card,) = [r for r in report(capsys, "register", "--columns", "en", "--db",
                                 str(lane_day)) if r["form"]]
    assert (card["id_type"], card["id_number"], card["name"]) == (
        "other", "FORM-000001", "无证人")
    with sqlite3.connect(lane_day) as con:
        assert con.execute("SELECT count(*) FROM form_data").fetchone() == (1,)


@pytest.mark.parametrize("how", ["--plain", "--seal-to"])
def test_a_paper_card_keeps_its_document_type_imported_either_way(
        how: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A passport, a 台湾 permit and a child under its guardian's card, typed from paper:
    imported `--plain` (a test database's), the passport and the permit ended as 其他证件
    and the child as its guardian, a resident of the guardian's gender."""
    db = str(tmp_path / "central.db")
    lane = Lane("s1", "a")
    lane.add(TubeOpened("F1", 10), shanghai("2026-12-04", 8))
    for n in (1, 2, 3):
        lane.add(SampleRegistered("F1", n, "form", Person("other", f"FORM-00000{n}", "",
                                                          "unknown", ""), False,
                                  form=f"FORM-00000{n}"), shanghai("2026-12-04", 8, n))
    store = open_store(db)
    lane.deliver(store)
    store.close()
    cards = tmp_path / "cards.csv"
    cards.write_text("serial,id_type,guardian_id_type,id_number,name,phone\n"
                     "FORM-000001,护照,,P1234567,DOE JANE,\n"
                     "FORM-000002,台湾通行证,,01234567,林小明,\n"
                     f"FORM-000003,监护人,身份证,{GUARDIAN},王小宝,\n", encoding="utf-8")
    key = ["--seal-to", str(key_pair()[1])] if how == "--seal-to" else ["--plain"]
    assert main(["import-forms", str(cards), "--db", db, *key]) == 0
    rows = report(capsys, "register", "--columns", "en", "--db", db, "--day", "2026-12-04")
    assert [(r["id_type"], r["id_number"], r["name"], r["gender"]) for r in rows] == [
        ("passport", "P1234567", "DOE JANE", "unknown"),
        ("taiwan_pass", "01234567", "林小明", "unknown"),
        ("guardian", GUARDIAN, "王小宝", "unknown")]
