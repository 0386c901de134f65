"""A broker per district (README, "A broker per district"): two mosquitto brokers, each
with its district's stations and a collector group of two, into one PostgreSQL database.
Every event is stored once; one broker's death leaves the other district storing as
before, and its own stations keep what they record until it returns. The collectors run
as `collect` runs them (their gap checks every second): what the returning broker takes
from a station before its collectors have subscribed again is asked for again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from central.ingest.collector import Collector
from tests.central.ha_traffic import Stations, stored_once
from tests.conftest import eventually
from tools.broker import LocalBroker

pytestmark = pytest.mark.broker

DISTRICTS = ("east", "west")
STATIONS, EACH = 10, 10


@pytest.fixture
def brokers() -> Iterator[dict[str, LocalBroker]]:
    """Persistent, as config/mosquitto-central.conf has it: the collectors' sessions and
    their queues outlive a restart."""
    with LocalBroker(persistent=True) as east, LocalBroker(persistent=True) as west:
        yield {"east": east, "west": west}


def test_two_districts_two_brokers_one_database_every_event_once(
        brokers: dict[str, LocalBroker], pg_db: str, tmp_path: Path) -> None:
    collectors = [Collector(broker.url, pg_db, group="city", grace_s=3, retry_s=3,
                            client_id=f"collector-{district}-{n}")
                  for district, broker in brokers.items() for n in (1, 2)]
    stop = threading.Event()
    running = [threading.Thread(target=c.run, args=(stop,), daemon=True) for c in collectors]
    for thread in running:
        thread.start()
    stations = {district: Stations(tmp_path / district, broker.url, district, STATIONS)
                for district, broker in brokers.items()}
    try:
        assert all(c.subscribed.wait(10) for c in collectors)
        for lanes in stations.values():
            lanes.record(EACH)
            lanes.start()
        for district in DISTRICTS:
            assert eventually(partial(_holds, pg_db, district, STATIONS * EACH), 30)
        brokers["east"].stop()                      # the east's broker dies
        for lanes in stations.values():
            lanes.record(EACH)                      # both districts' lanes go on
        assert eventually(partial(_holds, pg_db, "west", 2 * STATIONS * EACH), 30)
        assert _holds(pg_db, "east", STATIONS * EACH)      # held at the east's stations
        brokers["east"].start()                     # back, its sessions restored
        assert eventually(partial(_holds, pg_db, "east", 2 * STATIONS * EACH), 60)
        for district in DISTRICTS:
            assert stored_once(pg_db, district) == (2 * STATIONS * EACH,) * 2
        assert sum(c.stored for c in collectors) == 4 * STATIONS * EACH
        assert all(c.stored > 0 for c in collectors)   # each group shared its district
        assert collectors[0].store.gaps() == []
    finally:
        stop.set()
        for thread in running:
            thread.join(15)
        for lanes in stations.values():
            lanes.close()


def _holds(dsn: str, district: str, events: int) -> bool:
    return stored_once(dsn, district)[0] == events
