"""Many stations draining their backlogs at once: the burst after a district-wide outage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from central.ingest.collector import Collector
from contract.events import Person, SampleRegistered
from station.config import MqttConfig
from station.core.messages import Fact
from station.core.state import State
from station.store import Store
from station.uplink import Sender, Uplink
from tests.conftest import eventually


def burst(tmp_path: Path, url: str, collectors: list[Collector], stations: int,
          facts: Callable[[int], list[Fact]], *, site: str = "burst-site",
          wait_s: float = 120) -> int:
    """Record facts(n) at each station n, release all uplinks together, and wait until
    the collectors stored them all; returns how many events were sent."""
    uplinks, stores = [], []
    total = 0
    for n in range(stations):
        store = Store(tmp_path / f"s{n}" / "station.db", site, f"lane-{n:02d}")
        batch = facts(n)
        store.commit(batch, State(), dt.datetime.now(dt.UTC), True)
        total += len(batch)
        stores.append(store)
        uplinks.append(Uplink(MqttConfig(url=url), Sender(site, f"lane-{n:02d}", 1),
                              store.path, health=dict, clock_synced=lambda: True))
    before = sum(c.stored for c in collectors)
    for uplink in uplinks:
        uplink.start()
    try:
        assert eventually(lambda: sum(c.stored for c in collectors) - before >= total,
                          timeout=wait_s)
    finally:
        for uplink in uplinks:
            uplink.stop()
        for store in stores:
            store.close()
    return total


def registrations(per_station: int) -> Callable[[int], list[Fact]]:
    """Station n's facts for a burst: `per_station` people, ten to a tube."""
    def facts(n: int) -> list[Fact]:
        return [SampleRegistered(tube=f"T{n:03d}{i // 10:03d}", position=i % 10 + 1,
                                 source="card", repeat_today=False,
                                 person=Person(id_type="resident",
                                               id_number=f"X{n:03d}{i:04d}", name="测试",
                                               gender="unknown", birth=""))
                for i in range(per_station)]
    return facts
