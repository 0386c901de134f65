"""A lane's install (`pip install .`, no central extra) runs the station's own bench:
station figures printed, central's skipped with one line naming the extra."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STATION_FIGURES = ["latency_p99_ms", "durable_per_s", "drain_events_per_s", "rss_mb",
                   "ready_s", "import_s", "day_db_mb"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lane_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("lane")
    source = work / "src"   # a copy: building in the checkout would leave build/ behind
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "__pycache__", "*.egg-info", "build", ".*_cache"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q",
                           "--disable-pip-version-check", str(source)],
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return venv


def test_a_lane_install_has_no_central_side(lane_venv: Path) -> None:
    for module in ("orjson", "jsonschema_rs", "openpyxl", "psycopg"):
        found = subprocess.run([str(lane_venv / "bin" / "python"), "-c", f"import {module}"],
                               capture_output=True, check=False)
        assert found.returncode != 0, f"{module} is installed on a lane"


def test_the_station_bench_runs_on_a_lane_install_and_skips_central_saying_why(
        lane_venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run([str(lane_venv / "bin" / "station"), "bench", "--size", "tiny",
                           "--json", str(out), "--dir", str(tmp_path),
                           "--log", str(tmp_path / "bench.log")],
                          capture_output=True, text=True, timeout=900, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    skipped = [line for line in done.stdout.splitlines() if "central figures skipped" in line]
    assert len(skipped) == 1 and "pip install '.[central]'" in skipped[0], done.stdout
    results = json.loads(out.read_text())
    assert [f for f in STATION_FIGURES if not isinstance(results.get(f), float)] == []
    assert not [k for k in results if k.startswith("ingest_")]
    assert "latency_p99_ms" in done.stdout and "ready_s" in done.stdout   # the table


def test_bench_central_on_a_lane_install_names_the_extra(lane_venv: Path) -> None:
    done = subprocess.run([str(lane_venv / "bin" / "station"), "bench", "central",
                           "--size", "tiny"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 1
    assert "pip install '.[central]'" in done.stderr and "Traceback" not in done.stderr
