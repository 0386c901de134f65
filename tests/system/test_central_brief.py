"""The daily brief made by its timer (#41): systemd/natest-central-brief.timer and .service
pass `systemd-analyze verify`, and scripts/central-brief, run as the service runs it (an
environment file), writes the brief into its folder whole, removes the briefs older than
the days to keep and nothing else, and refuses settings it cannot use, writing nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openpyxl import load_workbook

from central.store.open import open_store
from tests.central.round_days import play, write_sites
from tests.conftest import personal_data_in

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "central-brief"
UNITS = ("natest-central-brief.service", "natest-central-brief.timer")
DAY = 24 * 3600


def verify(root: Path, *units: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemd-analyze", "verify", f"--root={root}",
                           *(str(root / "usr/lib/systemd/system" / u) for u in units)],
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_the_timer_and_its_service_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    root = tmp_path / "root"
    script = root / "opt/natest-central/scripts/central-brief"
    script.parent.mkdir(parents=True)
    shutil.copy(SCRIPT, script)
    (root / "etc/natest-central").mkdir(parents=True)
    shutil.copy(REPO / "config/brief.env", root / "etc/natest-central/brief.env")
    units = root / "usr/lib/systemd/system"
    shutil.copytree("/usr/lib/systemd/system", units, symlinks=True)
    for unit in UNITS:
        shutil.copy(REPO / "systemd" / unit, units / unit)
    done = verify(root, *UNITS)
    said = [line for line in (done.stdout + done.stderr).splitlines() if "natest" in line]
    assert done.returncode == 0 and said == [], "\n".join(said)
    timer = (REPO / "systemd" / UNITS[1]).read_text()
    assert "OnCalendar=*-*-* 14:30:00 Asia/Shanghai" in timer.splitlines()
    assert "Persistent=true" in timer.splitlines()
    service = (REPO / "systemd" / UNITS[0]).read_text().splitlines()
    assert "User=natest-central" in service and "Type=oneshot" in service
    assert ("ExecStart=/opt/natest-central/scripts/central-brief --env "
            "/etc/natest-central/brief.env") in service


def natest_central(tmp_path: Path) -> Path:
    """This checkout's natest-central, as the venv's would be."""
    wrapper = tmp_path / "natest-central"
    wrapper.write_text(f"#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m central.cli "
                       '"$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def run_script(tmp_path: Path, settings: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env_file = tmp_path / "brief.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    env = {"PATH": os.environ["PATH"], "NATEST_CENTRAL": str(natest_central(tmp_path)),
           "HOME": str(tmp_path)}
    return subprocess.run([str(SCRIPT), "--env", str(env_file)], capture_output=True,
                          text=True, timeout=300, check=False, env=env)


@pytest.fixture
def settings(tmp_path: Path) -> dict[str, str]:
    db = tmp_path / "central.db"
    store = open_store(str(db))
    play(store)   # persons plain: a lab bench's
    store.close()
    return {"BRIEF_DB": str(db), "BRIEF_SITES": str(write_sites(tmp_path / "sites.toml")),
            "BRIEF_DIR": str(tmp_path / "briefs"), "BRIEF_KEEP_DAYS": "7",
            "BRIEF_FROM": "2026-12-03", "BRIEF_FORMATS": '"xlsx"'}


def aged(path: Path, days: float) -> Path:
    path.write_bytes(b"an old brief")
    then = time.time() - days * DAY
    os.utime(path, (then, then))
    return path


def test_the_script_writes_the_brief_whole_and_removes_the_old_ones(
        tmp_path: Path, settings: dict[str, str]) -> None:
    briefs = Path(settings["BRIEF_DIR"])
    briefs.mkdir()
    old = aged(briefs / "brief-2026-11-20-1430.pdf", 8)
    kept = aged(briefs / "brief-2026-11-28-1430.xlsx", 6)
    other = aged(briefs / "notes.txt", 30)   # not a brief: never the script's to remove
    done = run_script(tmp_path, settings)
    assert done.returncode == 0, done.stderr
    made = sorted(p for p in briefs.iterdir() if p not in (kept, other))
    assert [p.suffix for p in made] == [".xlsx"] and made[0].name.startswith("brief-"), made
    assert not old.exists() and kept.exists() and other.exists()
    assert made[0].stat().st_mode & 0o777 == 0o600
    assert [s.title for s in load_workbook(made[0]).worksheets] == ["采样点", "社区", "街道", "区"]
    assert f"wrote {made[0]}" in done.stdout and "removed 1 briefs older than 7 days" in done.stdout
    assert personal_data_in(done.stdout + done.stderr) == []


@pytest.mark.parametrize(("change", "said"), [
    ({"BRIEF_KEEP_DAYS": "a week"}, "BRIEF_KEEP_DAYS=a week"),
    ({"BRIEF_KEEP_DAYS": "0"}, "a whole number of days, 1 or more"),
    ({"BRIEF_DB": ""}, "BRIEF_DB is not set"),
    ({"BRIEF_FORMATS": "docx"}, "docx is not pdf or xlsx"),
    ({"BRIEF_KEEP": "7"}, "brief.env: line 7: BRIEF_KEEP is not a setting of the brief"),
])
def test_settings_it_cannot_use_are_said_and_nothing_written(
        tmp_path: Path, settings: dict[str, str], change: dict[str, str], said: str) -> None:
    done = run_script(tmp_path, settings | change)
    assert done.returncode == 2 and said in done.stderr, done.stderr
    assert not Path(settings["BRIEF_DIR"]).exists()


def test_a_brief_that_fails_leaves_no_file_behind(tmp_path: Path,
                                                  settings: dict[str, str]) -> None:
    done = run_script(tmp_path, settings | {"BRIEF_SITES": str(tmp_path / "none.csv")})
    assert done.returncode == 1 and "none.csv" in done.stderr, done.stderr
    assert "was not written" in done.stderr
    assert list(Path(settings["BRIEF_DIR"]).iterdir()) == []
