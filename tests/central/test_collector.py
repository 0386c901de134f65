"""The reference collector on a real broker: idempotent storage, replay of gaps,
quarantine, presence. A station session is collected end to end."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from paho.mqtt import publish

from central.ingest import writer
from central.ingest.collector import Collector
from central.reports.projection import project
from central.store.event_store import Batch, EventStore, Written
from central.store.sqlite import SqliteEventStore
from contract.events import DEVICES, DeviceRecovery
from tests.burst import burst
from tests.central.test_event_store import arrived
from tests.conftest import eventually, in_process, write_config
from tests.people import LI, WANG, ZHANG
from tools.broker import LocalBroker
from tools.watch import Watcher


def sqlite(collector: Collector) -> sqlite3.Connection:
    """The collector's own SQLite database, to look inside."""
    assert isinstance(collector.store, SqliteEventStore)
    return collector.store.conn

ROOT = "natest/v1/test-site/lane-09"


def event(seq: int, session: int = 1) -> dict[str, object]:
    return {"v": 1, "id": str(uuid.uuid4()), "site": "test-site", "station": "lane-09",
            "seq": seq, "session": session, "ts": "2026-11-22T08:00:00.000Z",
            "clock_synced": True, "type": "device.recovered", "data": {"device": "printer"}}


def status(state: str, connection: int) -> dict[str, object]:
    return {"v": 1, "state": state, "site": "test-site", "station": "lane-09", "session": 1,
            "connection": connection, "backlog": 0, "devices": {"printer": "ok"},
            "sam_id": "", "version": "0.1.0", "ts": "2026-11-22T08:00:00.000Z",
            "clock_synced": True}


def send(broker: LocalBroker, topic: str, body: object, retain: bool = False) -> None:
    payload = body if isinstance(body, bytes) else json.dumps(body)
    publish.single(topic, payload, qos=1, retain=retain, hostname="127.0.0.1",
                   port=broker.port)


@pytest.fixture
def collector(tmp_path: Path, broker: LocalBroker) -> Iterator[Collector]:
    running = Collector(broker.url, tmp_path / "central.db", grace_s=0.2, retry_s=60).start()
    assert running.subscribed.wait(10)
    yield running
    running.stop()


def test_a_station_session_is_collected_once_per_event(
        tmp_path: Path, broker: LocalBroker, collector: Collector) -> None:
    config = write_config(tmp_path, broker.url, pool_size=2)
    with in_process(config) as station:
        sim = station.devices.scanner_sim
        assert sim is not None
        for code in ("T000001", ZHANG, LI, "T000002", WANG, "CMD:SEAL", "CMD:BOX"):
            sim.scan(code)
        assert eventually(lambda: collector.stored == station.store.last_seq == 8)
    assert collector.store.count("events") == 8 and collector.quarantined == 0
    (contiguous,) = sqlite(collector).execute(
        "SELECT contiguous FROM stations WHERE station = 'lane-07'").fetchone()
    assert contiguous == 8


def test_the_same_event_twice_is_one_row(broker: LocalBroker, collector: Collector) -> None:
    once = event(1)
    send(broker, f"{ROOT}/events/device.recovered", once)
    send(broker, f"{ROOT}/events/device.recovered", once)
    assert eventually(lambda: collector.stored + collector.duplicates == 2)
    assert collector.stored == 1 and collector.store.count("events") == 1


def test_a_forged_gap_makes_the_collector_ask_for_a_replay(
        broker: LocalBroker, collector: Collector) -> None:
    commands = Watcher(broker.url, topic=f"{ROOT}/cmd/#").start()
    for seq in (1, 2, 5):
        send(broker, f"{ROOT}/events/device.recovered", event(seq))
    assert eventually(lambda: collector.stored == 3)
    collector.check_gaps()            # within the grace period: not yet
    def asked() -> bool:
        collector.check_gaps()
        return collector.replays == 1
    assert eventually(asked, timeout=5)
    assert commands.wait_for(lambda w: len(w.messages) == 1)
    assert commands.messages[0].topic == f"{ROOT}/cmd/replay"
    body = commands.messages[0].body
    assert {k: body[k] for k in ("v", "from_seq", "to_seq")} == {"v": 1, "from_seq": 3,
                                                                 "to_seq": 4}
    assert len(body["request_id"]) == 32   # echoed by the station, so the asker knows it
    collector.check_gaps()            # asked already: not again before retry_s
    assert collector.replays == 1
    for seq in (3, 4):                # the replay arrives
        send(broker, f"{ROOT}/events/device.recovered", event(seq))
    assert eventually(lambda: collector.stored == 5)
    assert collector.store.gaps() == []
    commands.stop()


def test_a_gap_is_said_once_however_often_it_is_asked_for_and_said_when_it_closes(
        tmp_path: Path, broker: LocalBroker, caplog: pytest.LogCaptureFixture) -> None:
    """The collector asks again every retry period; the log says the gap once, and says
    when it closed (#42: the log said `missing` twice and never that it was filled)."""
    caplog.set_level(logging.INFO, logger="central.replays")
    running = Collector(broker.url, tmp_path / "central.db", grace_s=0.05, retry_s=0.05)
    running.start()
    assert running.subscribed.wait(10)
    for seq in (1, 2, 5):
        send(broker, f"{ROOT}/events/device.recovered", event(seq))
    assert eventually(lambda: running.stored == 3)
    def asked_thrice() -> bool:
        running.check_gaps()
        return running.replays >= 3
    assert eventually(asked_thrice, timeout=5)
    for seq in (3, 4):                # the replay arrives
        send(broker, f"{ROOT}/events/device.recovered", event(seq))
    assert eventually(lambda: running.stored == 5)
    running.check_gaps()
    running.check_gaps()              # closed once: not said again
    running.stop()
    said = [(r.levelname, r.getMessage()) for r in caplog.records
            if r.name == "central.replays"]
    assert [level for level, _ in said] == ["WARNING", "INFO"], said
    assert said[0][1] == "test-site/lane-09: seq 3–4 missing, asking for a replay"
    assert said[1][1].startswith("test-site/lane-09: seq 3–4 now stored: the gap closed "
                                 "after ")
    assert said[1][1].endswith(f" (asked {running.replays} times)")


@pytest.mark.parametrize("payload", [b"not json", b'{"v": 1}',
                                     json.dumps({**event(1), "seq": 0}).encode()])
def test_what_fails_the_contract_is_quarantined_and_the_collector_goes_on(
        broker: LocalBroker, collector: Collector, payload: bytes) -> None:
    send(broker, f"{ROOT}/events/device.recovered", payload)
    send(broker, f"{ROOT}/events/device.recovered", event(1))
    assert eventually(lambda: collector.stored == 1 and collector.quarantined == 1)
    assert collector.store.count("quarantine") == 1


def test_an_event_on_the_wrong_topic_is_quarantined(broker: LocalBroker,
                                                    collector: Collector) -> None:
    send(broker, f"{ROOT}/events/tube.sealed", event(1))   # says device.recovered
    assert eventually(lambda: collector.quarantined == 1)


@pytest.mark.parametrize(("topic", "why"), [
    ("natest/v1/test-site/lane-01/events/device.recovered",
     "test-site/lane-09's message published on test-site/lane-01's topic"),
    ("natest/v1/other-site/lane-09/status",
     "test-site/lane-09's message published on other-site/lane-09's topic")])
def test_a_message_naming_another_station_than_its_topic_is_quarantined_there(
        broker: LocalBroker, collector: Collector, topic: str, why: str) -> None:
    """The broker's ACL lets a station publish only on its own topics: a body naming
    another station is a forgery or a bug, and is kept with the topic it came on."""
    send(broker, topic, event(1) if "/events/" in topic else status("online", 1))
    assert eventually(lambda: collector.quarantined == 1)
    rows = sqlite(collector).execute("SELECT topic, reason FROM quarantine").fetchall()
    assert [(t, r) for t, r in rows] == [(topic, why)]
    assert collector.stored == 0


def test_a_late_lost_from_an_earlier_connection_is_ignored(
        broker: LocalBroker, collector: Collector) -> None:
    send(broker, f"{ROOT}/status", status("online", 2))
    send(broker, f"{ROOT}/status", status("lost", 1))      # the old connection's will
    send(broker, f"{ROOT}/status", status("offline", 3))
    assert eventually(lambda: sqlite(collector).execute(
        "SELECT state, connection FROM stations").fetchone() == ("offline", 3))
    send(broker, f"{ROOT}/status", status("lost", 2))
    send(broker, f"{ROOT}/events/device.recovered", event(1))  # a marker after it
    assert eventually(lambda: collector.stored == 1)
    assert sqlite(collector).execute(
        "SELECT state, connection FROM stations").fetchone() == ("offline", 3)


def test_two_collectors_in_a_group_share_a_burst_from_many_stations(
        tmp_path: Path, broker: LocalBroker) -> None:
    """Scale-out in miniature: $share/central between two collectors, one database,
    20 stations draining their backlogs at once: no event lost, none stored twice."""
    stations, per_station = 20, 100
    db = tmp_path / "central.db"
    collectors = [Collector(broker.url, db, group="central").start() for _ in range(2)]
    assert all(c.subscribed.wait(10) for c in collectors)
    total = burst(tmp_path, broker.url, collectors, stations,
                  lambda n: [DeviceRecovery(DEVICES[i % len(DEVICES)])
                             for i in range(per_station)])
    counts = [c.stored for c in collectors]
    assert [c.connections for c in collectors] == [1, 1]  # nobody took anybody's place
    rows = collectors[0].store.count("events")
    for c in collectors:
        c.stop()
    assert rows == total and sum(counts) == total   # each event once, across both
    assert min(counts) > 0                           # and both took a share


class SlowStore:
    """A real store whose writes start late: a batch that commits after the next one."""

    def __init__(self, store: SqliteEventStore, delay_s: float) -> None:
        self.store, self.delay_s = store, delay_s

    def write(self, batch: Batch, now: dt.datetime) -> Written:
        time.sleep(self.delay_s)
        return self.store.write(batch, now)

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


def test_batches_are_acknowledged_in_the_order_taken_whichever_commits_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two flushers (as into PostgreSQL): the second batch commits first, yet its
    acknowledgements wait for the first's (MQTT 5.0, 4.6). A batch the database does
    not take is tried again, and the next waits for it; at a stop it gives up,
    unacknowledged, and lets the next go."""
    monkeypatch.setattr(writer, "RETRY_MIN_S", 0.05)
    collector = Collector("mqtt://127.0.0.1:1", tmp_path / "central.db")
    sent: list[int] = []
    def record(link: int, mids: Iterable[int]) -> int:
        before = len(sent)
        sent.extend(mids)
        return len(sent) - before

    collector.client.ack = record  # type: ignore[method-assign]
    assert isinstance(collector.store, SqliteEventStore)
    slow = SlowStore(SqliteEventStore(tmp_path / "central.db"), 0.5)

    def batch(*seqs: int) -> Batch:
        return Batch(events=[arrived(e) for e in map(event, seqs)])

    first = threading.Thread(target=collector.flushers._commit, args=(
        slow, threading.Lock(), batch(1, 2), [(1, 11), (1, 12)], 0))
    first.start()
    time.sleep(0.1)
    collector.flushers._commit(collector.store, threading.Lock(), batch(3), [(1, 13)], 1)
    first.join()
    assert sent == [11, 12, 13] and collector.stored == 3

    class Down(SlowStore):
        """Refuses its first `fails` writes: a database that comes back."""

        def __init__(self, store: SqliteEventStore, fails: int) -> None:
            super().__init__(store, 0)
            self.fails, self.reconnects = fails, 0

        def write(self, batch: Batch, now: dt.datetime) -> Written:
            if self.fails:
                self.fails -= 1
                raise sqlite3.OperationalError("disk I/O error")
            return self.store.write(batch, now)

        def reconnect(self) -> None:
            self.reconnects += 1

    back = Down(collector.store, 4)   # a round tries the batch, then an empty write
    held = threading.Thread(target=collector.flushers._commit, args=(
        cast(EventStore, back), threading.Lock(), batch(4), [(1, 14)], 2))
    held.start()
    collector.flushers._commit(collector.store, threading.Lock(), batch(5), [(1, 15)], 3)
    held.join()
    assert sent == [11, 12, 13, 14, 15] and collector.stored == 5 and back.reconnects == 2

    gone = Down(collector.store, 10**6)
    stopped = threading.Thread(target=collector.flushers._commit, args=(
        cast(EventStore, gone), threading.Lock(), batch(6), [(1, 16)], 4))
    stopped.start()
    time.sleep(0.2)
    collector.flushers._halt.set()    # as stop() does
    stopped.join()
    collector.flushers._commit(collector.store, threading.Lock(), batch(7), [(1, 17)], 5)
    assert sent == [11, 12, 13, 14, 15, 17] and collector.stored == 6
    collector.client.stop()
    collector.store.close()


def test_events_of_contract_1_2_and_1_3_are_both_stored_and_read(
        broker: LocalBroker, collector: Collector) -> None:
    """1.3 adds the envelope's operator, three event types and the person's phone and
    addresses; a 1.2 station's events, which carry none of them, are stored the same."""
    person = {"id_type": "resident", "id_number": ZHANG, "name": "张三丰", "gender": "male",
              "birth": "1949-12-31"}
    old = {**event(1), "type": "sample.registered",
           "data": {"tube": "T000001", "position": 1, "source": "card", "person": person,
                    "repeat_today": False}}
    new = {**event(2), "type": "sample.registered", "operator": "S0107001",
           "data": {"tube": "T000001", "position": 2, "source": "qr", "repeat_today": False,
                    "person": {**person, "id_number": LI, "phone": "13800138000",
                               "address": "北京市朝阳区某路2号"}}}
    signed = {**event(3), "type": "operator.signed_in", "operator": "S0107001",
              "data": {"operator": "S0107001"}}
    dispatched = {**event(4), "type": "box.dispatched", "operator": "S0107001",
                  "data": {"box": "B1", "courier": "S0100009", "tube_count": 1,
                           "sample_count": 2}}
    for body in (old, new, signed, dispatched):
        send(broker, f"{ROOT}/events/{body['type']}", body)
    assert eventually(lambda: collector.stored == 4), (collector.stored, collector.quarantined)
    assert collector.quarantined == 0
    registrations = project(collector.store.iter_events()).registrations
    assert [(r.id_number, r.operator) for r in registrations] == [(ZHANG, ""),
                                                                 (LI, "S0107001")]


def test_events_of_contract_1_4_and_1_5_are_both_stored_and_read(
        broker: LocalBroker, collector: Collector) -> None:
    """1.5 adds document types (a passport, the 港澳 and 台湾 travel permits, a child under
    its guardian's document) and the person's guardian_id_type; a 1.4 station's resident
    is stored beside them the same, and a child without its guardian's type is refused."""
    person = {"id_type": "resident", "id_number": ZHANG, "name": "张三丰", "gender": "male",
              "birth": "1949-12-31"}
    passport = {"id_type": "passport", "id_number": "E12345678", "name": "SMITH JOHN",
                "gender": "unknown", "birth": ""}
    child = {"id_type": "guardian", "id_number": ZHANG, "name": "张小宝", "gender": "unknown",
             "birth": "2026-05-01", "guardian_id_type": "resident"}
    bodies: list[dict[str, Any]] = [{**event(n), "type": "sample.registered",
               "data": {"tube": "T000001", "position": n, "source": "qr", "person": who,
                        "repeat_today": False}}
              for n, who in enumerate((person, passport, child), start=1)]
    orphan = {**event(4), "type": "sample.registered",
              "data": {**bodies[2]["data"], "position": 4, "person": {
                  k: v for k, v in child.items() if k != "guardian_id_type"}}}
    for body in (*bodies, orphan):
        send(broker, f"{ROOT}/events/{body['type']}", body)
    assert eventually(lambda: collector.stored == 3 and collector.quarantined == 1), (
        collector.stored, collector.quarantined)
    registrations = project(collector.store.iter_events()).registrations
    assert [(r.id_type, r.id_number) for r in registrations] == [
        ("resident", ZHANG), ("passport", "E12345678"), ("guardian", ZHANG)]
