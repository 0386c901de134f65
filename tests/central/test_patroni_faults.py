"""The collector on a Patroni cluster, through each fault a city's database meets: every
event stored once. Debian's patroni, etcd-server and haproxy with PostgreSQL 15, run from
config/ as they are (tests/central/patroni_cluster.py); the collector reaches the leader
through HAProxy (README, "Failover"). Fifty stations publish through each fault
(tests/central/ha_traffic.py), which is measured: seconds without a writable database,
the collector's longest stall and when it stored again, events stored, duplicates.

The suite runs each fault once with a small backlog; scripts/ha-bench runs the same
tests with NATEST_HA_FULL=1 (a bigger burst, a longer watch) and prints the table that
RELIABILITY.md records.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from central.errors import FAILED, OK
from central.ingest.collector import Collector
from tests.central.ha_traffic import Stations, stored_once, watched
from tests.central.patroni_cluster import (
    PatroniCluster,
    missing_engines,
    patroni_cluster,
    waited,
)
from tests.conftest import eventually
from tools.broker import LocalBroker

pytestmark = pytest.mark.broker

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "natest-central@.service"
FULL = os.environ.get("NATEST_HA_FULL") == "1"
STATIONS = 50
BACKLOG = 40 if FULL else 10       # each station's backlog when the fault starts
EACH_SECOND = 4 if FULL else 1     # then registrations at each station every second
SETTLE_S = 5.0 if FULL else 2.0    # watched after the cluster is back
DRAIN_S = 180 if FULL else 60      # then every event stored within


@pytest.fixture(scope="module")
def engines() -> Iterator[PatroniCluster]:
    """Started with etcd down: the first test starts it (each fault starts what is not)."""
    if missing := missing_engines():
        pytest.skip(f"not installed: {', '.join(missing)} (./setup.sh test installs them)")
    with patroni_cluster(etcd_up=False) as made:
        yield made


@pytest.fixture
def cluster(engines: PatroniCluster) -> PatroniCluster:
    """The cluster with its etcd up (a test run alone), a leader and a synchronous standby."""
    engines.start_etcd()
    engines.wait_healthy(120)
    return engines


def collect(broker: LocalBroker, dsn: str, state: Path) -> subprocess.CompletedProcess[str]:
    """`natest-central collect` as its unit runs it, given 20 s to fail at its start."""
    return subprocess.run(
        [sys.executable, "-m", "central.cli", "collect", "--mqtt-url", broker.url, "--db", dsn,
         "--state-dir", str(state), "--instance", "1"], capture_output=True, text=True,
        timeout=20, check=False)


def check_db(dsn: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "central.cli", "check-db", "--db", dsn],
                          capture_output=True, text=True, timeout=30, check=False)


def test_etcd_unreachable_at_start_is_said_and_nothing_is_stored(
        engines: PatroniCluster, broker: LocalBroker, tmp_path: Path) -> None:
    """No etcd: Patroni makes no leader, HAProxy sends nowhere. The collector says that
    no database answers, where, and what to look at, and ends before it subscribes
    (status 1: its unit starts it again); check-db says the same. Once etcd is up, the
    cluster is made and the collector stores a burst once."""
    assert not engines.writable()
    ended = collect(broker, engines.dsn(), tmp_path / "state")
    assert ended.returncode == FAILED, ended.stderr
    said = ended.stderr.splitlines()[-1]
    assert f"no database answers at 127.0.0.1:{engines.haproxy_port}" in said, said
    assert "patronictl list" in said and engines.password not in ended.stderr
    assert "subscribed" not in ended.stderr
    assert check_db(engines.dsn()).returncode == FAILED
    engines.start_etcd()
    engines.wait_healthy(120)
    stations = Stations(tmp_path / "burst", broker.url, "ha-etcd-back", 10)
    collector = Collector(broker.url, engines.dsn()).start()
    try:
        assert collector.subscribed.wait(10)
        stations.record(20)
        stations.start()
        assert eventually(lambda: collector.stored == stations.sent == 200, 60)
    finally:
        collector.stop()
        stations.close()
    assert stored_once(engines.dsn(), "ha-etcd-back") == (200, 200)


def test_the_collectors_unit_starts_it_again_until_the_database_is_back() -> None:
    """A start without a database ends 1 (above): the unit restarts on it, for ever."""
    unit = dict(line.split("=", 1) for line in UNIT.read_text().splitlines()
                if "=" in line and not line.startswith(("#", " ")))
    assert unit["Restart"] == "always" and float(unit["RestartSec"]) <= 5
    assert unit["StartLimitIntervalSec"] == "0"
    assert str(FAILED) not in unit["RestartPreventExitStatus"].split()


def test_a_dsn_naming_only_a_standby_is_refused_naming_it(
        cluster: PatroniCluster, broker: LocalBroker, tmp_path: Path) -> None:
    standby = cluster.members[str(cluster.role("sync_standby"))]
    for ended in (collect(broker, cluster.member_dsn(standby.name), tmp_path / "state"),
                  check_db(cluster.member_dsn(standby.name))):
        assert ended.returncode == FAILED, ended.stderr
        assert (f"127.0.0.1:{standby.pg_port} is a standby (read-only"
                in ended.stderr.splitlines()[-1]), ended.stderr
        assert "subscribed" not in ended.stderr


def test_a_cluster_without_synchronous_mode_is_said(
        cluster: PatroniCluster, broker: LocalBroker, caplog: pytest.LogCaptureFixture) -> None:
    """check-db fails naming the setting; a collector says so at its start, and runs."""
    assert check_db(cluster.dsn()).returncode == OK
    cluster.patronictl("edit-config", "-s", "synchronous_mode=false", "--force", "natest")
    try:
        waited(lambda: check_db(cluster.dsn()).returncode == FAILED, 30, "asynchronous")
        said = check_db(cluster.dsn()).stderr
        assert "synchronous_standby_names is empty" in said and "synchronous_mode" in said
        Collector(broker.url, cluster.dsn()).start().stop()
        assert "commits are not synchronous" in caplog.text
    finally:
        cluster.patronictl("edit-config", "-s", "synchronous_mode=true", "--force", "natest")
    cluster.wait_healthy()
    assert check_db(cluster.dsn()).returncode == OK


@dataclass
class Fault:
    name: str
    inject: Callable[[], None]
    recovered: Callable[[], bool]            # the cluster is back as the fault leaves it
    ready: Callable[[], bool] | None = None  # when it may start (default: healthy)
    # Acknowledged events may be rewound away with an old leader: the collector's gap
    # checks then ask the stations again (counted as `lost_then_replayed`).
    replay: bool = False


def through(cluster: PatroniCluster, broker: LocalBroker, folder: Path, fault: Fault,
            figures: dict[str, dict[str, object]], *, dsn: str = "") -> dict[str, float]:
    """Fifty stations publishing into a collector while the fault breaks the database,
    watched until the cluster has recovered and every event is stored; the fault's
    figures. It starts once the cluster is ready (a leader and its synchronous standby)."""
    name, inject, recovered = fault.name, fault.inject, fault.recovered
    waited(fault.ready or cluster.healthy, 60, f"{name}: the cluster ready")
    dsn = dsn or cluster.dsn()
    stations = Stations(folder / name, broker.url, "ha-" + name.replace(" ", "-"), STATIONS)
    collector = Collector(broker.url, dsn, grace_s=5, retry_s=5).start()
    feeding = threading.Event()
    try:
        assert collector.subscribed.wait(10)
        stations.record(BACKLOG)
        with watched(cluster.dsn(), collector, stations) as watch:
            stations.start()
            feeder = threading.Thread(target=_feed, args=(stations, feeding), daemon=True)
            feeder.start()
            time.sleep(2)
            began = time.monotonic()
            inject()
            waited(recovered, 120, f"{name}: the cluster back")
            recovered_s = time.monotonic() - began
            time.sleep(SETTLE_S)
            feeding.set()
            feeder.join()
            assert eventually(lambda: collector.stored >= stations.sent, DRAIN_S), (
                f"{name}: {collector.stored} of {stations.sent} stored")
        rows, ids = stored_once(cluster.dsn(), stations.site)
        lost = stations.sent - rows
        if fault.replay:
            rows, ids = _replayed(cluster, collector, stations)
        stalled, again = watch.stalled(began)
        found: dict[str, float] = {
            "no_writable_db_s": watch.without_writes_s(began),
            "collector_stalled_s": stalled, "stores_again_after_s": again,
            "cluster_back_after_s": round(recovered_s, 1), "sent": stations.sent,
            "stored": rows, "duplicate_rows": rows - ids, "redelivered": collector.duplicates,
            **({"lost_then_replayed": lost} if fault.replay else {})}
        figures[f"ha: {name}"] = dict(found)
        assert rows == ids == stations.sent, found
        return found
    finally:
        feeding.set()
        collector.stop()
        stations.close()


def _replayed(cluster: PatroniCluster, collector: Collector,
              stations: Stations) -> tuple[int, int]:
    """The collector's main loop (its gap checks), until all is stored."""
    deadline = time.monotonic() + DRAIN_S
    while (found := stored_once(cluster.dsn(), stations.site))[0] < stations.sent:
        assert time.monotonic() < deadline, f"{found[0]} of {stations.sent} after replays"
        collector.tick()
        time.sleep(1)
    return found


def led_by(cluster: PatroniCluster, name: str) -> bool:
    return cluster.role("leader") == name and cluster.healthy()


def _holds(dsn: str, site: str, rows: tuple[int, int]) -> bool:
    return stored_once(dsn, site) == rows


def _feed(stations: Stations, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        stations.record(EACH_SECOND)


def test_the_leaders_postgresql_killed(cluster: PatroniCluster, broker: LocalBroker,
                                       tmp_path: Path, figures: dict[str, dict[str, object]]
                                       ) -> None:
    leader = cluster.leader()
    through(cluster, broker, tmp_path, Fault(
        "postmaster killed", lambda: cluster.kill_postmaster(leader), cluster.healthy), figures)


def test_a_switchover_and_back(cluster: PatroniCluster, broker: LocalBroker, tmp_path: Path,
                               figures: dict[str, dict[str, object]]) -> None:
    first = cluster.leader()
    other = next(name for name in cluster.members if name != first)
    for name, to in (("switchover", other), ("switchover back", first)):
        through(cluster, broker, tmp_path, Fault(
            name, partial(cluster.switchover, to), partial(led_by, cluster, to)), figures)


def test_one_etcd_member_down(cluster: PatroniCluster, broker: LocalBroker, tmp_path: Path,
                              figures: dict[str, dict[str, object]]) -> None:
    lead = cluster.etcd_leader()   # the worst one to lose: a new etcd leader is elected
    try:
        found = through(cluster, broker, tmp_path, Fault(
            "etcd leader down", lambda: cluster.etcd[lead].stop(signal.SIGKILL),
            cluster.healthy), figures)
    finally:
        cluster.start_etcd([lead])
    assert found["collector_stalled_s"] < 5


def test_the_leader_cut_off_then_rejoining(cluster: PatroniCluster, broker: LocalBroker,
                                           tmp_path: Path,
                                           figures: dict[str, dict[str, object]]) -> None:
    """The leader's Patroni killed: its lease expires and the standby takes over, while
    its PostgreSQL runs on unled (HAProxy stops sending there). Then its Patroni starts
    again, and the old leader rejoins as a replica by pg_rewind."""
    old = cluster.leader()
    patroni = cluster.members[old].patroni

    def taken_over() -> bool:
        return cluster.role("leader") not in (None, old) and cluster.writable()

    through(cluster, broker, tmp_path, Fault(
        "leader's Patroni killed", lambda: patroni.stop(signal.SIGKILL), taken_over), figures)
    through(cluster, broker, tmp_path, Fault(
        "old leader rejoins", patroni.start,
        lambda: cluster.role("sync_standby") == old and cluster.healthy(), ready=taken_over),
        figures)
    assert "pg_rewind" in patroni.log.read_text()
    # Its copy holds every event, synchronously: what the collector acknowledged.
    sites = [f"ha-{site}" for site in ("leader's-Patroni-killed", "old-leader-rejoins")]
    for site in sites:
        leaders = stored_once(cluster.dsn(), site)
        assert eventually(partial(_holds, cluster.member_dsn(old), site, leaders), 30)


if FULL:   # scripts/ha_bench.py only: a minute of a stuck collector is not for every run
    ORPHAN_S = 40.0   # the killed Patroni's host returns this long after

    def test_every_host_in_the_dsn_keeps_a_collector_on_an_orphaned_leader(
            cluster: PatroniCluster, broker: LocalBroker, tmp_path: Path,
            figures: dict[str, dict[str, object]], caplog: pytest.LogCaptureFixture) -> None:
        """Why HAProxy (README, "Failover"): with the members' hosts in the DSN and
        target_session_attrs=read-write, the leader's PostgreSQL, running on without its
        Patroni, is still read-write to libpq. The collector stays on it; once the
        standby is promoted, its commits wait for a standby that left, said within the
        deadline, until that host's Patroni returns: it rewrites postgresql.conf without
        synchronous_standby_names and reloads, the waiting commit returns as done, and
        the collector acknowledges a batch that pg_rewind then takes away. The stations
        still hold it: the gap checks ask for it again."""
        old = cluster.leader()
        patroni = cluster.members[old].patroni

        def inject() -> None:
            patroni.stop(signal.SIGKILL)
            threading.Timer(ORPHAN_S, patroni.start).start()

        found = through(cluster, broker, tmp_path, Fault(
            "leader's Patroni killed, hosts in the DSN", inject,
            lambda: cluster.role("sync_standby") == old and cluster.healthy(), replay=True),
            figures, dsn=cluster.hosts_dsn())
        assert "takes writes but does not commit" in caplog.text
        assert found["collector_stalled_s"] >= ORPHAN_S - 15
