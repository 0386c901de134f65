"""Everything the station publishes matches the contract files, on a real broker."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from drivers.sam.text import CardText
from station.broker import LocalBroker
from station.config import load
from station.messages import DeviceFaulted, DeviceRecovered
from station.runner import Station
from station.watch import Watcher, delivery_problems
from tests.conftest import write_config
from tests.people import LI, WANG, ZHANG, ZHAO

CONTRACT = Path(__file__).parent.parent / "station" / "contract"


def schema(name: str) -> jsonschema.Draft202012Validator:
    document = json.loads((CONTRACT / name).read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    return jsonschema.Draft202012Validator(
        document, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


EVENTS, STATUS = schema("events.schema.json"), schema("status.schema.json")


@pytest.fixture
def station(tmp_path: Path, broker: LocalBroker) -> Iterator[Station]:
    config = load(write_config(tmp_path, broker.url, pool_size=3))
    running = Station(config)
    stop = threading.Event()
    core = threading.Thread(target=running.run, args=(stop,))
    core.start()
    assert running.ready.wait(10) and running.devices.scanner.opened.wait(10)
    yield running
    stop.set()
    core.join(10)


def act(station: Station, *inputs: Any) -> None:
    """Scan or present each input and wait until the station has signalled it."""
    lights, sim = station.devices.lights, station.devices.scanner_sim
    assert sim is not None
    for item in inputs:
        before = len(lights.history)  # type: ignore[attr-defined]
        if isinstance(item, CardText):
            assert station.devices.card_sim is not None
            station.devices.card_sim.present(item)
        elif isinstance(item, str):
            sim.scan(item)
        else:
            station.events.put(item)
        deadline = time.monotonic() + 10
        while len(lights.history) == before:  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, f"no signal for {item!r}"
            time.sleep(0.005)


def test_every_event_and_status_matches_the_schemas(station: Station,
                                                     broker: LocalBroker) -> None:
    watcher = Watcher(broker.url).start()
    card = CardText("resident", ZHAO, "赵敏", "female", "2001-02-28")
    act(station,
        "T000001", "T000002",                       # tube.opened, tube.released
        card, json.dumps({"id": LI, "name": "李四"}), ZHANG,  # full: tube.sealed (full)
        "T000003", WANG, "CMD:UNDO",                # sample.cancelled
        WANG, "CMD:SEAL",                           # tube.sealed (operator)
        "T000004", LI, "CMD:VOID",                  # tube.voided
        "CMD:BOX",                                  # box.closed
        DeviceFaulted("printer", "paper out"), DeviceRecovered("printer"))
    last = station.store.last_seq
    assert watcher.wait_for(lambda w: w.has_seqs_up_to(last))
    events = watcher.events()
    types = {e["type"] for e in events}
    assert types == {"tube.opened", "tube.released", "sample.registered", "sample.cancelled",
                     "tube.sealed", "tube.voided", "box.closed", "device.fault",
                     "device.recovered"}
    for event in events:
        EVENTS.validate(event)
    statuses = watcher.statuses()
    assert statuses and statuses[0]["state"] == "online"
    assert statuses[-1]["sam_id"] == "05010000000000001234567800000001"  # the emulator's
    for status in statuses:
        STATUS.validate(status)
    assert delivery_problems(events) == []
    watcher.stop()


def test_the_schema_rejects_a_payload_off_contract() -> None:
    good = {"v": 1, "id": "x", "site": "s", "station": "l", "seq": 1, "session": 1,
            "ts": "2026-11-22T08:00:00.000Z", "clock_synced": True, "type": "tube.sealed",
            "data": {"tube": "T000001", "count": 3, "reason": "full"}}
    EVENTS.validate(good)
    for broken in ({**good, "seq": 0}, {**good, "data": {"tube": "T1", "count": 3}},
                   {**good, "data": {**good["data"], "reason": "tired"}},
                   {**good, "type": "tube.lost"}):
        with pytest.raises(jsonschema.ValidationError):
            EVENTS.validate(broken)


def test_delivery_check_catches_gaps_reorders_and_changed_duplicates() -> None:
    def ev(seq: int, id_: str, data: str = "") -> dict[str, Any]:
        return {"id": id_, "seq": seq, "data": data}
    assert delivery_problems([ev(1, "a"), ev(2, "b"), ev(1, "a")]) == []
    assert delivery_problems([ev(1, "a"), ev(3, "c")]) != []
    assert delivery_problems([ev(2, "b"), ev(1, "a")]) != []
    assert delivery_problems([ev(1, "a"), ev(1, "a", "changed")]) != []
