"""A day's registrations, compressed: the station under disruption, its resources sampled.

`station` runs as a subprocess on a pty scanner behind a symlink (so it can be unplugged),
through a proxy to a persistent mosquitto (so the link can be cut and the broker
restarted), fed as fast as it accepts. At planned points of the run it is SIGKILLed and
restarted (some restarts after delivered events were aged, so the start-up purge removes
them), the broker restarts, the link goes down for a while, the scanner is unplugged and
plugged back. Every `sample_every_s` the running station's RSS, open file descriptors,
threads and database size are sampled. At the end every registration the operator was
told about must have been delivered, and every delivery must be contiguous.

    scripts/reliability.py soak      # 100,000 registrations; tests run a short one
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.scanner.sim import ScannerSim
from station.core.identity import nth_synthetic_id
from tests.central_keys import REGISTERED
from tests.harness.proxy import FlappingProxy
from tools.bench.common import throwaway_key
from tools.broker import LocalBroker
from tools.station_process import TOLD, StationProcess, told
from tools.watch import Watcher, delivery_problems

AHEAD = 20   # codes in flight: the station sets the pace, as a queue at a lane does


@dataclass(frozen=True)
class Plan:
    registrations: int
    sample_every_s: float
    kills: int = 3
    purges: int = 2            # of the kills: delivered events aged first, so purged
    broker_restarts: int = 2
    link_cuts: int = 3
    unplugs: int = 2
    seed: int = 20261203


@dataclass
class Sample:
    at_s: float
    registrations: int
    pid: int
    rss_mb: float
    fds: int
    threads: int
    db_mb: float


@dataclass
class Scanner:
    """The scanner behind a symlink: unplugging closes the pty, plugging makes a new one."""

    link: Path
    sim: ScannerSim = field(default_factory=ScannerSim)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.link.symlink_to(self.sim.port)

    def scan(self, code: str) -> None:
        while True:
            with self.lock:
                sim = self.sim
            try:
                sim.scan(code)
                return
            except OSError:           # unplugged mid-write: the next one is coming
                time.sleep(0.05)

    def unplug_for(self, seconds: float) -> None:
        with self.lock:
            self.sim.close()
            self.link.unlink()
        time.sleep(seconds)
        fresh = ScannerSim()
        self.link.symlink_to(fresh.port)
        with self.lock:
            self.sim = fresh

    def close(self) -> None:
        self.sim.close()


def proc_figures(pid: int) -> tuple[float, int, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmRSS:"))
    threads = next(int(ln.split()[1]) for ln in status.splitlines()
                   if ln.startswith("Threads:"))
    return rss / 1024, len(list(Path(f"/proc/{pid}/fd").iterdir())), threads


def age_deliveries(db: Path) -> int:
    """Delivered events made older than the retention: the next start-up purges them."""
    with contextlib.closing(sqlite3.connect(db, timeout=30, isolation_level=None)) as conn:
        conn.execute("PRAGMA synchronous=FULL")   # on the power-cut filesystem too
        return int(conn.execute("UPDATE outbox SET delivered_at = '2000-01-01T00:00:00Z' "
                                "WHERE delivered_at IS NOT NULL").rowcount)


class Soak:
    def __init__(self, plan: Plan, work: Path, say: Any = print) -> None:
        self.plan, self.say = plan, say
        self.rng = random.Random(plan.seed)
        work.mkdir(parents=True, exist_ok=True)
        self.broker = LocalBroker(persistent=True).start()
        self.proxy = FlappingProxy(self.broker.port)
        self.watcher = Watcher(self.broker.url, client_id="soak-watcher").start()
        self.scanner = Scanner(work / "scanner")
        self.data = work / "data"
        self.config = work / "station.toml"
        self.config.write_text(
            f'[station]\nid = "soak"\nsite = "soak"\ntube_prefix = "77"\n'
            f'data_dir = "{self.data}"\ntube_pattern = "T[0-9]{{7}}"\nretention_days = 1\n'
            f'[screen]\nlisten = ""\n[mqtt]\nurl = "{self.proxy.url}"\nreconnect_max_s = 5\n'
            f'[scanner]\ndriver = "serial"\nport = "{self.scanner.link}"\n'
            f'[privacy]\ncentral_key = "{throwaway_key(self.data.parent / "keys")}"\n')
        self.fed = 0
        self.stop = threading.Event()
        self.stations: list[StationProcess] = []
        self.counted: dict[int, tuple[int, int]] = {}   # station index → (lines read, told)
        self.samples: list[Sample] = []
        self.done: list[str] = []
        self.purged = 0
        self.began = time.monotonic()

    def plan_chores(self) -> tuple[list[tuple[int, str]], set[int]]:
        """Where in the run each disruption falls: at random counts of registrations."""
        plan, rng = self.plan, self.rng
        span = range(plan.registrations // 10, plan.registrations * 9 // 10)
        kills = sorted(rng.sample(span, plan.kills))
        purge_at = set(rng.sample(kills, min(plan.purges, plan.kills)))
        chores = sorted([(n, "kill") for n in kills]
                        + [(n, "broker") for n in rng.sample(span, plan.broker_restarts)]
                        + [(n, "link") for n in rng.sample(span, plan.link_cuts)]
                        + [(n, "unplug") for n in rng.sample(span, plan.unplugs)])
        return chores, purge_at

    def accepted(self) -> int:
        """Registrations told so far, over every station process (read incrementally)."""
        total = 0
        for index, station in enumerate(list(self.stations)):
            read, found = self.counted.get(index, (0, 0))
            lines = station.lines[read:]
            found += sum(1 for ln in lines if TOLD.search(ln))
            self.counted[index] = (read + len(lines), found)
            total += found
        return total

    def feed(self) -> None:
        swallowed = 0
        for n in range(self.plan.registrations):
            # Codes a kill or an unplug swallowed are never told: after a second without
            # progress they are written off, and the queue moves on as a lane's does.
            waited_since = time.monotonic()
            while self.fed - self.accepted() - swallowed > AHEAD and not self.stop.is_set():
                if time.monotonic() - waited_since > 1.0:
                    swallowed = self.fed - self.accepted()
                    break
                time.sleep(0.002)
            if self.stop.is_set():
                return
            if n % 10 == 0:
                # A box goes every 20 tubes, as at a lane: a box never closed would make
                # every commit carry its whole tube list (see the notes of #14).
                if n and n % 200 == 0:
                    self.scanner.scan("CMD:BOX")
                self.scanner.scan(f"T{n // 10:07d}")
            self.scanner.scan(nth_synthetic_id(n + 1))
            self.fed = n + 1

    def sample(self) -> None:
        while not self.stop.wait(self.plan.sample_every_s):
            station = self.stations[-1]
            with contextlib.suppress(OSError, StopIteration):   # between a kill and a start
                rss, fds, threads = proc_figures(station.proc.pid)
                db_mb = sum(p.stat().st_size for p in self.data.glob("station.db*")) / 1e6
                self.samples.append(Sample(round(time.monotonic() - self.began, 1),
                                           self.accepted(), station.proc.pid, round(rss, 1),
                                           fds, threads, round(db_mb, 2)))

    def start_station(self) -> None:
        self.stations.append(StationProcess(self.config))
        self.stations[-1].wait_for(r"ready \(session", timeout=60)

    def chore(self, chore: str, purge: bool) -> None:
        if chore == "kill":
            self.stations[-1].kill()
            if purge:
                self.purged += age_deliveries(self.data / "station.db")
            self.start_station()
        elif chore == "broker":
            self.broker.stop()
            time.sleep(self.rng.uniform(0.5, 3))
            self.broker.start()
        elif chore == "link":
            self.proxy.down()
            time.sleep(self.rng.uniform(1, 5))
            self.proxy.up()
        else:
            self.scanner.unplug_for(self.rng.uniform(0.5, 2))
        self.done.append(chore)

    def run(self) -> dict[str, Any]:
        chores, purge_at = self.plan_chores()
        self.start_station()
        feeder = threading.Thread(target=self.feed, name="soak-feed")
        sampler = threading.Thread(target=self.sample, name="soak-sample")
        feeder.start()
        sampler.start()
        try:
            for at, chore in chores:
                while self.accepted() < at and feeder.is_alive():
                    time.sleep(0.05)
                self.say(f"  soak: {self.accepted():,} accepted, {chore}")
                self.chore(chore, at in purge_at)
            feeder.join()
            with contextlib.closing(sqlite3.connect(self.data / "station.db", timeout=30)) as c:
                last = int(c.execute("SELECT max(seq) FROM outbox").fetchone()[0] or 0)
            delivered_all = self.watcher.wait_for(lambda w: w.has_seqs_up_to(last), timeout=300)
            elapsed = time.monotonic() - self.began
        finally:
            self.stop.set()
            feeder.join()
            sampler.join()
            self.close()
        return self.result(last, delivered_all, elapsed)

    def close(self) -> None:
        for station in self.stations:
            station.stop()
        self.watcher.stop()
        self.proxy.close()
        self.broker.stop()
        self.scanner.close()

    def result(self, last: int, delivered_all: bool, elapsed: float) -> dict[str, Any]:
        told_all = set().union(*(told(s.lines) for s in self.stations))
        events = self.watcher.events()
        delivered = {(str(e["data"]["tube"]), str(e["data"]["position"])) for e in events
                     if e["type"] in REGISTERED}
        return {
            "registrations_fed": self.fed, "accepted_told": len(told_all),
            "lost": len(told_all - delivered), "last_seq": last,
            "delivered_all": delivered_all,
            "delivery_problems": len(delivery_problems(events)),
            "kills": self.done.count("kill"), "purged_events": self.purged,
            "broker_restarts": self.done.count("broker"),
            "link_cuts": self.done.count("link"), "unplugs": self.done.count("unplug"),
            "elapsed_s": round(elapsed, 1),
            "registrations_per_s": round(len(told_all) / elapsed, 1),
            "samples": [s.__dict__ for s in self.samples],
        }


def soak(plan: Plan, work: Path, say: Any = print) -> dict[str, Any]:
    return Soak(plan, work, say).run()


MIN_SETTLED = 6   # two samples a third at least, after the warm-up


def growth(samples: list[dict[str, Any]], key: str) -> float:
    """Within the longest-lived station process, after its first fifth (warm-up): the
    median of its last third minus that of its first. Reconnects and replugs make single
    samples jump by a few descriptors; a leak moves the medians."""
    by_pid: dict[int, list[dict[str, Any]]] = {}
    for s in samples:
        by_pid.setdefault(s["pid"], []).append(s)
    life = max(by_pid.values(), key=len, default=[])
    settled = [s[key] for s in life[len(life) // 5:]]
    if len(settled) < MIN_SETTLED:
        # Not a flat line: no line at all. A check that could not look must not pass.
        raise ValueError(f"{len(settled)} settled samples of {key} in the longest station "
                         f"life (at least {MIN_SETTLED} needed): sample more often")
    third = len(settled) // 3
    return float(statistics.median(settled[-third:]) - statistics.median(settled[:third]))
