"""Collector ingest: events/s stored into SQLite and PostgreSQL, beside the rate at which
mosquitto_sub merely receives the same messages from the same broker, in the same run."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import contract
from central.ingest.collector import Collector
from station.store import Store
from tools.bench.drain import buffer_events
from tools.broker import LocalBroker
from tools.central.postgres import bindir, postgres

TOPIC = contract.event_topic("bench", "bench", "sample.registered")


def _publish(port: int, payloads: list[str]) -> None:
    subprocess.run(["mosquitto_pub", "-p", str(port), "-h", "127.0.0.1", "-q", "1",
                    "-t", TOPIC, "-l"], input="\n".join(payloads).encode(), check=True,
                   timeout=600)


def _collector_rate(url: str, port: int, target: str, payloads: list[str]) -> float:
    collector = Collector(url, target).start()
    collector.subscribed.wait(10)
    started = time.perf_counter()
    _publish(port, payloads)
    while collector.stored < len(payloads):
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    collector.stop()
    return len(payloads) / elapsed


def _subscriber_rate(port: int, payloads: list[str]) -> float:
    sub = subprocess.Popen(["mosquitto_sub", "-p", str(port), "-h", "127.0.0.1", "-q", "1",
                            "-t", contract.ALL_TOPICS, "-C", str(len(payloads))],
                           stdout=subprocess.DEVNULL)
    time.sleep(0.5)  # let it subscribe: it has no way to say so
    started = time.perf_counter()
    _publish(port, payloads)
    sub.wait(600)
    return len(payloads) / (time.perf_counter() - started)


def ingest(count: int, work: Path) -> dict[str, Any]:
    if shutil.which("mosquitto_pub") is None:
        return {}
    store = Store(work / "ingest" / "station.db", "bench", "bench")
    payloads = buffer_events(store, count)
    store.close()
    results: dict[str, Any] = {"ingest_events": count}
    with LocalBroker() as broker:
        results["ingest_mosquitto_sub_per_s"] = _subscriber_rate(broker.port, payloads)
        results["ingest_sqlite_per_s"] = _collector_rate(
            broker.url, broker.port, str(work / "ingest" / "central.db"), payloads)
        if importlib.util.find_spec("psycopg") is None:
            print("  (PostgreSQL ingest skipped: psycopg is not installed: "
                  "pip install 'natest-station[central]')", flush=True)
        elif bindir() is None:
            print("  (PostgreSQL ingest skipped: no PostgreSQL server binaries: "
                  "apt-get install postgresql)", flush=True)
        else:
            with postgres() as dsn:
                results["ingest_postgresql_per_s"] = _collector_rate(
                    broker.url, broker.port, dsn, payloads)
    base = results["ingest_mosquitto_sub_per_s"]
    results["ingest_sqlite_ratio"] = results["ingest_sqlite_per_s"] / base
    if "ingest_postgresql_per_s" in results:
        results["ingest_postgresql_ratio"] = results["ingest_postgresql_per_s"] / base
    return results
