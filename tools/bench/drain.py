"""Draining a backlog to a real mosquitto, beside a bare paho loop and mosquitto_pub."""

from __future__ import annotations

import datetime as dt
import shutil
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

import contract
from contract.events import Person, SampleRegistered
from station.config import MqttConfig
from station.core.identity import nth_synthetic_id
from station.core.messages import Fact
from station.core.state import State
from station.outbox import Outbox
from station.store import Store
from station.uplink import Sender, Uplink
from tools.broker import LocalBroker

WINDOW = 64
# Alternated rounds, medians: one run of each moved by a quarter between runs here.
ROUNDS = 3
TOPIC = contract.event_topic("bench", "bench", "sample.registered")


def buffer_events(store: Store, count: int) -> list[str]:
    """Record `count` registration events as a station offline would; their payloads."""
    now = dt.datetime.now(dt.UTC)
    for first in range(0, count, 500):
        facts: list[Fact] = [SampleRegistered(
            tube=f"T{n // 10 + 1:06d}", position=n % 10 + 1, source="card",
            repeat_today=False,
            person=Person(id_type="resident", id_number=nth_synthetic_id(n + 1),
                          name="张三丰", gender="male", birth="1950-01-01"))
            for n in range(first, min(first + 500, count))]
        store.commit(facts, State(), now, True)
    outbox = Outbox(store.path)
    payloads = [row.payload for row in outbox.pending(0, count)]
    outbox.close()
    return payloads


def _station_drain(store: Store, url: str, count: int) -> float:
    uplink = Uplink(MqttConfig(url=url, window=WINDOW), Sender("bench", "bench", 1),
                    store.path, health=dict, clock_synced=lambda: True)
    uplink.start()
    uplink.connected.wait(10)
    started = time.perf_counter()
    while uplink.acked_total < count:
        # Not every millisecond: under the Pi profile's quota a waking thread takes CPU
        # and the GIL from the uplink it measures, which paho's baseline does not pay.
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    uplink.stop()
    return elapsed


def _paho_drain(port: int, payloads: list[str]) -> float:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.max_inflight_messages_set(WINDOW)
    done = threading.Event()
    acked = [0]

    def on_publish(*_: object) -> None:
        acked[0] += 1
        if acked[0] == len(payloads):
            done.set()

    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    started = time.perf_counter()
    for payload in payloads:
        client.publish(TOPIC, payload, qos=1)
    done.wait(600)
    elapsed = time.perf_counter() - started
    client.loop_stop()
    client.disconnect()
    return elapsed


def _mosquitto_pub(port: int, payloads: list[str]) -> float | None:
    binary = shutil.which("mosquitto_pub")
    if binary is None:
        return None
    started = time.perf_counter()
    subprocess.run([binary, "-p", str(port), "-h", "127.0.0.1", "-q", "1", "-t", TOPIC, "-l"],
                   input="\n".join(payloads).encode(), check=True, timeout=600)
    return time.perf_counter() - started


def drain(count: int, work: Path) -> dict[str, Any]:
    store = Store(work / "drain" / "station.db", "bench", "bench")
    rounds: list[tuple[float, float]] = []
    with LocalBroker() as broker:
        for _ in range(ROUNDS):
            payloads = buffer_events(store, count)
            rounds.append((_station_drain(store, broker.url, count),
                           _paho_drain(broker.port, payloads)))
        ceiling_s = _mosquitto_pub(broker.port, payloads)
    store.close()
    station_s = statistics.median(s for s, _ in rounds)
    paho_s = statistics.median(p for _, p in rounds)
    return {
        "drain_events": count,
        "drain_events_per_s": count / station_s,
        "drain_paho_per_s": count / paho_s,
        "drain_ratio_vs_paho": paho_s / station_s,
        "drain_mosquitto_pub_per_s": count / ceiling_s if ceiling_s else None,
    }
