"""The benchmark suite runs, tiny, and reports every figure. No timing is asserted."""

import json
from pathlib import Path

import pytest

from station.cli import main

FIGURES = ["latency_p50_ms", "latency_p99_ms", "durable_per_s", "durable_ratio",
           "drain_events_per_s", "drain_ratio_vs_paho", "rss_mb", "ready_s", "import_s",
           "day_db_mb", "day_db_after_purge_mb", "latency_floor_p99_ms",
           "durable_bare_commits_per_s", "drain_paho_per_s", "rss_baseline_mb",
           "ingest_sqlite_per_s", "ingest_postgresql_per_s", "ingest_mosquitto_sub_per_s",
           "prompt_latency_p50_ms", "prompt_latency_p99_ms", "prompt_spawn_floor_p99_ms"]


@pytest.mark.slow
def test_tiny_bench_reports_every_figure(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "--size", "tiny", "--json", str(out), "--dir", str(tmp_path)]) == 0
    results = json.loads(out.read_text())
    missing = [f for f in FIGURES if not isinstance(results.get(f), float)]
    assert missing == []
    assert results["rss_after_registrations"] == 60   # every registration was accepted
    assert results["machine"]["sqlite"]
    printed = capsys.readouterr().out
    assert "latency_p99_ms" in printed and "drain_ratio_vs_paho" in printed
