"""The collector on PostgreSQL: two collectors in a $share group, one database, a burst
from 50 simulated stations. No event lost, no row twice. Reports read it too."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from central.ingest.collector import HOLD_MAX, Collector
from central.mqtt.codec import CHUNK
from central.reports import reports
from contract.events import Person, SampleRegistered
from station.store import Store
from tests.burst import burst
from tests.central.test_collector import ROOT, event, send
from tests.conftest import eventually
from tools.bench.drain import buffer_events
from tools.broker import LocalBroker
from tools.central.ingest import TOPIC
from tools.central.postgres import cluster, postgres

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    with postgres() as running:
        yield running


def test_two_collectors_store_a_50_station_burst_into_postgresql_once(
        tmp_path: Path, broker: LocalBroker, dsn: str) -> None:
    stations, per_station = 50, 40
    collectors = [Collector(broker.url, dsn, group="city").start() for _ in range(2)]
    assert all(c.subscribed.wait(10) for c in collectors)
    total = burst(tmp_path, broker.url, collectors, stations, lambda n: [
        SampleRegistered(
            tube=f"T{n:03d}{i // 10:03d}", position=i % 10 + 1, source="card",
            repeat_today=False,
            person=Person(id_type="resident", id_number=f"X{n:03d}{i:04d}", name="测试",
                          gender="unknown", birth="")) for i in range(per_station)],
        site="city-site")
    counts = [c.stored for c in collectors]
    assert [c.connections for c in collectors] == [1, 1]  # nobody took anybody's place
    assert collectors[0].store.count("events") == total and sum(counts) == total
    assert min(counts) > 0 and collectors[0].store.gaps() == []
    for c in collectors:
        c.stop()
    register = reports.run("register", dsn, None, None)
    assert register.count("\n") == total + 1          # a header and a row per person
    assert "测试" in register
    # One site's register: read through the server-side cursor with the site in SQL.
    assert reports.run("register", dsn, None, None, site="city-site") == register
    assert reports.run("register", dsn, None, None, site="elsewhere").count("\n") == 1
    # Into a file it streams station by station, and comes out byte for byte the same.
    out = tmp_path / "register.csv"
    assert reports.run("register", dsn, out, None) == ""
    assert out.read_bytes() == register.encode("utf-8")


def test_a_database_restart_holds_batches_then_stores_them_once(
        broker: LocalBroker, caplog: pytest.LogCaptureFixture) -> None:
    """PostgreSQL stops as in a crash and comes back: the collector says the database does
    not answer, holds what arrived meanwhile unacknowledged, tries again on new
    connections, and stores every event once when the database is back."""
    import psycopg  # noqa: PLC0415

    with cluster() as pg:
        collector = Collector(broker.url, pg.dsn, grace_s=60, retry_s=60).start()
        assert collector.subscribed.wait(10)
        try:
            for seq in (1, 2, 3):
                send(broker, f"{ROOT}/events/device.recovered", event(seq))
            assert eventually(lambda: collector.stored == 3, 10)
            pg.stop()
            for seq in (4, 5, 6):
                send(broker, f"{ROOT}/events/device.recovered", event(seq))
            assert eventually(lambda: "the database does not answer" in caplog.text, 10)
            assert collector.stored == 3
            pg.start()
            assert eventually(lambda: collector.stored == 6, 30)
            assert "the database answers again" in caplog.text
            with psycopg.connect(pg.dsn) as conn:
                rows = conn.execute("SELECT seq FROM events ORDER BY seq").fetchall()
            assert [seq for (seq,) in rows] == [1, 2, 3, 4, 5, 6]
        finally:
            collector.stop()


def test_a_collector_whose_database_is_away_holds_at_most_2000_and_leaves_the_rest_queued(
        tmp_path: Path, broker: LocalBroker) -> None:
    """The README's promise: while the database does not answer, the collector stops
    reading once HOLD_MAX (2,000) messages wait (at most one read of the socket beyond),
    so its memory stays bounded; the broker keeps the rest for its session."""
    import psycopg  # noqa: PLC0415

    store = Store(tmp_path / "station.db", "bench", "bench")
    payloads = buffer_events(store, 6000)
    store.close()
    with cluster() as pg:
        collector = Collector(broker.url, pg.dsn, grace_s=600, retry_s=1).start()
        assert collector.subscribed.wait(10)
        try:
            pg.stop()
            subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-h", "127.0.0.1",
                            "-q", "1", "-t", TOPIC, "-l"], input="\n".join(payloads).encode(),
                           check=True, timeout=120)
            assert eventually(lambda: collector.held_peak >= HOLD_MAX, 20)
            assert collector.stored == 0
            per_read = CHUNK // min(len(p) for p in payloads) + 1
            assert collector.held_peak < HOLD_MAX + per_read, collector.held_peak
            pg.start()
            assert eventually(lambda: collector.stored == 6000, 60), collector.stored
            assert collector.held_peak < HOLD_MAX + per_read
            with psycopg.connect(pg.dsn) as conn:
                stored = conn.execute("SELECT count(DISTINCT id), count(*) FROM events")
                assert stored.fetchone() == (6000, 6000)
        finally:
            collector.stop()
