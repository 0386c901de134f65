"""No silent loss between the broker and central.

A collector that is away (restarted, redeployed, killed) while stations go on working,
and a station switched off before it comes back: every event still reaches the database,
through the collector's persistent session or, where that is gone too, through the
station's announced high-water mark and a replay.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from paho.mqtt import publish

import contract
from central.ingest import client_id
from central.ingest.collector import Collector
from central.ingest.session_rules import SessionTakenOver
from drivers.scanner.sim import ScannerSim
from station import replay
from station.runner import Station
from tests.conftest import CollectorProcess, eventually, in_process, write_config
from tests.people import nth_person
from tools.broker import LocalBroker
from tools.watch import Watcher

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def stored_seqs(db: Path) -> list[int]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return [seq for (seq,) in conn.execute("SELECT seq FROM events ORDER BY seq")]


@contextlib.contextmanager
def running(collector: Collector) -> Iterator[Collector]:
    """A collector's run loop (gap checks every 0.1 s) in a thread, stopped after."""
    stop = threading.Event()
    runner = threading.Thread(target=collector.run, args=(stop,), kwargs={"tick_s": 0.1})
    runner.start()
    try:
        yield collector
    finally:
        stop.set()
        runner.join(10)


@contextlib.contextmanager
def collector_gone(tmp_path: Path, broker: LocalBroker, db: Path,
                   pool_size: int) -> Iterator[tuple[Station, ScannerSim]]:
    """A station whose first event a collector stored; then that collector left with a
    clean session, so the broker keeps nothing for it. Yields the station and its scanner."""
    first = Collector(broker.url, db).start()
    assert first.subscribed.wait(10)
    with in_process(write_config(tmp_path, broker.url, pool_size=pool_size)) as station:
        sim = station.devices.scanner_sim
        assert sim is not None
        sim.scan("T000001")
        assert eventually(lambda: first.stored == 1)
        first.stop()
        yield station, sim


def past_a_feeding(station: Station, watcher: Watcher, broker: LocalBroker) -> None:
    """A positive fence for "nothing left the station": its uplink has fed (read the
    outbox and published what it may) since this call began, and anything that feeding
    published has reached `watcher`.

    The uplink refuses a malformed replay command at once, collector or not. Two of them,
    the second sent when the first's refusal has arrived, are read in two turns of its
    loop, and each turn feeds before it reads: a feeding lies between them, after all
    that was recorded before this call. One connection's QoS 1 messages arrive in the
    order sent, so an event that feeding published arrives before the second refusal."""
    root = contract.station_root(station.config.station.site, station.config.station.id)
    for _ in range(2):
        asked = uuid.uuid4().hex

        def refused(w: Watcher, asked: str = asked) -> bool:
            return any(m.body.get("request_id") == asked for m in w.messages
                       if m.topic == f"{root}/reply/replay")
        deadline = time.monotonic() + 20
        while True:   # sent again while unanswered: the uplink may not be subscribed yet
            publish.single(f"{root}/cmd/replay", json.dumps({"request_id": asked}), qos=1,
                           hostname="127.0.0.1", port=broker.port)
            if watcher.wait_for(refused, timeout=1.0):
                break
            assert time.monotonic() < deadline, "the station never answered the fence"


@pytest.fixture
def collectors(tmp_path: Path) -> Iterator[list[CollectorProcess]]:
    started: list[CollectorProcess] = []
    yield started
    for c in started:
        if c.proc.poll() is None:
            c.proc.kill()
            c.proc.wait()


@pytest.mark.parametrize(("how", "group"), [(signal.SIGTERM, ""), (signal.SIGKILL, "central")])
def test_events_published_while_the_collector_is_away_reach_it_after_its_restart(
        how: signal.Signals, group: str, tmp_path: Path, broker: LocalBroker,
        collectors: list[CollectorProcess]) -> None:
    db, state = tmp_path / "central.db", tmp_path / "collector-state"

    def collector() -> CollectorProcess:
        started = CollectorProcess(broker.url, db, state, group)
        collectors.append(started)
        assert started.subscribed.wait(20), "".join(started.lines)
        return started

    first = collector()
    with in_process(write_config(tmp_path, broker.url, pool_size=3)) as station:
        sim = station.devices.scanner_sim
        assert sim is not None
        sim.scan("T000001")
        sim.scan(nth_person(1))
        assert eventually(lambda: stored_seqs(db) == [1, 2])
        first.end(how)                                   # away: a restart, or a crash
        for code in (nth_person(2), nth_person(3),       # the tube fills and seals
                     "T000002", nth_person(4), "CMD:SEAL", "CMD:BOX"):
            sim.scan(code)
        # 9 events: 3 registrations, 2 tubes opened and sealed, and the box.
        assert eventually(lambda: station.store.last_seq == 9)
        assert eventually(lambda: station.uplink.acked_total == 9)  # the broker took them
        recorded = station.store.last_seq
    # The station is off: nothing later will show a gap. The collector comes back.
    second = collector()
    assert "resumed session" in "".join(second.lines)
    deadline = time.monotonic() + 60
    while stored_seqs(db) != list(range(1, recorded + 1)):
        assert time.monotonic() < deadline, f"stored {stored_seqs(db)} of 1..{recorded}"
        time.sleep(0.1)
    second.end(signal.SIGTERM)


def test_a_lost_tail_is_found_by_the_high_water_mark_and_replayed(
        tmp_path: Path, broker: LocalBroker) -> None:
    """The worst case: the broker took the tail for nobody (no session kept it), and no
    later event follows. The station's status says how far it got; the collector asks."""
    db = tmp_path / "central.db"
    with collector_gone(tmp_path, broker, db, pool_size=3) as (station, sim):
        for code in (nth_person(1), nth_person(2), "CMD:SEAL"):
            sim.scan(code)
        # The broker took the tail, for nobody: no session was kept for the collector.
        assert eventually(lambda: station.store.last_seq == 4 and
                          station.uplink.acked_total == 4)
        with running(Collector(broker.url, db, grace_s=0.2, retry_s=1.0)) as second:
            assert eventually(lambda: second.stored == 3, timeout=30)
            assert second.replays >= 1
    assert stored_seqs(db) == [1, 2, 3, 4]


def test_a_collector_keeps_its_client_id_and_a_second_one_with_it_is_refused(
        tmp_path: Path) -> None:
    first = client_id.claim(tmp_path, "central", "1")
    with pytest.raises(client_id.ClientIdInUse, match=first.client_id):
        client_id.claim(tmp_path, "central", "1")          # the same instance, started twice
    other = client_id.claim(tmp_path, "central", "2")
    assert other.client_id != first.client_id              # instances differ
    kept = first.client_id
    first.release()
    again = client_id.claim(tmp_path, "central", "1")      # a restart: the same id
    assert again.client_id == kept
    again.release()
    other.release()


def test_a_collector_whose_session_is_taken_over_stops_instead_of_fighting(
        tmp_path: Path, broker: LocalBroker) -> None:
    """Two hosts started with one --client-id: the broker hands the session to the newer;
    the older stops with a clear error rather than fight for it at every reconnect."""
    older = Collector(broker.url, tmp_path / "a.db", client_id="natest-collector-dup")
    stop = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            older.run(stop, tick_s=0.1)
        except SessionTakenOver as exc:
            failure.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    assert older.subscribed.wait(10)
    newer = Collector(broker.url, tmp_path / "b.db", client_id="natest-collector-dup").start()
    try:
        assert newer.subscribed.wait(10)
        runner.join(10)
        assert not runner.is_alive()
        assert len(failure) == 1 and "natest-collector-dup" in str(failure[0])
        # The older may take the session back once, on its reconnect, before it finds the
        # newer claim: then it gives way for good, and the newer keeps the connection.
        # Fences, not a wait: the older's client has ended (it can connect no more), and
        # a round trip on the newer's connection comes after any eviction the older made
        # and after the newer's reconnection (a publication unacknowledged is sent again).
        assert not older.client._thread.is_alive()
        assert newer.client.publish("fence/outside-the-subscription", b"").wait_for_publish(10)
        assert newer.connections <= 2 and newer.client.is_connected()
    finally:
        stop.set()
        newer.stop()


def test_a_range_cut_by_the_stations_limit_is_asked_for_again_from_where_it_stopped(
        tmp_path: Path, broker: LocalBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    """A station's limit cuts a long range; the collector gets the rest all the same."""
    monkeypatch.setattr(replay, "LIMIT", 2)
    db = tmp_path / "central.db"
    with collector_gone(tmp_path, broker, db, pool_size=10) as (station, sim):
        for n in range(1, 6):
            sim.scan(nth_person(n))
        assert eventually(lambda: station.uplink.acked_total == 6)
        with running(Collector(broker.url, db, grace_s=0.2, retry_s=60)) as second:
            assert eventually(lambda: second.stored == 5, timeout=30)
    assert second.replays == 3       # 2..6 at 2 seqs a command: 2-3, 4-5, 6
    assert stored_seqs(db) == [1, 2, 3, 4, 5, 6]


def test_require_central_holds_events_until_a_collector_of_the_group_is_there(
        tmp_path: Path, broker: LocalBroker) -> None:
    """Sparkplug's idea: "delivered" means a collector was there to take it. Everything
    is recorded meanwhile; nothing is lost when the group comes and goes."""
    db = tmp_path / "central.db"
    config = write_config(tmp_path, broker.url, pool_size=10)
    with config.open("a") as f:
        f.write('require_central = "city"\n')      # appended to [mqtt], the last section
    events = Watcher(broker.url, topic=contract.ALL_TOPICS).start()
    with in_process(config) as station:
        sim = station.devices.scanner_sim
        assert sim is not None
        for code in ("T000001", nth_person(1), nth_person(2)):
            sim.scan(code)
        assert eventually(lambda: station.store.last_seq == 3)
        past_a_feeding(station, events, broker)   # fed since: still nothing may leave
        assert events.events() == [] and station.uplink.acked_total == 0
        collector = Collector(broker.url, db, "city", client_id="c-1", announce=True)
        collector.start()
        assert eventually(lambda: stored_seqs(db) == [1, 2, 3], timeout=30)
        collector.stop()                          # the group says offline: hold again
        assert eventually(lambda: "offline" in station.uplink.central_states())
        sim.scan(nth_person(3))
        assert eventually(lambda: station.store.last_seq == 4)
        past_a_feeding(station, events, broker)
        assert {e["seq"] for e in events.events()} == {1, 2, 3}
        assert station.uplink.acked_total == 3
        again = Collector(broker.url, db, "city", client_id="c-1", announce=True).start()
        assert eventually(lambda: stored_seqs(db) == [1, 2, 3, 4], timeout=30)
        again.stop()
    announced = [m.body for m in events.messages if "/central/city/state/" in m.topic]
    states = jsonschema.Draft7Validator(contract.schema("central-state.schema.json"))
    assert announced and all(states.is_valid(body) for body in announced)
    assert {body["state"] for body in announced} == {"online", "offline"}
    events.stop()
