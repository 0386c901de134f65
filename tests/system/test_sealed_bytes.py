"""What a stolen lane computer, a copied broker or a leaked database would reveal (#28):
nothing. A lane registers people three ways (ID cards with their registered address and a phone
typed after the read, pre-registration codes with a phone and an address, numbers typed
with a phone) and, since contract 1.5, by other documents (a passport from a code with its
birth date, one typed with a phone, a child under its guardian's card), its
events reach a broker that queues them for an absent persistent subscriber and two
collectors (SQLite, PostgreSQL); then every byte under the station's data directory,
the broker's persistence file, central's SQLite file (with its WAL) and a pg_dump of its
PostgreSQL database are searched for every ID number, name (UTF-8, GBK, UTF-16), phone,
address, birth date and ID number's mask used. The same search over a lab bench's run
([privacy] seal = false) finds them: the search would see them if they were there."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import contract
from central.ingest.collector import Collector
from contract.events import Person
from drivers.sam.text import CardText
from station.core.identity import mask_id
from station.core.messages import NumberTyped
from station.runner import Station
from tests.conftest import eventually, in_process, write_config
from tests.lane_days import person
from tests.people import nth_person
from tools.broker import LocalBroker
from tools.central.postgres import bindir

ENCODINGS = ("utf-8", "gb18030", "utf-16-le", "utf-16-be")


def secrets_of(people: list[Person]) -> dict[bytes, str]:
    """Every personal value, in every encoding a file could hold it in: bytes → what."""
    found: dict[bytes, str] = {}
    for p in people:
        # A birth date (either form) and an ID number's mask narrow a thief's guesses to a
        # few 10^4 once a digest can be tested (#39): neither is on the card either.
        for what, value in (("ID number", p.id_number), ("name", p.name), ("phone", p.phone),
                            ("address", p.address), ("card address", p.card_address),
                            ("birth date", p.birth), ("birth date", p.birth.replace("-", "")),
                            ("masked ID number", mask_id(p.id_number))):
            for encoding in ENCODINGS:
                if value:
                    found.setdefault(value.encode(encoding), f"{what} {encoding}")
    return found


def leaks(blob: bytes, secrets: dict[bytes, str]) -> list[str]:
    return sorted({what for value, what in secrets.items() if value in blob})


def files_under(folder: Path) -> Iterator[Path]:
    return (p for p in sorted(folder.rglob("*")) if p.is_file())


def away_subscriber(broker: LocalBroker) -> None:
    """A persistent session that subscribes and leaves: the broker queues every event for
    it, and writes them into its persistence file when it stops."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="away-subscriber",
                         clean_session=False)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    info = client.subscribe(contract.ALL_TOPICS, qos=1)
    assert eventually(lambda: info[0] == mqtt.MQTT_ERR_SUCCESS and client.is_connected())
    client.loop_stop()
    client.disconnect()


def a_lane_day(tmp_path: Path, broker: LocalBroker, dbs: list[str], *, sealed: bool,
               each: int) -> list[Person]:
    """`each` people by card, by code and by keypad, delivered to collectors into `dbs`;
    the people registered."""
    collectors = [Collector(broker.url, db).start() for db in dbs]
    assert all(c.subscribed.wait(10) for c in collectors)
    cards = [person(n) for n in range(1, each + 1)]
    codes = [person(n) for n in range(100, 100 + each)]
    typed = [person(n) for n in range(200, 200 + each)]
    documents = [document_holder(n) for n in range(300, 300 + each)]   # contract 1.5
    # The lane asks for phones: each card-holder's is typed after the read (#38).
    config = write_config(tmp_path, broker.url, sealed=sealed, pool_size=10, phone="ask")
    with in_process(config) as station:
        sim, card_sim = station.devices.scanner_sim, station.devices.card_sim
        assert sim is not None and card_sim is not None
        steps = 0

        def accepted() -> None:   # each step committed before the next
            nonlocal steps
            steps += 1
            assert eventually(lambda: station.accepted >= steps), station.accepted

        for n, someone in enumerate([*cards, *codes, *typed, *documents]):
            if n % 10 == 0:
                sim.scan(f"T{n // 10 + 1:06d}")
                accepted()
            if someone in cards:
                card_sim.present(CardText("resident", someone.id_number, someone.name,
                                          someone.gender, someone.birth,
                                          address=someone.card_address))
                assert eventually(lambda: station.state.held is not None)
                card_sim.lift()
                station.events.put(NumberTyped(someone.phone))
                accepted()
            elif someone in codes:
                sim.scan(json.dumps({"id": someone.id_number, "name": someone.name,
                                     "phone": someone.phone, "address": someone.address},
                                    ensure_ascii=False))
                accepted()
            elif someone in typed:
                station.events.put(NumberTyped(f"{someone.id_number}+{someone.phone}"))
                accepted()
            else:
                registered(station, someone)
                accepted()
        if station.state.tube is not None:   # a tube not full: sealed by hand
            sim.scan("CMD:SEAL")
            accepted()
        sim.scan("CMD:BOX")
        accepted()
        last = station.store.last_seq
        assert eventually(lambda: all(c.stored >= last for c in collectors))
    for collector in collectors:
        collector.stop()
    return [*cards, *codes, *typed, *documents]


def document_holder(n: int) -> Person:
    """The n-th of a passport holder from a code, one typed on the keyboard, and a child
    under its guardian's card (contract 1.5): each number, name, phone, birth and address
    is searched for like a card-holder's."""
    phone, birth = f"1370000{n:04d}", f"1985-{n % 12 + 1:02d}-{n % 28 + 1:02d}"
    match n % 3:
        case 0:
            return Person("passport", f"E{n:08d}", f"SMITH JOHN {n}", "male", birth,
                          phone=phone, address=f"和平路{n}号")
        case 1:
            return Person("passport", f"G{n:08d}", "", "unknown", "", phone=phone)
    return Person("guardian", nth_person(n), f"小宝{n}", "unknown", f"2025-{birth[5:]}",
                  phone=phone, guardian_id_type="resident")


def registered(station: Station, p: Person) -> None:
    sim = station.devices.scanner_sim
    assert sim is not None
    if p.id_type == "guardian":
        sim.scan(json.dumps({"guardian_id": p.id_number, "guardian_id_type": "身份证",
                             "name": p.name, "birth": p.birth, "phone": p.phone},
                            ensure_ascii=False))
    elif p.name:
        sim.scan(json.dumps({"id_type": "护照", "id": p.id_number, "name": p.name,
                             "gender": "男", "birth": p.birth, "phone": p.phone,
                             "address": p.address}, ensure_ascii=False))
    else:
        station.events.put(NumberTyped(f"{p.id_number}+{p.phone}", "passport"))


def pg_dump(dsn: str) -> bytes:
    binary = bindir()
    assert binary is not None
    return subprocess.run([str(binary / "pg_dump"), "--no-owner", dsn], check=True,
                          capture_output=True).stdout


def test_nothing_personal_on_the_card_the_broker_or_central(
        tmp_path: Path, pg_db: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    central = tmp_path / "central.db"
    with LocalBroker(persistent=True) as broker:
        away_subscriber(broker)
        people = a_lane_day(tmp_path, broker, [str(central), pg_db], sealed=True, each=20)
        broker.stop()   # mosquitto writes its persistence file as it stops
        copied = (broker.dir / "mosquitto.db").read_bytes()
    secrets = secrets_of(people)
    assert len(people) == 80 and len(secrets) > 60 * 8   # eight values each, some encodings
    station_files = list(files_under(tmp_path / "data"))
    assert any(p.name == "station.db" for p in station_files)
    found = {str(p): leaks(p.read_bytes(), secrets) for p in station_files}
    found["mosquitto.db"] = leaks(copied, secrets)
    for path in files_under(tmp_path):
        if path.name.startswith("central.db"):
            found[str(path)] = leaks(path.read_bytes(), secrets)
    found["pg_dump"] = leaks(pg_dump(pg_db), secrets)
    found["log"] = leaks(caplog.text.encode(), secrets)
    assert {where: what for where, what in found.items() if what} == {}
    # The broker's file does hold the events queued for the absent subscriber.
    assert b"sample.registered.encrypted" in copied


def test_the_search_finds_a_lab_benchs_plaintext(tmp_path: Path) -> None:
    """The control: persons written plain are found by the very same search."""
    with LocalBroker(persistent=True) as broker:
        away_subscriber(broker)
        people = a_lane_day(tmp_path, broker, [str(tmp_path / "central.db")], sealed=False,
                            each=2)
        broker.stop()
        copied = (broker.dir / "mosquitto.db").read_bytes()
    secrets = secrets_of(people)
    card = b"".join(p.read_bytes() for p in files_under(tmp_path / "data"))
    for blob in (card, copied):
        assert {"ID number utf-8", "name utf-8", "phone utf-8", "address utf-8",
                "card address utf-8"} <= set(leaks(blob, secrets))
        # The phones typed after a card read were recorded: the search above looks for them.
        assert all(p.phone.encode() in blob for p in people[:2])
        # So were the documents of 1.5: the search looks for their numbers too.
        assert all(p.id_number.encode() in blob for p in people if p.id_type == "passport")
