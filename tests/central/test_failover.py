"""A PostgreSQL failover under a collector: a primary and a streaming replica from
Debian's PostgreSQL (pg_basebackup -R), synchronous so a commit is on both; the
collector given both hosts (target_session_attrs=read-write). Half of a 50-station
burst is stored, the primary is killed, the other half arrives while the replica is
promoted: every event is stored exactly once after the collector reconnects (the first
half from the replica's copy), the outage is in its log and metrics, and reports read
from a standby."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from central.ingest.collector import Collector
from central.reports import reports
from tests.burst import burst, registrations
from tests.conftest import eventually
from tools.broker import LocalBroker
from tools.central.postgres import Cluster, bindir

pytestmark = pytest.mark.broker
STATIONS, PER_STATION = 50, 40


@pytest.fixture
def pair() -> Iterator[tuple[Cluster, Cluster]]:
    if bindir() is None:
        pytest.skip("no PostgreSQL server binaries (apt-get install postgresql)")
    primary = Cluster()
    primary.start()
    standby = primary.standby()
    try:
        with psycopg.connect(primary.dsn, autocommit=True) as conn:
            assert eventually(lambda: conn.execute(
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
            ).fetchone() == (1,), 30)
            # Synchronous: a commit the collector was told of is on the replica too.
            conn.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
            conn.execute("SELECT pg_reload_conf()")
        yield primary, standby
    finally:
        standby.remove()
        primary.remove()


facts = registrations(PER_STATION)


def both(primary: Cluster, standby: Cluster) -> str:
    return (f"postgresql://natest@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/postgres"
            "?target_session_attrs=read-write&connect_timeout=3")


def test_a_killed_primary_loses_nothing_and_doubles_nothing(
        pair: tuple[Cluster, Cluster], tmp_path: Path, broker: LocalBroker,
        caplog: pytest.LogCaptureFixture) -> None:
    primary, standby = pair
    collector = Collector(broker.url, both(primary, standby), grace_s=5, retry_s=5).start()
    assert collector.subscribed.wait(10)
    # Reports read from the standby while the primary takes the writes.
    assert reports.run("register", standby.dsn, None, None).count("\n") == 1
    half = STATIONS // 2 * PER_STATION
    try:
        # Half the burst stored on the primary (and, synchronously, on its replica) ...
        burst(tmp_path / "before", broker.url, [collector], STATIONS // 2, facts,
              site="site-a")
        primary.stop()      # ... then the primary killed, as a crash (-m immediate),
        promote = threading.Timer(2.0, standby.promote)   # its replica promoted 2 s on,
        promote.start()
        # ... while the other half arrives.
        burst(tmp_path / "during", broker.url, [collector], STATIONS // 2, facts,
              site="site-b", wait_s=180)
        promote.join()
        with psycopg.connect(standby.dsn) as conn:
            rows, ids = conn.execute("SELECT count(*), count(DISTINCT id) FROM events"
                                     ).fetchone() or (0, 0)
        assert rows == ids == 2 * half
        failures = collector.metrics.registry.get_sample_value(
            "natest_database_write_failures_total")
        assert failures is not None and failures > 0
        assert "the database does not answer" in caplog.text
    finally:
        collector.stop()
