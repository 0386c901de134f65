"""The core's figures: accept latency through a real pty, durable throughput, DB size."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import serial

from drivers.scanner.sim import ScannerSim
from station.core.identity import nth_synthetic_id
from station.core.messages import CodeScanned
from station.outbox import Outbox
from station.runner import Station
from tools.bench.common import (
    Size,
    codes_for_day,
    dir_size_mb,
    percentile,
    station_config,
)

ACCEPTED = {"accepted", "one_left", "sealed", "duplicate"}
PAYLOAD = "x" * 420  # about a sample.registered event


def _bare_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, payload TEXT)")
    return conn


def latency(size: Size, work: Path, mqtt_url: str) -> dict[str, Any]:
    """Last byte of a code on the scanner pty → the operator's "accepted" pattern."""
    sim = ScannerSim()
    station = Station(station_config(work / "latency", mqtt_url, sim.port))
    lights = station.devices.lights  # the pattern engine wakes waiters as it shows
    stop = threading.Event()
    core = threading.Thread(target=station.run, args=(stop,), name="core")
    core.start()
    samples: list[float] = []
    try:
        station.ready.wait(10)
        station.devices.scanner.opened.wait(10)
        next_at = time.monotonic()
        for code in codes_for_day(size.latency_regs):
            with lights.changed:
                seen = lights.shown
                sent = time.monotonic()
                sim.scan(code)
                lights.changed.wait_for(lambda: lights.shown > seen, timeout=5)  # noqa: B023
            at, pattern = lights.history[-1]
            if pattern in ACCEPTED:
                samples.append((at - sent) * 1000)
                next_at += 0.1  # a steady 10 registrations/s
                time.sleep(max(0.0, next_at - time.monotonic()))
    finally:
        stop.set()
        core.join(10)
        sim.close()
    base = _latency_floor(len(samples), work)
    return {
        "latency_p50_ms": percentile(samples, 50),
        "latency_p99_ms": percentile(samples, 99),
        "latency_floor_p50_ms": percentile(base, 50),
        "latency_floor_p99_ms": percentile(base, 99),
    }


def _latency_floor(count: int, work: Path) -> list[float]:
    """The same path with nothing of ours: pty → pyserial readline → one bare commit."""
    master, slave = os.openpty()
    conn = _bare_db(work / "floor.db")
    samples: list[float] = []
    with serial.Serial(os.ttyname(slave), timeout=1) as port:
        for n in range(count):
            sent = time.monotonic()
            os.write(master, nth_synthetic_id(n + 1).encode() + b"\r\n")
            port.read_until(b"\r\n")
            conn.execute("BEGIN")
            conn.execute("INSERT INTO t VALUES (?, ?)", (n, PAYLOAD))
            conn.execute("COMMIT")
            samples.append((time.monotonic() - sent) * 1000)
            time.sleep(0.1)
    os.close(master)
    os.close(slave)
    conn.close()
    return samples


def durable(size: Size, work: Path) -> dict[str, Any]:
    """Registrations/s through workflow + store, beside bare one-row transactions."""
    station = Station(station_config(work / "durable"))
    codes = codes_for_day(size.durable_regs)
    started = time.perf_counter()
    for code in codes:
        station.handle(CodeScanned(code))
    station_s = time.perf_counter() - started
    station.store.close()

    conn = _bare_db(work / "bare.db")
    started = time.perf_counter()
    for n in range(size.durable_regs):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t VALUES (?, ?)", (n, PAYLOAD))
        conn.execute("COMMIT")
    bare_s = time.perf_counter() - started
    conn.close()
    per_s, bare_per_s = size.durable_regs / station_s, size.durable_regs / bare_s
    return {"durable_per_s": per_s, "durable_bare_commits_per_s": bare_per_s,
            "durable_ratio": per_s / bare_per_s}


def day_db(size: Size, work: Path, retention_days: int = 7) -> dict[str, Any]:
    """Database size after a day of registrations, and after the retention purge."""
    data = work / "day"
    station = Station(station_config(data))
    for code in codes_for_day(size.day_regs):
        station.handle(CodeScanned(code))
    store = station.store
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    full = dir_size_mb(data)
    outbox = Outbox(store.path)
    now = dt.datetime.now(dt.UTC)
    outbox.mark_delivered(range(1, store.last_seq + 1), now)
    outbox.close()
    store.purge(now + dt.timedelta(days=retention_days + 1), retention_days)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    purged = dir_size_mb(data)
    store.close()
    return {"day_db_mb": full, "day_db_after_purge_mb": purged,
            "day_registrations": size.day_regs}
