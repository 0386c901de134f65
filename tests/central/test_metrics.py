"""The collector's Prometheus metrics, scraped while a burst runs, read with the Prometheus
client's own parser; the example alert rules checked by Prometheus's promtool."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from paho.mqtt import publish
from prometheus_client.parser import text_string_to_metric_families

from tests.central.test_collector import status
from tools.broker import LocalBroker, free_port
from tools.central.loadgen import day_of_events

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.broker


def scrape(port: int) -> dict[str, float]:
    """name{labels} → value, as Prometheus would read the page."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
        text = page.read().decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


def until(port: int, check: Callable[[dict[str, float]], bool],
          timeout: float = 30) -> dict[str, float]:
    """The first scrape that passes `check` (the server may not be listening yet)."""
    deadline = time.monotonic() + timeout
    seen: dict[str, float] = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            seen = scrape(port)
            if check(seen):
                return seen
        time.sleep(0.1)
    raise AssertionError(f"never true; last scrape: {seen}")


def test_a_burst_is_counted_while_it_runs(tmp_path: Path, broker: LocalBroker) -> None:
    port = free_port()
    collector = subprocess.Popen(
        [sys.executable, "-m", "central.cli", "collect", "--mqtt-url", broker.url,
         "--db", str(tmp_path / "central.db"), "--client-id", "metrics-1",
         "--state-dir", str(tmp_path / "state"), "--metrics", f"127.0.0.1:{port}"],
        cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        until(port, lambda m: m["natest_gaps_open"] == 0)
        stations, per_station = 20, 400
        total = stations * per_station
        during: list[float] = []

        def watch() -> None:   # scrape all along the burst
            while not during or during[-1] < total:
                during.append(scrape(port)["natest_events_stored_total"])
                time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        generator = subprocess.Popen(
            [sys.executable, "-m", "tools.central.loadgen", "--port", str(broker.port),
             "--stations", str(stations), "--events", str(per_station)],
            cwd=ROOT, stdout=subprocess.DEVNULL)
        watcher.start()
        assert generator.wait(120) == 0
        watcher.join(60)
        assert any(0 < n < total for n in during), during   # seen while it ran
        # A gap (seq 5 of a new lane alone), a status, a message off the contract.
        lone = day_of_events("city", "lane-gap", 5)[4]
        for topic, payload in (
                lone, ("natest/v1/test-site/lane-09/status", json.dumps(status("online", 1))),
                ("natest/v1/city/lane-gap/events/tube.opened", b"{not json")):
            publish.single(topic, payload, qos=1, hostname="127.0.0.1", port=broker.port)
        final = until(port, lambda m: m["natest_gaps_open"] == 1 and m["natest_events_missing"]
                      == 4 and m["natest_gap_oldest_age_seconds"] > 0)
        assert final["natest_events_stored_total"] == total + 1
        assert final["natest_events_duplicate_total"] == 0
        assert final["natest_messages_quarantined_total"] == 1
        assert final["natest_stations{state=online}"] == 1
        assert final["natest_stations{state=unknown}"] == stations + 1
        assert final["natest_stations{state=lost}"] == 0
        assert final["natest_batch_size_count"] >= 2 and final["natest_batch_size_sum"] == \
            total + 3
        assert final["natest_commit_seconds_count"] == final["natest_batch_size_count"]
        assert final["natest_collector_unacknowledged"] == 0
        assert final["process_resident_memory_bytes"] > 10e6
    finally:
        collector.terminate()
        collector.wait(10)


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool: apt-get install prometheus (./setup.sh test does)")
def test_the_example_alert_rules_fire_when_they_should() -> None:
    done = subprocess.run(["promtool", "test", "rules", "alerts-test.yml"],
                          cwd=ROOT / "tests" / "prometheus", capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
