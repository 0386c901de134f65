"""Many stations publishing through a database fault, and what the fault cost: the
seconds without a writable database, the collector's longest stall, every event stored
once. For tests/central/test_patroni_faults.py and scripts/ha-bench.

The stations are real ones (their SQLite outbox, their uplink): each holds a backlog
when the fault starts (the burst of tests/burst.py) and records a few registrations a
second throughout (a district's lanes at work), so events are arriving while the
database is away and after it returns.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from central.ingest.collector import Collector
from station.config import MqttConfig
from station.core.state import State
from station.store import Store
from station.uplink import Sender, Uplink
from tests.burst import registrations

PROBE_EVERY_S = 0.2


class Stations:
    """`count` lanes of one site, each with its outbox and its uplink running."""

    def __init__(self, folder: Path, url: str, site: str, count: int) -> None:
        self.site, self.sent = site, 0
        self.stores = [Store(folder / f"s{n}" / "station.db", site, f"lane-{n:02d}")
                       for n in range(count)]
        self.uplinks = [Uplink(MqttConfig(url=url), Sender(site, f"lane-{n:02d}", 1),
                               store.path, health=dict, clock_synced=lambda: True)
                        for n, store in enumerate(self.stores)]
        self._made = [0] * count
        self._lock = threading.Lock()

    def record(self, each: int) -> None:
        """`each` more registrations at every lane, committed as a lane commits them."""
        for n, store in enumerate(self.stores):
            facts = registrations(self._made[n] + each)(n)[self._made[n]:]
            store.commit(facts, State(), dt.datetime.now(dt.UTC), True)
            self._made[n] += each
            with self._lock:
                self.sent += len(facts)
            self.uplinks[n].notify()

    def start(self) -> None:
        for uplink in self.uplinks:
            uplink.start()

    def close(self) -> None:
        for uplink in self.uplinks:
            uplink.stop()
        for store in self.stores:
            store.close()


@dataclass
class Watch:
    """Samples, every PROBE_EVERY_S: a write committed through the collector's DSN (the
    database is writable), and the collector's count of events stored."""
    dsn: str
    collector: Collector
    stations: Stations
    commits: list[float] = field(default_factory=list)
    stored: list[tuple[float, int, int]] = field(default_factory=list)  # (t, stored, sent)
    _stop: threading.Event = field(default_factory=threading.Event)

    def count(self) -> None:
        """The collector's count, sampled apart from the probe (which may wait)."""
        while not self._stop.wait(PROBE_EVERY_S / 2):
            self.stored.append((time.monotonic(), self.collector.stored, self.stations.sent))

    def probe(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        while not self._stop.wait(PROBE_EVERY_S):
            conn = self._probe(conn)
        if conn is not None:
            conn.close()

    def _probe(self, conn: psycopg.Connection[Any] | None) -> psycopg.Connection[Any] | None:
        warned: list[str] = []
        try:
            if conn is None or conn.closed:
                conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=1,
                                       options="-c statement_timeout=1000")
                conn.add_notice_handler(lambda notice: warned.append(str(notice.message_primary)))
                conn.execute("CREATE TABLE IF NOT EXISTS ha_probe (at timestamptz)")
            conn.execute("INSERT INTO ha_probe VALUES (now())")
            # A cancelled wait for a synchronous standby commits locally with only a
            # warning: not a commit a collector could count on.
            if not warned:
                self.commits.append(time.monotonic())
            return conn
        except psycopg.Error:
            if conn is not None:
                conn.close()
            return None

    def stop(self) -> None:
        self._stop.set()

    def without_writes_s(self, since: float) -> float:
        """The longest time from `since` on between two writes committed."""
        times = [since] + [t for t in self.commits if t > since]
        return round(max(b - a for a, b in itertools.pairwise(times))
                     if len(times) > 1 else time.monotonic() - since, 1)

    def stalled(self, since: float) -> tuple[float, float]:
        """The collector's longest stall from `since` on (events waiting, none stored),
        and when it stored again, counted from `since`."""
        longest, again = 0.0, 0.0
        began: float | None = None   # events waiting since, none stored meanwhile
        last = -1
        for t, stored, sent in (s for s in self.stored if s[0] >= since):
            if stored > last >= 0:
                if began is not None and t - began > longest:
                    longest, again = t - began, t - since
                began = None
            if began is None and sent > stored:
                began = t
            last = stored
        return round(longest, 1), round(again, 1) if longest >= 1 else 0.0


@contextmanager
def watched(dsn: str, collector: Collector, stations: Stations) -> Iterator[Watch]:
    watch = Watch(dsn, collector, stations)
    threads = [threading.Thread(target=job, name=f"ha-{job.__name__}", daemon=True)
               for job in (watch.count, watch.probe)]
    for thread in threads:
        thread.start()
    try:
        yield watch
    finally:
        watch.stop()
        for thread in threads:
            thread.join(5)


def stored_once(dsn: str, site: str) -> tuple[int, int]:
    """(rows, distinct ids) of `site` in the database at `dsn`."""
    with psycopg.connect(dsn, connect_timeout=3) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT id) FROM events WHERE site = %s",
                           [site]).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)
