"""A database that takes the collector's writes and never commits them: a primary whose
`synchronous_standby_names` names a standby that is not there (what a replica promoted
by hand keeps from pg_basebackup). The collector says so within its deadline, in its log
(what waits, and what the server says it waits for) and in its metrics, acknowledges
nothing meanwhile, and stores every event once when the database commits again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from central.ingest.collector import Collector
from central.ingest.commit_watch import COMMIT_DEADLINE_S, TICK_S
from tests.central.ha_traffic import Stations
from tests.conftest import eventually
from tools.broker import LocalBroker
from tools.central.postgres import Cluster, bindir, cluster

pytestmark = pytest.mark.broker

SAID = "the database does not commit: a batch of"
WHY = ("takes writes but does not commit: each commit waits for a synchronous standby "
       "(synchronous_standby_names = 'ghost', 0 streaming)")


@pytest.fixture
def pg() -> Iterator[Cluster]:
    if bindir() is None:
        pytest.skip("no PostgreSQL server binaries (apt-get install postgresql)")
    with cluster() as made:
        yield made


def standby_named(pg: Cluster, names: str) -> None:
    """synchronous_standby_names, reloaded (ALTER SYSTEM writes a file, not WAL: it takes
    effect while commits wait)."""
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{names}'")
        conn.execute("SELECT pg_reload_conf()")


def waited_s(collector: Collector) -> float:
    value = collector.metrics.registry.get_sample_value("natest_database_commit_wait_seconds")
    return float(value or 0)


def test_a_database_that_never_commits_is_said_within_the_deadline_then_all_stored_once(
        pg: Cluster, broker: LocalBroker, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    stations = Stations(tmp_path, broker.url, "stall", 20)
    collector = Collector(broker.url, pg.dsn).start()
    try:
        assert collector.subscribed.wait(10)
        stations.start()
        stations.record(5)
        assert eventually(lambda: collector.stored == 100, 30)
        standby_named(pg, "ghost")
        stations.record(5)
        began = time.monotonic()
        assert eventually(lambda: SAID in caplog.text, COMMIT_DEADLINE_S + 3 * TICK_S + 5)
        said_after = time.monotonic() - began
        assert COMMIT_DEADLINE_S - 1 <= said_after <= COMMIT_DEADLINE_S + 3 * TICK_S + 4
        assert WHY in caplog.text, caplog.text[-2000:]
        assert waited_s(collector) >= COMMIT_DEADLINE_S
        assert (collector.metrics.registry.get_sample_value(
            "natest_database_commit_stalls_total") or 0) >= 1
        assert collector.stored == 100 and collector.batcher.held > 0   # none acknowledged
        standby_named(pg, "")
        assert eventually(lambda: collector.stored == stations.sent == 200, 30)
        assert "the database answers again: a batch of" in caplog.text
        assert eventually(lambda: waited_s(collector) == 0, 5)
        with psycopg.connect(pg.dsn) as conn:
            assert conn.execute("SELECT count(*), count(DISTINCT id) FROM events "
                                "WHERE site = 'stall'").fetchone() == (200, 200)
    finally:
        collector.stop()
        stations.close()
