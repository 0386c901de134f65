"""The uplink against a real mosquitto: window, drain, replay, status and last will."""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from msgspec.structs import replace
from paho.mqtt import publish

from contract.events import DEVICES, DeviceRecovery
from drivers.scanner.sim import ScannerSim
from station import uplink as uplink_module
from station.config import MqttConfig
from station.core.state import State
from station.outbox import Outbox
from station.store import Store
from station.uplink import Sender, Uplink, backoff
from tests.conftest import eventually, write_config
from tests.harness.proxy import FlappingProxy
from tools.broker import LocalBroker, free_port
from tools.station_process import StationProcess
from tools.watch import Watcher, delivery_problems

NOW = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)
ROOT = "natest/v1/S1/L1"


def record(store: Store, count: int) -> None:
    for n in range(count):
        store.commit([DeviceRecovery(DEVICES[n % len(DEVICES)])], State(), NOW, True)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "station.db", "S1", "L1")
    yield opened
    opened.close()


def start_uplink(store: Store, broker: LocalBroker | str, window: int = 8) -> Uplink:
    url = broker if isinstance(broker, str) else broker.url
    config = replace(MqttConfig(url=url), window=window, reconnect_max_s=1)
    uplink = Uplink(config, Sender("S1", "L1", store.session), store.path,
                    health=lambda: {"scanner": "ok"}, clock_synced=lambda: True)
    uplink.start()
    return uplink


def test_backlog_drains_in_order_within_the_window_while_new_events_are_recorded(
        store: Store, broker: LocalBroker) -> None:
    record(store, 2000)                      # recorded while there was no broker
    watcher = Watcher(broker.url).start()
    uplink = start_uplink(store, broker, window=16)
    try:
        def more() -> None:
            record(store, 200)
            uplink.notify()
        extra = threading.Thread(target=more)
        extra.start()                        # the lane keeps working during the drain
        extra.join()
        assert watcher.wait_for(lambda w: w.has_seqs_up_to(2200), timeout=60)
        assert delivery_problems(watcher.events()) == []
        assert 1 <= uplink.peak_inflight <= 16
        assert watcher.wait_for(lambda w: Outbox(store.path).backlog() == 0, timeout=10)
    finally:
        uplink.stop()
        watcher.stop()


def test_nothing_counts_as_delivered_without_a_broker(store: Store) -> None:
    record(store, 5)
    uplink = start_uplink(store, f"mqtt://127.0.0.1:{free_port()}")  # nobody listens
    try:
        assert not uplink.connected.wait(1.0)
        assert Outbox(store.path).backlog() == 5
    finally:
        uplink.stop()


def test_replay_republishes_held_events_unchanged(store: Store, broker: LocalBroker) -> None:
    record(store, 10)
    watcher = Watcher(broker.url).start()
    uplink = start_uplink(store, broker)
    try:
        assert watcher.wait_for(lambda w: w.has_seqs_up_to(10))
        first_time = {e["seq"]: e for e in watcher.events()}
        publish.single(f"{ROOT}/cmd/replay", json.dumps({"from_seq": 3, "to_seq": 5}),
                       qos=1, hostname="127.0.0.1", port=broker.port)
        assert watcher.wait_for(lambda w: len(w.events()) == 13)
        again = watcher.events()[10:]
        assert [e["seq"] for e in again] == [3, 4, 5]
        assert all(e == first_time[e["seq"]] for e in again)
        assert watcher.wait_for(lambda w: any(m.topic == f"{ROOT}/reply/replay"
                                              for m in w.messages))
        reply = next(m.body for m in watcher.messages if m.topic.endswith("reply/replay"))
        assert reply == {"v": 1, "request_id": "", "from_seq": 3, "to_seq": 5,
                         "served_to": 5, "limit": 10_000, "republished": 3, "purged": 0,
                         "not_recorded": 0, "cut_from": None}
    finally:
        uplink.stop()
        watcher.stop()


@pytest.mark.parametrize("payload", [b"not json", b'{"from_seq": 5, "to_seq": 2}',
                                     b'{"from_seq": "x"}', b'{"from_seq": true, "to_seq": 2}'])
def test_malformed_replay_gets_an_error_reply_and_changes_nothing(
        store: Store, broker: LocalBroker, payload: bytes) -> None:
    record(store, 3)
    watcher = Watcher(broker.url).start()
    uplink = start_uplink(store, broker)
    try:
        assert watcher.wait_for(lambda w: w.has_seqs_up_to(3))
        publish.single(f"{ROOT}/cmd/replay", payload, qos=1, hostname="127.0.0.1",
                       port=broker.port)
        assert watcher.wait_for(lambda w: any(m.topic.endswith("reply/replay")
                                              for m in w.messages))
        reply = next(m.body for m in watcher.messages if m.topic.endswith("reply/replay"))
        assert "error" in reply
        assert len(watcher.events()) == 3
    finally:
        uplink.stop()
        watcher.stop()


def test_undocumented_commands_are_logged_and_ignored(
        store: Store, broker: LocalBroker, caplog: pytest.LogCaptureFixture) -> None:
    record(store, 3)
    watcher = Watcher(broker.url).start()
    uplink = start_uplink(store, broker)
    try:
        assert watcher.wait_for(lambda w: w.has_seqs_up_to(3))
        for name in ("reboot", "purge"):
            publish.single(f"{ROOT}/cmd/{name}", b"{}", qos=1, hostname="127.0.0.1",
                           port=broker.port)
        publish.single(f"{ROOT}/cmd/replay", json.dumps({"from_seq": 1, "to_seq": 1}),
                       qos=1, hostname="127.0.0.1", port=broker.port)  # a marker after them
        assert watcher.wait_for(lambda w: any(m.topic.endswith("reply/replay")
                                              for m in w.messages))
        assert "ignored unknown command 'reboot'" in caplog.text
        assert "ignored unknown command 'purge'" in caplog.text
        assert not any(m.topic.endswith(("reply/reboot", "reply/purge"))
                       for m in watcher.messages)
        assert len(watcher.events()) == 4   # the three events and the one replayed
    finally:
        uplink.stop()
        watcher.stop()


def test_last_will_says_lost_with_its_connection_then_online_is_newer(
        tmp_path: Path, broker: LocalBroker, scanner: ScannerSim,
        spawn: type[StationProcess]) -> None:
    config = write_config(tmp_path, broker.url, scanner.port)
    watcher = Watcher(broker.url, topic="natest/v1/+/+/status").start()
    station = spawn(config)
    station.wait_for("connected to")
    assert watcher.wait_for(lambda w: any(s["state"] == "online" for s in w.statuses()))
    station.kill()
    assert watcher.wait_for(lambda w: any(s["state"] == "lost" for s in w.statuses()))
    lost = next(s for s in watcher.statuses() if s["state"] == "lost")
    online = next(s for s in watcher.statuses() if s["state"] == "online")
    assert lost["connection"] == online["connection"] and lost["session"] == 1

    station = spawn(config)
    station.wait_for("connected to")
    assert watcher.wait_for(lambda w: w.statuses()[-1]["state"] == "online")
    newer = watcher.statuses()[-1]
    assert newer["connection"] > lost["connection"] and newer["session"] == 2
    assert station.stop() == 0
    assert watcher.wait_for(lambda w: w.statuses()[-1]["state"] == "offline")
    watcher.stop()


def test_online_waits_for_the_stations_ready_on_a_link_already_made(
        store: Store, broker: LocalBroker) -> None:
    """At a start the link is made while the station warms up; central hears "online"
    (and the backlog) only once the station takes registrations."""
    record(store, 3)
    watcher = Watcher(broker.url).start()
    ready = threading.Event()
    uplink = Uplink(replace(MqttConfig(url=broker.url), reconnect_max_s=1),
                    Sender("S1", "L1", store.session), store.path,
                    health=lambda: {"scanner": "ok"}, clock_synced=lambda: True,
                    station_ready=ready)
    uplink.start()
    try:
        assert uplink.connected.wait(10)
        assert not watcher.wait_for(lambda w: w.statuses() or w.events(), timeout=0.5)
        ready.set()
        assert watcher.wait_for(lambda w: [s["state"] for s in w.statuses()] == ["online"])
        assert watcher.wait_for(lambda w: w.has_seqs_up_to(3))
    finally:
        uplink.stop()
        watcher.stop()


def test_backoff_is_jittered_capped_and_bounded_by_half_the_outage() -> None:
    waits = [backoff(600, cap=5) for _ in range(200)]
    assert all(0 <= w <= 5 for w in waits) and len(set(waits)) > 100
    assert max(backoff(0) for _ in range(50)) <= 1.0          # the first retries: ≤ 1 s
    assert max(backoff(8, cap=30) for _ in range(200)) <= 4.0  # half of 8 s gone
    assert max(backoff(600, cap=30) for _ in range(200)) > 20  # a long outage: spread


def test_a_dropped_link_starts_the_backoff_over(store: Store, broker: LocalBroker,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A flapping mobile link: after a connection that worked, the outage clock starts
    over, so the wait is the shortest again, not one that grew with every drop."""
    outages: list[float] = []

    def recorded(outage_s: float, **_: float) -> float:
        outages.append(outage_s)
        return 0.05

    monkeypatch.setattr(uplink_module, "backoff", recorded)
    proxy = FlappingProxy(broker.port)
    uplink = start_uplink(store, proxy.url)
    try:
        for drop in range(1, 7):
            assert eventually(lambda d=drop: uplink.connections == d)  # type: ignore[misc]
            proxy.cut()
        assert eventually(lambda: uplink.connections == 7)
    finally:
        uplink.stop()
        proxy.close()
    assert len(outages) >= 6 and max(outages) < 0.5


def test_attempts_the_broker_refuses_hold_no_descriptors(
        store: Store, broker: LocalBroker, caplog: pytest.LogCaptureFixture) -> None:
    """A dead link during a long outage: each attempt's sockets are closed when it ends,
    not when the garbage collector next runs (switched off here to show the difference)."""
    def descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    def attempts() -> int:
        return caplog.text.count("unreachable")

    proxy = FlappingProxy(broker.port)
    proxy.down()                                   # accepts, then hangs up: no CONNACK
    gc.disable()
    uplink = start_uplink(store, proxy.url)
    try:
        assert eventually(lambda: attempts() >= 2)
        before, tried = descriptors(), attempts()
        assert eventually(lambda: attempts() >= tried + 6, timeout=30)
        after = descriptors()
    finally:
        uplink.stop()
        proxy.close()
        gc.enable()
    assert after - before <= 2, f"{after - before} descriptors more after 6 attempts"
