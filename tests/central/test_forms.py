"""People without a card or a code, end to end: one pooled tube holding a card, a QR
code, a number typed on the keypad and a paper information card; the events, the
register, `report forms` before and after the card's data is imported, the missing list."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
import time
from functools import partial
from pathlib import Path

import pytest

from central.cli import main
from central.ingest.collector import Collector
from central.site_facts import ZONE, time_zone
from contract.sealed import keygen
from drivers.sam.text import CardText
from station.core.messages import NumberTyped
from tests.central_keys import key_pair
from tests.conftest import eventually, in_process, write_config
from tests.people import nth_person, written_in
from tools.broker import LocalBroker

pytestmark = pytest.mark.broker
CARD, QR, TYPED, FORM_PERSON = (nth_person(n) for n in (11, 12, 13, 14))


def report(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, str]]:
    capsys.readouterr()
    assert main(["report", *args, "--private-key", str(key_pair()[0])]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))


@pytest.fixture
def pooled(tmp_path: Path, broker: LocalBroker) -> Path:
    db = tmp_path / "central.db"
    collector = Collector(broker.url, db).start()
    assert collector.subscribed.wait(10)
    with in_process(write_config(tmp_path, broker.url, pool_size=4)) as station:
        sim, card = station.devices.scanner_sim, station.devices.card_sim
        assert sim is not None and card is not None
        steps: list[str | CardText | NumberTyped] = [
            "T000001", CardText("resident", CARD, "读卡人", "female", "1990-01-01"),
            json.dumps({"id": QR, "name": "扫码人"}, ensure_ascii=False),
            NumberTyped(TYPED), "FORM-000001", "CMD:BOX"]
        def accepted(n: int) -> bool:
            return station.accepted >= n

        for n, step in enumerate(steps, start=1):
            if isinstance(step, CardText):
                card.present(step)
            elif isinstance(step, str):
                sim.scan(step)
            else:
                station.events.put(step)
            assert eventually(partial(accepted, n)), step  # one at a time
            time.sleep(0.05)
        assert eventually(lambda: collector.stored == station.store.last_seq)
    collector.stop()
    return db


def test_four_ways_in_one_tube_and_a_card_completed_later(
        pooled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--db", str(pooled)]
    machine = report(capsys, "register", "--columns", "en", *db)
    assert [(r["position"], r["source"], r["form"]) for r in machine] == [
        ("1", "card", ""), ("2", "qr", ""), ("3", "manual", ""), ("4", "form", "FORM-000001")]
    assert machine[3]["id_number"] == "FORM-000001" and machine[3]["name"] == ""

    (waiting,) = report(capsys, "forms", *db)
    assert (waiting["试管编号"], waiting["信息卡编号"], waiting["录入状态"]) == \
        ("T000001", "FORM-000001", "待录入")
    box, tube = report(capsys, "reconcile", *db)
    assert (box["信息卡"], box["信息卡待录入"], box["结果"]) == ("1", "1", "一致")
    assert (tube["核对项"], tube["信息卡"], tube["结果"]) == \
        ("试管 T000001", "1", "纸质信息卡 1 张，待录入 1 张")
    roster = tmp_path / "roster.csv"
    # the QR's person typed into the roster in full-width mode: still that person
    roster.write_text("id_number,name\n" + "".join(
        f"{n},x\n" for n in (CARD, written_in(QR), TYPED, FORM_PERSON)), encoding="utf-8")
    assert [r["证件号码"] for r in report(capsys, "missing", "--roster", str(roster), *db)] \
        == [FORM_PERSON]

    typed = tmp_path / "cards.csv"
    wrong = FORM_PERSON[:-1] + ("0" if FORM_PERSON[-1] != "0" else "1")
    typed.write_text("serial,id_number,name,phone\n"
                     f"FORM-000001,{written_in(FORM_PERSON)},纸卡人,13800000000\n"
                     f"FORM-000002,{wrong},错号人,\n", encoding="utf-8")
    seal = ["--seal-to", str(key_pair()[1])]
    assert main(["import-forms", str(typed), *db, *seal]) == 1     # one row refused, named
    err = capsys.readouterr().err
    assert "cards.csv:3: FORM-000002: ID number does not check" in err and wrong not in err
    for name in pooled.parent.glob(pooled.name + "*"):   # the card's person sealed (#28)
        for value in (FORM_PERSON, "纸卡人", "13800000000"):
            assert value.encode() not in name.read_bytes(), (name, value)

    assert report(capsys, "forms", *db) == []
    (completed,) = [r for r in report(capsys, "register", *db) if r["信息卡编号"]]
    assert (completed["证件号码"], completed["姓名"], completed["来源"], completed["状态"]) == \
        (FORM_PERSON, "纸卡人", "纸质信息卡", "有效")
    assert report(capsys, "missing", "--roster", str(roster), *db) == []
    box, tube = report(capsys, "reconcile", *db)
    assert (box["信息卡"], box["信息卡待录入"], tube["信息卡待录入"]) == ("1", "0", "0")


def test_an_import_without_the_columns_says_which(
        pooled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    typed = tmp_path / "cards.csv"
    typed.write_text("serial,name\nFORM-000001,x\n", encoding="utf-8")
    assert main(["import-forms", str(typed), "--db", str(pooled), "--plain"]) == 1
    assert "missing: id_number, phone" in capsys.readouterr().err


def test_a_card_imported_plain_is_read_as_typed_and_said_loudly(
        pooled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    typed = tmp_path / "cards.csv"
    typed.write_text(f"serial,id_number,name,phone\nFORM-000001,{FORM_PERSON},纸卡人,\n",
                     encoding="utf-8")
    assert main(["import-forms", str(typed), "--db", str(pooled), "--plain"]) == 0
    assert "IN PLAINTEXT" in capsys.readouterr().err
    (completed,) = [r for r in report(capsys, "register", "--db", str(pooled))
                    if r["信息卡编号"]]
    assert (completed["证件号码"], completed["姓名"]) == (FORM_PERSON, "纸卡人")


def test_a_sealed_card_that_does_not_open_is_named_not_printed(
        pooled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Sealed to another central's key: the register names the card, shows 未能解密."""
    typed = tmp_path / "cards.csv"
    typed.write_text(f"serial,id_number,name,phone\nFORM-000001,{FORM_PERSON},纸卡人,\n",
                     encoding="utf-8")
    _, other, _ = keygen(tmp_path, "another-central")
    assert main(["import-forms", str(typed), "--db", str(pooled), "--seal-to", str(other)]) == 0
    capsys.readouterr()
    assert main(["report", "register", "--db", str(pooled),
                 "--private-key", str(key_pair()[0])]) == 3
    out, err = capsys.readouterr()
    (card,) = [r for r in csv.DictReader(io.StringIO(out.lstrip("\ufeff"))) if r["信息卡编号"]]
    assert card["姓名"] == "（未能解密）" and FORM_PERSON not in out
    assert err.count("1 sealed person not opened, their rows say 未能解密 (the first: "
                     "paper card FORM-000001: sealed to key 'another-central'") == 1
    # The recall list reads its tubes' own events and cards: the card named once there too.
    now = dt.datetime.now(time_zone(ZONE)).strftime("%Y-%m-%d %H:%M")
    results = tmp_path / "lis.csv"
    results.write_text(f"试管编号,检测结果,检测机构,检测时间\nT000001,阳性,市一院,{now}\n",
                       encoding="utf-8-sig")
    assert main(["import-results", str(results), "--db", str(pooled)]) == 0
    capsys.readouterr()
    assert main(["report", "positives", "--no-mark", "--db", str(pooled),
                 "--private-key", str(key_pair()[0])]) == 3
    out, err = capsys.readouterr()
    (card,) = [r for r in csv.DictReader(io.StringIO(out.lstrip("\ufeff")))
               if r["姓名"] == "（未能解密）"]
    assert card["检测结果"] == "阳性" and FORM_PERSON not in out
    assert err.count("1 sealed person not opened, their rows say 未能解密 (the first: "
                     "paper card FORM-000001: sealed to key 'another-central'") == 1


def test_a_wrong_key_to_seal_to_is_named_and_nothing_is_imported(
        pooled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    typed = tmp_path / "cards.csv"
    typed.write_text(f"serial,id_number,name,phone\nFORM-000001,{FORM_PERSON},纸卡人,\n",
                     encoding="utf-8")
    private, public = key_pair()
    _, second, _ = keygen(tmp_path, "another-central")
    two = tmp_path / "two.jwk"
    two.write_text(json.dumps({"keys": [json.loads(public.read_text()),
                                        json.loads(second.read_text())]}), encoding="utf-8")
    said = {}
    for key in (private, two, tmp_path / "absent.jwk"):
        capsys.readouterr()
        assert main(["import-forms", str(typed), "--db", str(pooled),
                     "--seal-to", str(key)]) == 1
        said[key] = capsys.readouterr().err
    assert f"{private}: key central-test: holds the private part (d)" in said[private]
    assert f"{two}: holds 2 keys" in said[two]
    assert f"{tmp_path / 'absent.jwk'}: cannot read" in said[tmp_path / "absent.jwk"]
    with sqlite3.connect(pooled) as db:
        assert db.execute("SELECT count(*) FROM form_data").fetchone() == (0,)
