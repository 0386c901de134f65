"""Broker stopped mid-session, station killed while offline, restarted, broker back:
every registration arrives (the power-cut suite is in test_faults.py)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from drivers.scanner.sim import ScannerSim
from tests.central_keys import people_in
from tests.conftest import write_config
from tests.people import nth_person
from tools.broker import LocalBroker
from tools.station_process import StationProcess
from tools.watch import Watcher, delivery_problems

pytestmark = pytest.mark.slow

ACCEPTED = r"(accepted|one_left|sealed|duplicate): "


def people(count: int, start: int = 0) -> list[str]:
    return [nth_person(n) for n in range(start + 1, start + count + 1)]


def outbox(db: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        return [json.loads(p) for (p,) in conn.execute("SELECT payload FROM outbox ORDER BY seq")]


def test_broker_outage_and_sigkill_while_offline_lose_nothing(
        tmp_path: Path, broker: LocalBroker, scanner: ScannerSim,
        spawn: type[StationProcess]) -> None:
    config = write_config(tmp_path, broker.url, scanner.port, pool_size=5)
    # A durable central subscriber: its session survives the broker's restart.
    watcher = Watcher(broker.url, client_id="central-1").start()
    station = spawn(config)
    station.wait_for(r"connected to")

    scanner.scan("T000001")
    for person in people(3):
        scanner.scan(person)
    station.wait_for(ACCEPTED, 3)

    broker.stop()                                   # the network goes
    station.wait_for(r"unreachable|dropped")
    for person in people(2, start=3):               # T000001 is full and seals itself
        scanner.scan(person)
    scanner.scan("T000002")
    scanner.scan(people(1, start=5)[0])
    station.wait_for(ACCEPTED, 6)
    station.kill()                                  # and the power, while offline

    station = spawn(config)                # restart, broker still down
    station.wait_for(r"resumed with tube T000002 open \(1 samples\)")
    scanner.scan(people(1, start=6)[0])
    station.wait_for(ACCEPTED)

    broker.start()                                  # the network comes back
    db = tmp_path / "data" / "station.db"
    last = outbox(db)[-1]["seq"]
    assert watcher.wait_for(lambda w: w.has_seqs_up_to(last), timeout=30)
    assert station.stop() == 0
    watcher.stop()

    events = watcher.events()
    assert delivery_problems(events) == []
    registered = {person["id_number"] for person in people_in(events)}
    assert registered == set(people(7))
    sessions = sorted({e["session"] for e in events})
    assert sessions == [1, 2]
