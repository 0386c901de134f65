"""House rules that must not erode: which package may import which (ARCHITECTURE.md).

    drivers   → nothing of ours
    contract  → nothing of ours
    station   → drivers, contract        (its `station` command hands demo/bench to tools)
    central   → contract
    tools     → station, drivers, contract, central: never the tests' harness
    tests     → anything

No module of ours imports, even lazily, one that imports it back (no cycle).
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
    # What `station demo` and `station bench` run, installed with the station: a Pi
    # carries no test harness, so tools may not import tests.
    "tools": {"tools", "station", "drivers", "contract", "central"},
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


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each module of ours → the modules of ours it imports, at its top or in a function
    (a lazy import is still an arrow); `from pkg import mod` counts as `pkg.mod`."""
    paths = {module_name(p): p for top in OURS for p in (ROOT / top).glob("**/*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}"
                           in paths else node.module for alias in node.names]
            found |= {t for t in targets if t in paths and t != name}
        graph[name] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_of_ours_imports_one_that_imports_it_back() -> None:
    graph = import_graph()
    assert len(graph) > 150 and graph["station.runner"] >= {"station.core.workflow"}
    assert cycles(graph) == []


def test_the_cycle_check_sees_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_daemon_never_imports_the_bench_the_demo_or_the_tests() -> None:
    """Only the `station` command's bench and demo hand over to tools, lazily; no module
    of the lane daemon itself reaches tools or tests, even lazily."""
    graph = import_graph()
    daemon = [m for m in graph if m.startswith("station.") and m != "station.cli"]
    reach = {m: {t for t in graph[m] if t.split(".")[0] in ("tools", "tests")}
             for m in daemon}
    assert {m: r for m, r in reach.items() if r} == {}
    assert {t.split(".")[0] for t in graph["station.cli"]} <= {"station", "drivers",
                                                                "contract", "tools"}


def test_modules_stay_small_and_functions_short() -> None:
    """No module of the products over 400 lines, no function over 50 (ARCHITECTURE.md):
    past that, a module holds two jobs and a function two steps."""
    long_modules, long_functions = [], []
    for top in ("station", "drivers", "contract", "central", "tools"):
        for path in sorted((ROOT / top).glob("**/*.py")):
            source = path.read_text()
            name = str(path.relative_to(ROOT))
            if source.count("\n") > 400:
                long_modules.append(name)
            long_functions += [f"{name}:{node.name}" for node in ast.walk(ast.parse(source))
                               if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                               and (node.end_lineno or 0) - node.lineno + 1 > 50]
    assert long_modules == [] and long_functions == []
