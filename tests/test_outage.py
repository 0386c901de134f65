"""Nothing accepted is lost: broker outages, SIGKILL at any instant, restarts."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import threading
from pathlib import Path

import pytest

from drivers.sim import ScannerSim
from station.broker import LocalBroker
from station.watch import Watcher, delivery_problems
from tests.conftest import StationProcess, write_config
from tests.people import nth_person

pytestmark = pytest.mark.slow

ACCEPTED = r"(accepted|one_left|sealed|duplicate): "


def people(count: int, start: int = 0) -> list[str]:
    return [nth_person(n) for n in range(start + 1, start + count + 1)]


def outbox(db: Path) -> list[dict]:
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
    registered = {e["data"]["person"]["id_number"] for e in events
                  if e["type"] == "sample.registered"}
    assert registered == set(people(7))
    sessions = sorted({e["session"] for e in events})
    assert sessions == [1, 2]


def test_sigkill_at_random_instants_keeps_every_accepted_record(
        tmp_path: Path, scanner: ScannerSim, spawn: type[StationProcess]) -> None:
    """Kill the station mid-burst several times; every 'accepted' the operator saw is in
    the database, seq has no gap and no repeat, and SQLite's integrity check passes."""
    rng = random.Random(20261122)
    config = write_config(tmp_path, "mqtt://127.0.0.1:9", scanner.port, pool_size=10,
                          duplicate_today="warn")
    db = tmp_path / "data" / "station.db"
    accepted_total = 0
    for round_ in range(5):
        station = spawn(config)
        station.wait_for(r"ready \(session")
        stop = threading.Event()

        def burst(base: int = round_ * 1000, stop: threading.Event = stop) -> None:
            n = 0
            while not stop.is_set():
                if n % 10 == 0:
                    scanner.scan(f"T{base + n:06d}")
                scanner.scan(people(1, start=base + n)[0])
                n += 1
                stop.wait(0.002)

        feeder = threading.Thread(target=burst)
        feeder.start()
        station.wait_for(ACCEPTED, rng.randint(3, 40))
        station.kill()
        stop.set()
        feeder.join()
        # What the operator was told: "accepted … at TUBE/POSITION", logged after commit.
        told = {m.groups() for ln in station.lines
                if (m := re.search(r" (?:accepted|one_left|duplicate): .* at (T\d+)/(\d+)", ln))}
        accepted_total += len(told)
        rows = outbox(db)
        seqs = [r["seq"] for r in rows]
        assert seqs == list(range(1, len(seqs) + 1)), "seq gap or repeat"
        recorded = {(r["data"]["tube"], str(r["data"]["position"])) for r in rows
                    if r["type"] == "sample.registered"}
        assert told <= recorded, f"accepted but not recorded: {told - recorded}"
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert accepted_total >= 5
