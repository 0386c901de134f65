"""Retiring a collector from its `$share` group: three collectors, one retired, then a
50-station burst into PostgreSQL. Left with `leave`, the two others store every event,
with no replay. Merely stopped, its persistent session keeps its share of the stream on
the broker (the control: the problem, as mosquitto shows it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from central.ingest.collector import Collector
from central.ingest.leave import leave
from tests.burst import burst, registrations
from tools.broker import LocalBroker

pytestmark = pytest.mark.broker
STATIONS, PER_STATION = 50, 40


facts = registrations(PER_STATION)


def member(broker: LocalBroker, dsn: str, name: str) -> Collector:
    # No gap replay within the test: whatever is stored came through the group.
    collector = Collector(broker.url, dsn, group="city", client_id=name, grace_s=600,
                          retry_s=600).start()
    assert collector.subscribed.wait(10)
    return collector


@pytest.mark.parametrize("retired", ["left", "stopped"])
def test_a_retired_member_strands_nothing(retired: str, tmp_path: Path,
                                          broker: LocalBroker, pg_db: str) -> None:
    staying = [member(broker, pg_db, name) for name in ("c1", "c2")]
    member(broker, pg_db, "c3").stop()   # its session stays on the broker
    if retired == "left":
        assert leave(member(broker, pg_db, "c3")) == 0
    try:
        if retired == "left":
            total = burst(tmp_path, broker.url, staying, STATIONS, facts, site="city-site")
            assert sum(c.stored for c in staying) == total == STATIONS * PER_STATION
            assert staying[0].store.count("events") == total
            assert sum(c.replays for c in staying) == 0
        else:
            with pytest.raises(AssertionError):
                burst(tmp_path, broker.url, staying, STATIONS, facts, site="city-site",
                      wait_s=10)
            stored = sum(c.stored for c in staying)
            assert 0 < stored < STATIONS * PER_STATION   # the rest waits in c3's queue
    finally:
        for collector in staying:
            collector.stop()
