"""`./setup.sh install --root DIR`: the Pi install, into a folder, checked file by file.

The script creates the service user with `useradd --root`, so it needs root, as on a Pi.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.central_keys import key_pair

REPO = Path(__file__).resolve().parents[2]
UNIT = "natest-station.service"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="useradd --root needs root, as on a Pi"),
]


def install(root: Path, *options: str, prefix_env: str | None = None) -> str:
    """An unattended install (no terminal to ask on), with `options` and, when given,
    NATEST_TUBE_PREFIX in its environment."""
    env = {k: v for k, v in os.environ.items() if k != "NATEST_TUBE_PREFIX"}
    if prefix_env is not None:
        env["NATEST_TUBE_PREFIX"] = prefix_env
    done = subprocess.run([str(REPO / "setup.sh"), "install", "--root", str(root), *options],
                          capture_output=True, text=True, timeout=600, check=False,
                          stdin=subprocess.DEVNULL, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def account(root: Path, file: str, name: str) -> list[str]:
    rows = [line.split(":") for line in (root / "etc" / file).read_text().splitlines()]
    found = [row for row in rows if row[0] == name]
    assert len(found) == 1, f"{file}: {name} appears {len(found)} times"
    return found[0]


def owned(path: Path, mode: int, uid: int, gid: int) -> None:
    info = path.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (mode, uid, gid), path


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("pi-root")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def first_run(root: Path) -> str:
    return install(root)


def test_the_service_user_and_its_groups(root: Path, first_run: str) -> None:
    user = account(root, "passwd", "natest")
    assert user[5] == "/var/lib/natest-station" and user[6] == "/usr/sbin/nologin"
    assert int(user[2]) < 1000, "a system account"
    for group in ("dialout", "input", "gpio", "audio", "video"):
        assert "natest" in account(root, "group", group)[3].split(","), group


def test_every_file_has_its_owner_and_mode(root: Path, first_run: str) -> None:
    uid, gid = (int(f) for f in account(root, "passwd", "natest")[2:4])
    assert "wrote the config skeleton /etc/natest-station/station.toml" in first_run
    # The config may hold broker credentials: root writes it, the service reads it.
    owned(root / "etc/natest-station", 0o750, 0, gid)
    owned(root / "etc/natest-station/station.toml", 0o640, 0, gid)
    # Registrations are personal data: the service user's alone.
    owned(root / "var/lib/natest-station", 0o700, uid, gid)
    owned(root / "etc/udev/rules.d/99-natest-station.rules", 0o644, 0, 0)
    unit = root / "etc/systemd/system" / UNIT
    owned(unit, 0o644, 0, 0)
    assert unit.read_bytes() == (REPO / "systemd" / UNIT).read_bytes()
    wants = root / "etc/systemd/system/multi-user.target.wants" / UNIT
    assert os.readlink(wants) == f"/etc/systemd/system/{UNIT}"
    # The service must not be able to change its own code.
    for path in (root / "opt/natest-station", root / "opt/natest-station/station/runner.py"):
        info = path.stat()
        assert info.st_uid == 0 and not info.st_mode & 0o022, path


def test_a_lane_carries_no_test_harness(root: Path, first_run: str) -> None:
    """The daemon, its drivers, the technician's commands and the bench: not the tests,
    nor what only they use (the power-cut filesystem, the proxy, the soak), nor central's
    benches, load generator and PostgreSQL builder."""
    app = root / "opt/natest-station"
    assert (app / "station/runner.py").is_file() and (app / "tools/bench").is_dir()
    assert not (app / "tests").exists() and not (app / "tools/central").exists()
    # What pip installed of ours (the venv also sees the system's packages, as on a Pi).
    shown = subprocess.run([str(app / ".venv/bin/pip"), "show", "-f", "natest-station"],
                           capture_output=True, text=True, timeout=60, check=True).stdout
    files = [line.strip() for line in shown.split("Files:", 1)[1].splitlines()]
    assert any(f.startswith("station/") for f in files)
    assert [f for f in files if f.startswith(("tests/", "tests\\"))] == []
    assert [f for f in files if f.startswith("tools/central/")] == []
    assert any(f.startswith("tools/bench/") for f in files)


def test_an_unattended_install_without_a_prefix_writes_none_and_says_so(
        root: Path, first_run: str) -> None:
    """Never the skeleton's example: `tube_prefix = ""`, which check-config refuses until
    the district's digits are there; the to-do list says both (#38)."""
    text = (root / "etc/natest-station/station.toml").read_text()
    assert [line for line in text.splitlines() if line.startswith("tube_prefix")] == [
        'tube_prefix = ""']
    assert "110101" not in text
    assert "with no tube prefix: none was given" in first_run
    said = " ".join(first_run.split())
    assert ("[station] tube_prefix: none written. check-config refuses this config (and "
            "the service does not start) until it holds the digits the district's testing "
            "office assigned this lane") in said


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_prefix_given_to_an_unattended_install_is_written(tmp_path: Path, how: str) -> None:
    said = (install(tmp_path, "--tube-prefix", "0107") if how == "option"
            else install(tmp_path, prefix_env="0107"))
    text = (tmp_path / "etc/natest-station/station.toml").read_text()
    assert [line for line in text.splitlines() if line.startswith("tube_prefix")] == [
        'tube_prefix = "0107"']
    assert 'with tube_prefix = "0107"' in said and "none written" not in said
    # check-config, run at the end, finds nothing wrong with it; the to-do list asks none.
    assert [line for line in said.splitlines() if "tube_prefix" in line] == [
        'install:   with tube_prefix = "0107"'], said


def test_the_installer_asks_for_the_prefix_on_a_terminal_and_refuses_the_example(
        tmp_path: Path) -> None:
    controller, terminal = os.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NATEST_TUBE_PREFIX"}
    with subprocess.Popen([str(REPO / "setup.sh"), "install", "--root", str(tmp_path)],
                          stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, env=env) as done:
        os.close(terminal)
        os.write(controller, b"110101\n0107\n")   # typed ahead: the example, then the lane's
        out, _ = done.communicate(timeout=600)
    os.close(controller)
    assert done.returncode == 0, out
    assert "tube prefix 110101 is the skeleton's example" in out
    text = (tmp_path / "etc/natest-station/station.toml").read_text()
    assert 'tube_prefix = "0107"' in text.splitlines()


@pytest.mark.parametrize(("option", "env", "said"), [
    (["--tube-prefix", "110101"], None, "110101 is the skeleton's example"),
    (["--tube-prefix=01A7"], None, "'01A7': 2-12 digits"),
    ([], "1", "'1': 2-12 digits")])
def test_a_prefix_check_config_would_refuse_stops_the_install_before_anything(
        tmp_path: Path, option: list[str], env: str | None, said: str) -> None:
    environ = {**os.environ, **({"NATEST_TUBE_PREFIX": env} if env else {})}
    done = subprocess.run([str(REPO / "setup.sh"), "install", "--root", str(tmp_path),
                           *option], capture_output=True, text=True, timeout=60,
                          check=False, stdin=subprocess.DEVNULL, env=environ)
    assert done.returncode == 2 and said in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_installed_skeleton_is_a_labs_until_its_key_prefix_and_devices_are_set(
        root: Path, first_run: str, tmp_path: Path) -> None:
    """The skeleton seals persons (the default): until central's public key is where it
    says, check-config names that key; its example tube prefix is refused (#38, #42);
    once both are set the config is OK, and check-config says loudly that every device
    is simulated and which values are still the skeleton's examples (#42)."""
    station = str(root / "opt/natest-station/.venv/bin/station")
    config = root / "etc/natest-station/station.toml"
    done = subprocess.run([station, "check-config", str(config)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "2 problem(s)" in done.stderr and \
        "[privacy] central_key: /etc/natest-station/central.pub.jwk: cannot read" in done.stderr
    assert f"{config}: [station] tube_prefix: not set yet" in done.stderr
    assert "copy central's public key" in first_run
    keyed = tmp_path / "station.toml"
    keyed.write_text(config.read_text().replace("/etc/natest-station/central.pub.jwk",
                                                str(key_pair()[1]))
                     .replace('tube_prefix = ""', 'tube_prefix = "220107"'))
    done = subprocess.run([station, "check-config", "--config", str(keyed)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK" in done.stdout
    assert ("WARNING: SIMULATED devices: scanner, card_reader, printer, lights, voice"
            in done.stderr)
    assert ('WARNING: EXAMPLE values from the skeleton, never changed: [station] id = '
            '"lane-01", [station] site = "site-001"') in done.stderr
    assert "useradd" not in first_run   # the installer says what it did, no tool's warnings


def test_the_unit_keeps_the_run_off_the_card(root: Path, first_run: str) -> None:
    """No core dump, no swap of the service's memory, the digests' secret in RAM kept
    across restarts only; the firmware's mailbox open for the OTP key (#39)."""
    lines = set((root / "etc/systemd/system/natest-station.service").read_text().splitlines())
    assert {"LimitCORE=0", "MemorySwapMax=0", "RuntimeDirectory=natest-station",
            "RuntimeDirectoryMode=0700", "RuntimeDirectoryPreserve=restart",
            "DeviceAllow=/dev/vcio rw"} <= lines


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_the_unit_passes_systemd_analyze_verify(root: Path, first_run: str) -> None:
    # The targets the unit names (sysinit, multi-user, network-online) come with systemd:
    # the root gets this machine's, as a Pi's image has its own.
    shipped = Path("/usr/lib/systemd/system")
    units = root / "usr/lib/systemd/system"
    if not units.exists():
        shutil.copytree(shipped, units, symlinks=True)
    done = subprocess.run(["systemd-analyze", "verify", f"--root={root}", UNIT],
                          capture_output=True, text=True, timeout=60, check=False)
    said = [line for line in (done.stdout + done.stderr).splitlines() if "natest" in line]
    # A misspelt key or value is only a warning to systemd, and a defect to us.
    assert done.returncode == 0 and said == [], "\n".join(said)


def test_a_second_run_keeps_the_edited_config_and_adds_nothing(
        root: Path, first_run: str) -> None:
    config = root / "etc/natest-station/station.toml"
    edited = config.read_text().replace('id = "lane-01"', 'id = "lane-42"')
    assert edited != config.read_text()
    config.write_text(edited)
    again = install(root, "--tube-prefix", "0107")
    assert "kept /etc/natest-station/station.toml (never overwritten)" in again
    assert "tube prefix 0107 not written: the site's config stands" in again
    assert config.read_text() == edited
    account(root, "passwd", "natest")            # still exactly one
    members = account(root, "group", "audio")[3].split(",")
    assert members.count("natest") == 1
    gid = int(account(root, "passwd", "natest")[3])
    owned(config, 0o640, 0, gid)
