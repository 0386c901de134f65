"""`./setup.sh install-central --root DIR`: central's install, into a folder, checked as
Debian expects it (#42): a virtualenv of its own with the central extra, the collector's
unit pointing into it, a service user, its folders and their modes, and nothing added to
the system's Python (which Debian 12 refuses a pip install into: PEP 668).

The script creates the service user with `useradd --root`, so it needs root, as on a
server.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.system.test_install import account, owned

REPO = Path(__file__).resolve().parents[2]
UNIT = "natest-central@.service"
BRIEF_UNITS = ("natest-central-brief.service", "natest-central-brief.timer",
               "natest-central-index.service", "natest-central-index.timer")
VENV = "opt/natest-central/.venv"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="useradd --root needs root, as on a server"),
]


def install(root: Path) -> str:
    done = subprocess.run([str(REPO / "setup.sh"), "install-central", "--root", str(root)],
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def system_packages() -> dict[str, list[str]]:
    """What the system's Python holds: the site folders of `python3` (the one the
    installer runs) and of Debian's own, and which of central's modules they import."""
    pythons = [p for p in ("python3", "/usr/bin/python3") if shutil.which(p)]
    folders: set[str] = set()
    for python in pythons:
        folders.update(subprocess.run(
            [python, "-c", "import site; print('\\n'.join(site.getsitepackages() + "
                           "[site.getusersitepackages()]))"],
            capture_output=True, text=True, timeout=60, check=True).stdout.split())
    held = {f: sorted(os.listdir(f)) for f in sorted(folders) if os.path.isdir(f)}
    held["import"] = [f"{python}: {m}" for python in pythons
                      for m in ("orjson", "jsonschema_rs", "openpyxl", "psycopg", "central")
                      if subprocess.run([python, "-c", f"import {m}"], cwd="/",
                                        capture_output=True, check=False).returncode == 0]
    return held


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("central-root")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def before() -> dict[str, list[str]]:
    return system_packages()


@pytest.fixture(scope="module")
def first_run(root: Path, before: dict[str, list[str]]) -> str:
    return install(root)


def test_the_venvs_natest_central_runs_with_the_central_extra(
        root: Path, first_run: str) -> None:
    binary = root / VENV / "bin/natest-central"
    done = subprocess.run([str(binary), "--help"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0 and "collect" in done.stdout, done.stderr
    python = str(root / VENV / "bin/python")
    for module in ("orjson", "jsonschema_rs", "openpyxl", "psycopg", "prometheus_client"):
        found = subprocess.run([python, "-c", f"import {module}"], capture_output=True,
                               text=True, check=False, cwd="/")
        assert found.returncode == 0, f"{module}: {found.stderr}"
    # Its own packages alone: not the system's (Debian's orjson stays Debian's).
    assert "include-system-site-packages = false" in (root / VENV / "pyvenv.cfg").read_text()
    assert "installed natest-central into /opt/natest-central/.venv" in first_run
    assert "natest-central@1" in first_run and "useradd" not in first_run


def test_nothing_was_added_to_the_systems_python(
        before: dict[str, list[str]], first_run: str) -> None:
    assert system_packages() == before
    assert not [m for m in before["import"] if m.endswith(": central")]


def test_the_service_user_its_folders_and_their_modes(root: Path, first_run: str) -> None:
    user = account(root, "passwd", "natest-central")
    assert user[5] == "/var/lib/natest-central" and user[6] == "/usr/sbin/nologin"
    assert int(user[2]) < 1000, "a system account"
    uid, gid = int(user[2]), int(user[3])
    owned(root / "etc/natest-central", 0o750, 0, gid)
    owned(root / "var/lib/natest-central", 0o700, uid, gid)
    unit = root / "etc/systemd/system" / UNIT
    owned(unit, 0o644, 0, 0)
    assert unit.read_bytes() == (REPO / "systemd" / UNIT).read_bytes()
    # Not enabled: its ExecStart holds the example broker and database until the site's.
    assert not (root / "etc/systemd/system/multi-user.target.wants").exists()
    # The service must not be able to change its own code; no tests on a server.
    for path in (root / "opt/natest-central", root / "opt/natest-central/central/cli.py",
                 root / VENV / "bin/natest-central"):
        info = path.stat()
        assert info.st_uid == 0 and not info.st_mode & 0o022, path
    assert not (root / "opt/natest-central/tests").exists()
    assert stat.S_ISDIR((root / "opt/natest-central/tools/central").stat().st_mode)


def test_the_units_execstart_runs_the_venvs_natest_central(root: Path, first_run: str) -> None:
    text = (root / "etc/systemd/system" / UNIT).read_text()
    (program,) = re.findall(r"^ExecStart=(\S+)", text, re.MULTILINE)
    assert program == f"/{VENV}/bin/natest-central"
    assert os.access(root / program.lstrip("/"), os.X_OK)
    assert "User=natest-central" in text.splitlines()
    assert "StateDirectory=natest-central" in text.splitlines()


def test_the_daily_briefs_timer_service_and_settings_are_installed_not_enabled(
        root: Path, first_run: str) -> None:
    gid = int(account(root, "passwd", "natest-central")[3])
    for unit in BRIEF_UNITS:
        path = root / "etc/systemd/system" / unit
        owned(path, 0o644, 0, 0)
        assert path.read_bytes() == (REPO / "systemd" / unit).read_bytes()
    settings = root / "etc/natest-central/brief.env"
    owned(settings, 0o640, 0, gid)   # a DSN may hold a password: root's, the service reads
    assert settings.read_bytes() == (REPO / "config/brief.env").read_bytes()
    assert os.access(root / "opt/natest-central/scripts/central-brief", os.X_OK)
    assert not (root / "etc/systemd/system/timers.target.wants").exists()
    assert "natest-central-brief.timer" in first_run
    assert "natest-central-index.timer" in first_run


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_the_installed_unit_passes_systemd_analyze_verify(root: Path, first_run: str) -> None:
    # The targets the unit names come with systemd: the root gets this machine's.
    units = root / "usr/lib/systemd/system"
    if not units.exists():
        shutil.copytree("/usr/lib/systemd/system", units, symlinks=True)
    done = subprocess.run(["systemd-analyze", "verify", f"--root={root}",
                           "natest-central@1.service", *BRIEF_UNITS],
                          capture_output=True, text=True, timeout=60, check=False)
    said = [line for line in (done.stdout + done.stderr).splitlines() if "natest" in line]
    assert done.returncode == 0 and said == [], "\n".join(said)


def test_a_second_run_keeps_the_venv_and_the_user(root: Path, first_run: str) -> None:
    venv_made = (root / VENV / "pyvenv.cfg").stat().st_mtime_ns
    (root / "etc/natest-central/mqtt-password").write_text("site's own\n")
    (root / "etc/natest-central/brief.env").write_text("BRIEF_DB=site's own\n")
    again = install(root)
    assert "created user" not in again
    account(root, "passwd", "natest-central")            # still exactly one
    assert (root / VENV / "pyvenv.cfg").stat().st_mtime_ns == venv_made
    assert (root / "etc/natest-central/mqtt-password").read_text() == "site's own\n"
    assert (root / "etc/natest-central/brief.env").read_text() == "BRIEF_DB=site's own\n"
