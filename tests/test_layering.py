"""House rules that must not erode: which package may import which (ARCHITECTURE.md).

    drivers   → nothing of ours
    contract  → nothing of ours
    station   → drivers, contract        (its `station` command hands demo/bench to tools)
    central   → contract
    tools     → anything
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
OURS = ("station", "drivers", "contract", "central", "tools", "tests")
ALLOWED = {
    "drivers": {"drivers"},
    "contract": {"contract"},
    "station": {"station", "drivers", "contract"},
    "central": {"central", "contract"},
}
# The one arrow against the grain: `station demo` and `station bench` run tools, lazily.
EXCEPTIONS = {("station/cli.py", "tools")}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def offenders(package: str) -> dict[str, list[str]]:
    found = {}
    for path in sorted((ROOT / package).glob("**/*.py")):
        name = str(path.relative_to(ROOT))
        bad = sorted(m for m in imported_modules(path)
                     if (top := m.split(".")[0]) in OURS and top not in ALLOWED[package]
                     and (name, top) not in EXCEPTIONS)
        if bad:
            found[name] = bad
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_what_it_may(package: str) -> None:
    assert any((ROOT / package).glob("**/*.py"))
    assert offenders(package) == {}


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from station.store import Store\nimport station\n")
    assert imported_modules(bad) == {"station.store", "station"}


def test_the_daemon_loads_nothing_of_the_central_side() -> None:
    """A Pi installs neither the central side's code paths nor its dependencies."""
    probe = ("import station.runner, station.cli, sys; print(sorted(m for m in sys.modules "
             "if m.split('.')[0] in ('jsonschema_rs', 'orjson', 'jsonschema', 'openpyxl', "
             "'psycopg', 'prometheus_client', 'central', 'tools')))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_daemon_imports_a_driver_only_when_its_config_chooses_it() -> None:
    """On a Pi's core every module imported before "ready" costs (station bench --pi): the
    simulators and the speaker's driver load only for a station configured with them."""
    probe = ("import station.runner, station.cli, sys; print(sorted(m for m in sys.modules "
             "if m in ('drivers.scanner.sim', 'drivers.sam.sim', 'drivers.printer.sim', "
             "'drivers.lights.sim', 'drivers.voice.sim', 'drivers.voice.speaker', "
             "'drivers.keypad.evdev_keypad', 'drivers.scanner.evdev_scanner')))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_central_command_without_its_extra_says_what_to_install(tmp_path: Path) -> None:
    """As on a machine with a plain `pip install .`: jsonschema_rs cannot be imported."""
    blocker = tmp_path / "jsonschema_rs.py"
    blocker.write_text("raise ModuleNotFoundError(\"No module named 'jsonschema_rs'\", "
                       "name='jsonschema_rs')\n")
    result = subprocess.run(
        [sys.executable, "-m", "central.cli", "collect", "--mqtt-url", "mqtt://127.0.0.1:1",
         "--db", str(tmp_path / "c.db")], cwd=ROOT, capture_output=True, text=True,
        check=False, env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1, result.stderr
    assert "jsonschema_rs is not installed" in result.stderr
    assert "[central]" in result.stderr and "Traceback" not in result.stderr
