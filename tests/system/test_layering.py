"""House rules that must not erode: which package may import which (ARCHITECTURE.md).

    drivers   → nothing of ours
    contract  → nothing of ours
    station   → drivers, contract        (its `station` command hands demo/bench to tools)
    central   → contract
    tools     → station, drivers, contract, central: never the tests' harness
    tests     → anything

No module of ours imports, even lazily, one that imports it back (no cycle).

Inside central, rooms by layer (ROOMS): ingest, intake and reports build on the store
(and ingest on the MQTT client) and never import one another; `central.cli` assembles
them; `central.site_facts` and `central.errors` are for every room and import none.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
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


# central's rooms → the rooms of central each may import (itself included), lazily or not.
FACTS = "central.site_facts"
ERRORS = "central.errors"   # the root of central's errors and the command's exit statuses
ROOMS = {
    "central.mqtt": {"central.mqtt", ERRORS},
    "central.store": {"central.store", FACTS, ERRORS},
    "central.ingest": {"central.ingest", "central.mqtt", "central.store", FACTS, ERRORS},
    "central.intake": {"central.intake", "central.store", FACTS, ERRORS},
    "central.reports": {"central.reports", "central.store", FACTS, ERRORS},
}
# The only modules of central outside a room: the package, its command, the sites' facts
# and the errors' root, the last two for every room and importing none.
CENTRAL_TOP = {"central", "central.cli", FACTS, ERRORS}


def room_of(module: str) -> str:
    return next((room for room in ROOMS if module == room or module.startswith(room + ".")),
                module)


def room_offenders(graph: dict[str, set[str]]) -> dict[str, list[str]]:
    """Each module of central → the modules of central it imports against ROOMS."""
    found = {}
    for module, targets in sorted(graph.items()):
        if module in CENTRAL_TOP - {FACTS, ERRORS} or not module.startswith("central"):
            continue
        allowed = ROOMS.get(room_of(module), set())
        bad = sorted(t for t in targets if t.startswith("central") and room_of(t) not in allowed)
        if bad:
            found[module] = bad
    return found


def test_every_module_of_central_is_in_a_room() -> None:
    graph = import_graph()
    central = {m for m in graph if m.split(".")[0] == "central"}
    assert len(central) > 40
    assert sorted(m for m in central - CENTRAL_TOP if room_of(m) not in ROOMS) == []


def test_ingest_intake_and_reports_never_import_one_another() -> None:
    """Nor import upwards: the store and the MQTT client know nothing of the rooms built
    on them, and the sites' facts know no room. Lazy imports count."""
    assert room_offenders(import_graph()) == {}


def test_the_room_check_sees_a_lazy_import_across_rooms() -> None:
    graph = {"central.ingest.lab_watch": {"central.reports.custody", "central.store.open"},
             "central.intake.lab_cli": {"central.site_facts", "central.intake.lab_files"},
             "central.store.open": {"central.ingest.metrics"},
             "central.site_facts": {"central.store.open"},
             "central.errors": {"central.ingest.session_rules"},
             "central.mqtt.codec": {"central.errors"},
             "central.cli": {"central.reports.reports", "central.ingest.collector"}}
    assert room_offenders(graph) == {"central.ingest.lab_watch": ["central.reports.custody"],
                                     "central.errors": ["central.ingest.session_rules"],
                                     "central.site_facts": ["central.store.open"],
                                     "central.store.open": ["central.ingest.metrics"]}


def test_the_collector_loads_no_report_intake_or_opening_code() -> None:
    """What the collector's process imports: the MQTT client, the store, ingest, and
    nothing of the reports (the projection, opening sealed persons) or of lab files."""
    probe = ("import central.ingest.collector, sys; print(' '.join(sorted(m for m in "
             "sys.modules if m.startswith('central.'))))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()
    assert [m for m in loaded if m.startswith(("central.reports", "central.intake"))] == []
    assert {room_of(m) for m in loaded} == {"central.ingest", "central.mqtt", "central.store",
                                            FACTS, ERRORS}


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


# The lane's pure core (ARCHITECTURE.md, "The lane daemon"): `(state, event, now) →
# (state, effects)` and everything it decides. It reads no clock, file, socket or
# database, and imports nothing of the shell that performs its effects.
CORE = "station.core"
# The drivers' vocabularies the core may name: pure declarations a driver owns (its
# light patterns, its printer's fault kinds and job record, its config choices), never a
# protocol, transport or simulator.
CORE_DRIVERS = frozenset({
    "drivers.lights.patterns",      # PatternName: the light each cue shows
    "drivers.printer.status",       # ProblemKind: a printer fault, by what to do
    "drivers.printer.job",          # LabelJob: what a label says, for any printer
    "drivers.keypad.config", "drivers.lights.config", "drivers.printer.config",
    "drivers.sam.config", "drivers.scanner.config", "drivers.voice.config",  # choices
})
# The network, processes, threads and the host: the shell's, never the core's.
NETWORK_AND_IO = ("paho", "socket", "ssl", "select", "selectors", "asyncio", "sqlite3",
                  "psycopg", "subprocess", "multiprocessing", "threading", "queue",
                  "http", "urllib.request", "serial", "evdev", "RPi", "ctypes")
# And what the core in particular never touches: the clock (`now` is an argument), the
# file system, the log (it returns effects; the runner says what happened).
HOST = ("os", "pathlib", "shutil", "tempfile", "time", "logging")


def absolute_imports(path: Path) -> set[str]:
    """Every module `path` imports, at its top or inside a function, relative imports
    resolved; `from pkg import mod` counts as `pkg.mod` when that is a module of ours."""
    inside = path.is_relative_to(ROOT)
    package = module_name(path).split(".") if inside else []
    if inside and path.name != "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ".".join([*package[: len(package) - node.level + 1], *(
                [node.module] if node.module else [])]) if node.level else str(node.module)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                ours = (ROOT / sub.replace(".", "/")).with_suffix(".py").exists() or (
                    ROOT / sub.replace(".", "/") / "__init__.py").exists()
                names.add(sub if ours else base)
    return names


def named(module: str, prefixes: tuple[str, ...] | frozenset[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def core_offence(module: str) -> str | None:
    """Why the core may not import `module`, or None."""
    if named(module, ("station",)) and not named(module, (CORE,)):
        return "the shell"
    if named(module, ("drivers",)) and module not in CORE_DRIVERS:
        return "a driver's protocol or transport"
    if named(module, ("central", "tools", "tests")):
        return "another product"
    if named(module, NETWORK_AND_IO):
        return "the network or IO"
    if named(module, HOST):
        return "the host"
    return None


def core_offenders(folder: Path) -> dict[str, list[str]]:
    found = {}
    for path in sorted(folder.glob("**/*.py")):
        bad = sorted(f"{m} ({why})" for m in absolute_imports(path)
                     if (why := core_offence(m)))
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    return found


def test_the_core_imports_nothing_of_the_shell_the_network_or_the_drivers() -> None:
    core = ROOT / CORE.replace(".", "/")
    assert {"workflow.py", "state.py", "attention.py"} <= {p.name for p in core.glob("*.py")}
    assert core_offenders(core) == {}


def test_the_driver_vocabularies_the_core_names_are_pure() -> None:
    """Everything of ours the core reaches, even lazily, through the drivers' vocabularies
    and the contract, imports no network, IO or transport module (a config module that
    loaded the printer's transport brought sockets into the core) and nothing of station's
    shell or the other products."""
    graph = import_graph()
    seen, todo = set(), [m for m in graph if named(m, (CORE,))]
    while todo:
        if (module := todo.pop()) not in seen:
            seen.add(module)
            todo += graph.get(module, ())
    assert seen >= CORE_DRIVERS   # each allowed one is used: the list says what is
    reached = {m for m in seen if not named(m, (CORE,))}
    assert {m for m in reached if named(m, ("station", "central", "tools", "tests"))} == set()
    paths = {module_name(p): p for top in ("drivers", "contract")
             for p in (ROOT / top).glob("**/*.py")}
    bad = {m: sorted(i for i in absolute_imports(paths[m]) if named(i, NETWORK_AND_IO))
           for m in reached}
    assert {m: b for m, b in bad.items() if b} == {}


def test_loading_the_core_loads_no_network_or_shell_module() -> None:
    """What importing every module of the core loads, in a fresh interpreter: the
    standard library's own imports count too (the AST checks above see only ours)."""
    core = sorted(module_name(p) for p in (ROOT / CORE.replace(".", "/")).glob("*.py"))
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, {', '.join(core)}; print(*sys.modules)"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    shell = {m for m in loaded if named(m, ("station", "central", "tools", "tests"))
             and not named(m, (CORE,))} - {"station"}   # the package: its version only
    assert CORE in loaded
    assert sorted(shell | {m for m in loaded if named(m, NETWORK_AND_IO)}) == []


def test_the_core_check_sees_each_kind_of_offence(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from station.store import Store\nimport drivers.printer.transport\n"
                   "def lazy():\n    import sqlite3\n    from paho.mqtt import client\n"
                   "    import time\nfrom drivers.lights.patterns import PATTERNS\n"
                   "from station.core import state\n")
    assert sorted(filter(None, map(core_offence, absolute_imports(bad)))) == [
        "a driver's protocol or transport", "the host", "the network or IO",
        "the network or IO", "the shell"]
