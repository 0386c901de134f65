"""A card-holder's phone typed after the read (#38), end to end: two lanes on simulated
devices driven as a technician drives them (`station sim scan|card|key`), one asking for
phones and one requiring them, a real mosquitto and a collector into SQLite or a real
PostgreSQL, then `natest-central report register --private-key`: the phone typed is on
the register beside its person, the person without one has none, and the requiring lane
recorded nothing while it asked."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from central.cli import main as central
from central.ingest.collector import Collector
from station.cli import main as station_cli
from tests.central_keys import key_pair
from tests.conftest import eventually, in_process, write_config
from tests.lane_days import person
from tools.broker import LocalBroker

pytestmark = pytest.mark.broker
A, B, C = person(1), person(2), person(3)   # each with a phone of their own


def lane(tmp_path: Path, url: str, name: str, policy: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    config = write_config(folder, url, pool_size=10, phone=policy)
    config.write_text(config.read_text().replace('id = "lane-07"', f'id = "{name}"'))
    return config


def sim(capsys: pytest.CaptureFixture[str], config: Path, action: str, value: str = "",
        name: str = "") -> str:
    """One `station sim` line; what the operator was shown (light, screen, voice, log)."""
    capsys.readouterr()
    args = ["sim", action, *([value] if value else []), "--config", str(config),
            *(["--name", name] if name else [])]
    assert station_cli(args) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def register(capsys: pytest.CaptureFixture[str], db: str) -> list[dict[str, str]]:
    capsys.readouterr()
    assert central(["report", "register", "--db", db, "--private-key",
                    str(key_pair()[0]), "--columns", "en"]) == 0, capsys.readouterr().err
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))


def test_a_phone_typed_after_the_card_reaches_the_register(
        tmp_path: Path, central_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    with LocalBroker() as broker:
        collector = Collector(broker.url, central_db).start()
        assert collector.subscribed.wait(10)
        asks, requires = (lane(tmp_path, broker.url, "lane-ask", "ask"),
                          lane(tmp_path, broker.url, "lane-req", "require"))
        with in_process(asks) as station:
            assert "light   tube_open" in sim(capsys, asks, "scan", "T000001")
            shown = sim(capsys, asks, "card", A.id_number, A.name)
            assert "light   asking" in shown and "voice   请输入电话\n" in shown
            assert "screen  已读卡，未登记：请输入电话并回车（没有电话直接回车）" in shown
            assert station.store.last_seq == 1   # the tube's opening only: nothing held
            assert "light   accepted" in sim(capsys, asks, "key", A.phone)
            assert "light   asking" in sim(capsys, asks, "card", B.id_number, B.name)
            assert "voice   第二位" in sim(capsys, asks, "key")   # Enter alone: no phone
            sim(capsys, asks, "scan", "CMD:SEAL")
            done = station.store.last_seq
        with in_process(requires) as station:
            sim(capsys, requires, "scan", "T000002")
            shown = sim(capsys, requires, "card", C.id_number, C.name)
            assert "light   asking" in shown and "voice   必须输入电话\n" in shown
            assert "screen  已读卡，未登记：必须输入电话，输入后回车" in shown
            refused = sim(capsys, requires, "key")
            assert "light   refused" in refused and "voice   请先输入电话\n" in refused
            refused = sim(capsys, requires, "key", C.phone[:10])
            assert "voice   电话号码有误\n" in refused and "手机号11位" in refused
            assert "has 10 characters: a mobile number has 11 digits" in refused
            assert station.store.last_seq == 1   # asked twice, refused twice: nothing
            assert "voice   第一位" in sim(capsys, requires, "key", C.phone)
            sim(capsys, requires, "scan", "CMD:SEAL")
            done += station.store.last_seq
        assert eventually(lambda: collector.stored >= done, timeout=20), collector.stored
        collector.stop()
    rows = {r["id_number"]: r for r in register(capsys, central_db)}
    assert {n: (r["phone"], r["source"], r["station"]) for n, r in rows.items()} == {
        A.id_number: (A.phone, "card", "lane-ask"), B.id_number: ("", "card", "lane-ask"),
        C.id_number: (C.phone, "card", "lane-req")}
