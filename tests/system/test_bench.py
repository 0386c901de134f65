"""The benchmark suite runs, tiny, and reports every figure. No timing is asserted."""

import importlib.util
import json
from pathlib import Path

import pytest

from station.cli import main
from station.exit_status import USAGE
from tools.bench import central_missing, pi, process, table
from tools.bench.common import station_toml
from tools.broker import LocalBroker
from tools.central import ingest

FIGURES = ["latency_p50_ms", "latency_p99_ms", "durable_per_s", "durable_ratio",
           "drain_events_per_s", "drain_ratio_vs_paho", "rss_mb", "ready_s", "ready_floor_s",
           "import_s", "day_db_mb", "day_db_after_purge_mb", "latency_floor_p99_ms",
           "durable_bare_commits_per_s", "drain_paho_per_s", "rss_baseline_mb",
           "rss_over_libraries_mb",
           "ingest_sqlite_per_s", "ingest_postgresql_per_s", "ingest_mosquitto_sub_per_s",
           "prompt_latency_p50_ms", "prompt_latency_p99_ms", "prompt_spawn_floor_p99_ms",
           "card_to_accept_p50_ms", "card_to_accept_p99_ms", "card_read_floor_p99_ms",
           "card_station_share_p99_ms", "card_phone_to_accept_p50_ms",
           "card_phone_to_accept_p99_ms", "phone_to_accept_p99_ms",
           "seal_ms", "seal_own_agreement_ms", "digest_ms",
           "open_ms", "open_own_agreement_ms"]


def test_a_daemon_that_never_comes_online_is_an_error_not_a_ready_time(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text(station_toml(tmp_path / "data"))   # a broker nobody listens on
    with LocalBroker() as broker, pytest.raises(RuntimeError, match="never came online"):
        process._started(config, broker.url, timeout=3)


@pytest.mark.slow
def test_tiny_bench_reports_every_figure(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    log = tmp_path / "bench.log"
    assert main(["bench", "--size", "tiny", "--json", str(out), "--dir", str(tmp_path),
                 "--log", str(log)]) == 0
    results = json.loads(out.read_text())
    missing = [f for f in FIGURES if not isinstance(results.get(f), float)]
    assert missing == []
    assert results["rss_after_registrations"] == 60   # every registration was accepted
    assert results["machine"]["sqlite"]
    printed = capsys.readouterr().out
    assert "latency_p99_ms" in printed and "drain_ratio_vs_paho" in printed
    # Progress on the screen, the stations' own lines in the file.
    assert "[11/11] ID card on the reader to accepted, and with its phone typed:" in printed
    assert "seal_ms" in printed and "digest_ms" in printed
    assert "ready (session" not in printed and "ready (session" in log.read_text()


@pytest.mark.slow
def test_only_ready_measures_the_start_alone(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ready.json"
    assert main(["bench", "--size", "tiny", "--only", "ready", "--json", str(out),
                 "--dir", str(tmp_path), "--log", str(tmp_path / "bench.log")]) == 0
    results = json.loads(out.read_text())
    figures = {k for k, v in results.items() if isinstance(v, float)}
    assert figures == {"ready_s", "ready_max_s", "ready_floor_s"}
    assert "[1/1] daemon ready:" in capsys.readouterr().out


def test_only_a_step_the_bench_has(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--only", "readiness"]) == USAGE
    said = capsys.readouterr().err
    assert "station bench: --only readiness: no such step (the steps: import, durable" in said
    assert main(["bench", "central", "--only", "ready"]) == USAGE
    assert "--only picks steps of the station's bench, not central's" in \
        capsys.readouterr().err


@pytest.mark.slow
def test_without_psycopg_the_postgresql_figure_is_skipped_with_a_note(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "psycopg" else real(name, *a))
    results = ingest.ingest(20, tmp_path)
    assert "ingest_postgresql_per_s" not in results
    assert isinstance(results["ingest_sqlite_per_s"], float)
    assert "PostgreSQL ingest skipped: psycopg is not installed" in capsys.readouterr().out


def test_where_centrals_benches_are_not_installed_bench_central_says_so(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A lane's install (scripts/install-station) leaves tools/central/ out: even with
    the central extra there, `station bench central` names why it cannot run."""
    assert central_missing() is None
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tools.central" else real(name, *a))
    assert main(["bench", "central", "--size", "tiny"]) == 1
    said = capsys.readouterr().err
    assert "station bench central: central figures skipped" in said
    assert "leaves tools/central/ out" in said


@pytest.mark.slow
def test_the_pi_profile_runs_the_bench_under_a_cpu_quota_and_slow_fsync(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        with pi.CpuQuota(0.3):
            pass
        pi.build_shim(tmp_path)
    except pi.ProfileError as exc:
        pytest.skip(str(exc))
    out = tmp_path / "pi.json"
    code = main(["bench", "--pi", "--size", "tiny", "--json", str(out), "--dir", str(tmp_path),
                 "--log", str(tmp_path / "bench.log")])
    assert code == 0, capsys.readouterr().err
    results = json.loads(out.read_text())
    assert results["profile"] == "pi: 30% of one core, 8 ms per fsync"
    # The constraints took hold (a slow machine can only make these larger and smaller).
    assert results["profile_fsync_ms"] >= 8.0
    assert results["profile_cpu_share"] <= 0.45
    pi_figures = [f for f in FIGURES if not f.startswith("ingest_")]
    assert [f for f in pi_figures if not isinstance(results.get(f), float)] == []
    assert "ingest_sqlite_per_s" not in results      # central does not run on a lane


def test_on_a_pi_the_drain_is_judged_against_paho_under_the_same_quota() -> None:
    figures: dict[str, object] = {"drain_events_per_s": 2100.0, "drain_paho_per_s": 2500.0,
                                  "drain_ratio_vs_paho": 0.84}

    def row(results: dict[str, object], figure: str) -> str:
        return next(line for line in table(results).splitlines() if line.startswith(figure))

    assert row(figures, "drain_events_per_s").endswith("≥ 5,000/s  NO")
    profiled = {**figures, "profile": "pi: 30% of one core, 8 ms per fsync"}
    assert row(profiled, "drain_events_per_s").rstrip().endswith("report")
    assert row(profiled, "drain_ratio_vs_paho").endswith("≥ 0.8      yes")


@pytest.mark.slow
def test_the_central_bench_stores_every_event_once_in_every_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tiny: 20 stations, mosquitto_sub, SQLite, PostgreSQL with 1 and 2 collectors, and
    one collector of each with every person sealed; each collector run raises unless
    every event is in the database exactly once."""
    out = tmp_path / "central.json"
    assert main(["bench", "central", "--size", "tiny", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    runs = ["sqlite_1", "postgresql_1", "postgresql_2", "sqlite_1_sealed", "postgresql_1_sealed"]
    for run in runs:
        for figure in ("per_s", "latency_p99_ms", "rss_mb", "cpu_us_per_event"):
            assert isinstance(results[f"central_20_{run}_{figure}"], float), (run, figure)
        assert results[f"central_20_{run}_failed_batches"] == 0   # no deadlock, no error
        assert results[f"central_20_{run}_cpu_us_per_event"] > 0
    assert isinstance(results["central_20_mosquitto_sub_per_s"], float)
    stages = ("split and parse", "topic", "JSON decode", "validate", "sqlite write",
              "postgresql write")
    assert all(results[f"stage_{name}"] > 0 for name in stages)
    printed = capsys.readouterr().out
    assert all(run in printed for run in runs)
    assert "postgresql: write" in printed and "the rest" in printed
    # The reports, timed on a database written through the collector's batch path.
    assert results["reports_events"] == 20_000 and results["reports_database"] == "postgresql"
    assert results["reports_missing_rows"] == -(-results["reports_register_one_site_rows"] // 10)
    assert results["reports_register_all_rows"] == results["reports_people"]
    assert 0 < results["reports_register_one_site_rows"] < results["reports_register_all_rows"]
    assert "register_one_site" in printed
    # The same day sealed, opened with central's key: the same rows, timed (#28).
    assert results["reports_register_all_sealed_rows"] == results["reports_register_all_rows"]
    assert results["reports_register_one_site_sealed_rows"] == \
        results["reports_register_one_site_rows"]
    assert "register_all sealed" in printed


@pytest.mark.slow
def test_the_lab_bench_imports_every_row_and_recalls_every_person_of_its_positives(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tiny: 20,000 events on PostgreSQL, 1,000 result rows, 100 positive tubes of ten;
    then every tube boxed and received at three labs, each lab's row counted; then 40
    positive pools and their 400 single tubes, followed person by person; then the brief
    of the two days (the bench ends with an error if a report's row is not as counted or
    planned)."""
    out = tmp_path / "lab.json"
    assert main(["bench", "lab", "--size", "tiny", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["database"] == "postgresql" and results["import_rows"] == 1_000
    assert results["positives_rows"] == 100 * 10   # loadgen's tubes hold ten people each
    assert results["ingest_with_indexes_per_s"] > 0 and results["ingest_without_per_s"] > 0
    # Each pool's first confirmed; one pool in ten's second swabbed before the pool's
    # result, one in four's third waiting, one in twenty's fourth invalid again.
    assert {k: v for k, v in results.items() if k.startswith("followup_") and
            isinstance(v, int)} == {"followup_pools": 40, "followup_confirmed": 40,
                                    "followup_to_resample": 4, "followup_waiting": 10,
                                    "followup_invalid_again": 2, "followup_cleared": 344,
                                    "followup_events": 40 * 12 + 400 * 3,
                                    "followup_positives_rows": 400 + 40 + 2}
    # Every sealed tube boxed (four lanes, 416 each, 50 a box) and received; the last
    # lane's boxes at 06:00, none of its tubes resulted: each overdue by 20:00.
    assert (results["labs_boxes"], results["labs_tubes"], results["labs_overdue"]) == (
        4 * 9, 4 * 416, 416)
    # The brief of the two days (the bench ends with an error if its whole's people,
    # tubes and results back are not the database's): the day's 100 positive pools and
    # the follow-up's 40, their 1,400 people; 1,000 results, 40 pools', 390 singles'.
    assert (results["brief_people"], results["brief_tubes"]) == (
        results["people"] + 40 * 10 + 400, 4 * 416 + 40 + 400)
    assert (results["brief_results_back"], results["brief_positive_pools"],
            results["brief_pool_people"]) == (1_000 + 40 + 390, 140, 1_400)
    assert isinstance(results["brief_s"], float) and results["brief_format"] in ("pdf", "xlsx")
    printed = capsys.readouterr().out
    assert "report positives, 100 tubes (1,000 people)" in printed
    assert "report labs, 36 boxes (1,664 tubes)" in printed
    assert "report followup, 40 pools (400 people)" in printed


@pytest.mark.slow
def test_the_coverage_bench_counts_every_sampled_person_of_its_roster_cold_and_warm(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tiny: 20,000 sealed events on PostgreSQL (16,668 people, each a number of their
    own), a roster of 20,000 holding nine in ten of them; coverage three times (cold,
    warm, 1/72 of the day not yet indexed), its 已检 the roster's sampled people each
    time, and the brief with the roster, its day's people, 应检 and 已检 too (the bench
    ends with an error otherwise)."""
    out = tmp_path / "coverage.json"
    assert main(["bench", "coverage", "--size", "tiny", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["database"] == "postgresql" and results["registrations"] == 16_668
    assert results["tested"] == 15_001 and results["roster"] == 20_000
    assert results["cold_s"] > 0 and results["warm_s"] > 0 and results["timer_s"] > 0
    assert results["unindexed"] == 16_668 // 72
    said = capsys.readouterr().out
    assert "report coverage, cold" in said and "231 registrations not yet indexed" in said
    assert results["brief_s"] > 0 and "report brief --roster" in said
