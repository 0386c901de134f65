"""Power cuts that really drop data: the station's data directory on a filesystem that
keeps every write in memory until it is fsync'd, and loses it at a cut
(tests/harness/powercut_fs.py).

First the filesystem is proven able to lose: SQLite with synchronous=OFF on it loses
acknowledged commits, with FULL none. Then the station runs on it through cuts at random
instants of a burst, start-up and purge included. scripts/reliability.py runs it at 50.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.scanner.sim import ScannerSim
from tests.central_keys import REGISTERED
from tests.conftest import write_config
from tests.harness.powercut_fs import PowerCutDisk
from tests.harness.soak import age_deliveries
from tests.people import nth_person
from tools.broker import LocalBroker
from tools.station_process import StationProcess
from tools.station_process import told as told_in
from tools.watch import Watcher, delivery_problems

pytestmark = [
    pytest.mark.faults, pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None,
                       reason="no FUSE here: /dev/fuse and Debian's fuse3 are needed"),
]

CUTS = int(os.environ.get("NATEST_CUTS", "8"))
Figures = dict[str, dict[str, object]]
SESSION = re.compile(r"ready \(session (\d+)")
CONNECTION = re.compile(r"\(connection (\d+)\)")

WRITER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("PRAGMA synchronous=" + sys.argv[2])
conn.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY, pad TEXT)")
for n in range(1, 100000):
    conn.execute("INSERT INTO t VALUES (?, ?)", (n, "x" * 200))
    print(n, flush=True)      # the commit returned: acknowledged
"""


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[PowerCutDisk]:
    with PowerCutDisk(tmp_path / "backing", tmp_path / "mnt") as mounted:
        yield mounted


def acknowledged_then_cut(disk: PowerCutDisk, synchronous: str, commits: int) -> int:
    """A writer commits until `commits` are acknowledged; then the power goes."""
    db = disk.mount / "t.db"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), synchronous],
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    acknowledged = 0
    for line in writer.stdout:
        acknowledged = int(line)
        if acknowledged >= commits:
            break
    writer.kill()                      # the same instant: the process and the power
    disk.cut()
    writer.wait()
    writer.stdout.close()
    return acknowledged


def rows_after(db: Path) -> tuple[int, str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        try:
            count = conn.execute("SELECT count(*) FROM t").fetchone()[0]
        except sqlite3.OperationalError:   # the table itself was never synced
            count = 0
        return int(count), str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_the_filesystem_loses_what_sqlite_did_not_sync(
        disk: PowerCutDisk, figures: Figures) -> None:
    acknowledged = acknowledged_then_cut(disk, "OFF", 200)
    recorded, _ = rows_after(disk.mount / "t.db")
    figures.setdefault("power_cut_fs_control", {})["off_lost"] = acknowledged - recorded
    assert recorded < acknowledged, "synchronous=OFF lost nothing: the cut dropped nothing"


def test_the_filesystem_keeps_every_commit_sqlite_synced(
        disk: PowerCutDisk, figures: Figures) -> None:
    acknowledged = acknowledged_then_cut(disk, "FULL", 200)
    recorded, integrity = rows_after(disk.mount / "t.db")
    figures.setdefault("power_cut_fs_control", {})["full_lost"] = max(0, acknowledged - recorded)
    assert recorded >= acknowledged and integrity == "ok"


def burst(scanner: ScannerSim, stop: threading.Event, base: int) -> None:
    """People, a new printed tube every ten: registrations, labels and seals."""
    for n in itertools.count():
        if stop.is_set():
            return
        if n % 10 == 0:
            scanner.scan("CMD:NEWTUBE")
        scanner.scan(nth_person(base + n + 1))
        stop.wait(0.003)


def seen_rows(db: Path) -> list[dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [json.loads(p) for (p,) in conn.execute("SELECT payload FROM outbox")]


def test_power_cuts_lose_nothing_the_operator_was_told(
        tmp_path: Path, disk: PowerCutDisk, scanner: ScannerSim,
        spawn: type[StationProcess], figures: Figures) -> None:
    rng = random.Random(20261203)
    broker = LocalBroker().start()
    watcher = Watcher(broker.url).start()
    config = write_config(tmp_path, broker.url, scanner.port, pool_size=10, tubes="print")
    data = disk.mount / "data"
    config.write_text(config.read_text().replace(str(tmp_path / "data"), str(data))
                      + '[printer]\ndriver = "sim"\n')
    db = data / "station.db"
    told: set[tuple[str, str]] = set()
    by_seq: dict[int, str] = {}                 # every row ever seen: seq → event id
    recorded: set[tuple[str, str]] = set()
    sessions: list[int] = []
    connections: list[int] = []
    reused = integrity_bad = purged_rounds = startup_cuts = connect_cuts = 0
    try:
        for round_ in range(CUTS):
            if round_ % 4 == 3 and db.exists():
                purged_rounds += age_deliveries(db) > 0
            station = spawn(config)
            stop = None
            if round_ % 5 == 4:                  # during start-up: migrations, purge, ready
                time.sleep(rng.uniform(0, 0.6))
                startup_cuts += 1
            elif round_ % 5 == 3:                # just connected: its number must be kept
                station.wait_for(r"connected to", timeout=30)
                connect_cuts += 1
            else:
                station.wait_for(r"ready \(session", timeout=30)
                station.wait_for(r"connected to", timeout=30)  # delivery marks too
                stop = threading.Event()
                feeder = threading.Thread(target=burst, args=(scanner, stop, round_ * 1000))
                feeder.start()
                station.waited(r" (accepted|one_left|sealed_full|duplicate): ",
                               rng.randint(1, 80), timeout=20)
                time.sleep(rng.uniform(0, 0.03))   # any instant, mid-commit included
            station.kill()
            disk.cut()
            if stop is not None:
                stop.set()
                feeder.join()
            told |= told_in(station.lines)
            sessions += [int(m[1]) for ln in station.lines if (m := SESSION.search(ln))]
            connections += [int(m[1]) for ln in station.lines if (m := CONNECTION.search(ln))]
            if not db.exists():
                continue
            with contextlib.closing(sqlite3.connect(db)) as conn:
                integrity_bad += conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok"
            for row in seen_rows(db):
                seq, ident = int(row["seq"]), str(row["id"])
                reused += by_seq.setdefault(seq, ident) != ident
                if row["type"] in REGISTERED:
                    recorded.add((str(row["data"]["tube"]), str(row["data"]["position"])))
        station = spawn(config)                  # power back for good, network up
        station.wait_for(r"ready \(session", timeout=30)
        last = max(int(r["seq"]) for r in seen_rows(db))
        assert watcher.wait_for(lambda w: w.has_seqs_up_to(last), timeout=60)
        station.stop()
        problems = delivery_problems(watcher.events())
        seqs = sorted(by_seq)
    finally:
        watcher.stop()
        broker.stop()
    result: dict[str, object] = {
        "cuts": disk.cuts, "during_start_up": startup_cuts, "just_connected": connect_cuts,
        "after_purge": purged_rounds,
        "accepted_told": len(told), "recorded": len(recorded), "lost": len(told - recorded),
        "delivered_last_seq": last,
        "seq_gaps": sum(1 for a, b in itertools.pairwise(seqs) if b != a + 1) + (seqs[0] != 1),
        "seq_reused": reused, "integrity_bad": integrity_bad,
        "sessions_increasing": sessions == sorted(set(sessions)),
        "connections_increasing": connections == sorted(set(connections)),
        "delivery_problems": len(problems),
    }
    figures["power_cut_fs"] = result
    assert result["lost"] == 0 and result["seq_gaps"] == 0 and reused == 0, result
    assert integrity_bad == 0 and problems == [], result
    assert result["sessions_increasing"] and result["connections_increasing"], result
    assert len(told) >= CUTS // 2 and len(sessions) >= CUTS // 2
