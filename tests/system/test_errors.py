"""One root of errors per product, and one table of exit statuses per command line
(ARCHITECTURE.md, "Errors and exit statuses").

Every exception class defined in `central/` derives from `central.errors.CentralError`,
in `station/` from `station.core.errors.StationError`, in `drivers/` from
`drivers.errors.DriverError`, in `contract/` from `contract.errors.ContractError`, and
each keeps the builtin its callers catch. The commands choose no exit status of their
own: `central/errors.py` and `station/exit_status.py` do.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

from central import errors as central_errors
from station import exit_status

ROOT = Path(__file__).parents[2]
ROOTS = {"central": "central.errors.CentralError",
         "station": "station.core.errors.StationError",
         "drivers": "drivers.errors.DriverError",
         "contract": "contract.errors.ContractError"}

# The builtin each class kept when it took its root: `except ValueError` and the like
# elsewhere still catch it.
BUILTINS = {
    "central.mqtt.codec.ProtocolError": ValueError,
    "central.mqtt.connect.Refused": ConnectionError,
    "central.ingest.session_rules.SessionTakenOver": RuntimeError,
    "central.ingest.session_rules.CollectorRefused": RuntimeError,
    "central.ingest.client_id.ClientIdInUse": RuntimeError,
    "central.ingest.validation.Invalid": ValueError,
    "central.reports.opening.Unopenable": ValueError,
    "central.reports.opening.NeedsKey": ValueError,
    "central.intake.lab_files.FileRefused": ValueError,
    "central.reports.roster_file.RosterRefused": ValueError,
    "central.errors.Usage": ValueError,
    "station.config.CredentialError": OSError,
    "station.core.prompts.PromptError": ValueError,
    "station.core.codes.BadCode": ValueError,
    "station.exit_status.Usage": ValueError,
    "drivers.lights.gpio.GpioUnavailable": RuntimeError,
    "drivers.printer.code128.NotEncodable": ValueError,
    "drivers.printer.layout.BarcodeTooWide": ValueError,
    "drivers.printer.png.NoCjkFont": RuntimeError,
    "drivers.sam.text.CardTextError": ValueError,
    "contract.id_numbers.InvalidIdNumber": ValueError,
    "contract.sealed.KeyFileError": ValueError,
}


def dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def exception_classes(package: str) -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of `package`, by its dotted name."""
    found: dict[str, type[BaseException]] = {}
    top = importlib.import_module(package)
    for info in pkgutil.walk_packages(top.__path__, f"{package}."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == module.__name__:
                found[dotted(cls)] = cls
    return found


@pytest.mark.parametrize("package", sorted(ROOTS))
def test_every_exception_class_derives_from_its_products_root(package: str) -> None:
    classes = exception_classes(package)
    assert ROOTS[package] in classes    # the walk sees the root itself
    assert len(classes) >= {"central": 10, "station": 9, "drivers": 9, "contract": 3}[package]
    root = classes[ROOTS[package]]
    assert sorted(name for name, cls in classes.items() if not issubclass(cls, root)) == []


def test_each_class_keeps_the_builtin_its_callers_catch() -> None:
    classes = {name: cls for package in ROOTS for name, cls in
               exception_classes(package).items()}
    assert sorted(name for name, builtin in BUILTINS.items()
                  if not issubclass(classes[name], builtin)) == []


def named_class(name: str) -> type:
    module, _, qualname = name.rpartition(".")
    return getattr(importlib.import_module(module), qualname)  # type: ignore[no-any-return]


@pytest.mark.parametrize("names", [list(central_errors.STATUS), list(exit_status.STATUS),
                                   [name for _, name in exit_status.BY_COMMAND]],
                         ids=["central", "station", "station-by-command"])
def test_every_row_of_the_tables_names_an_exception_class(names: list[str]) -> None:
    """The tables name classes by their path (so a command loads no driver to know how
    it ends): a renamed or moved class must not leave a row that matches nothing."""
    classes = {name: named_class(name) for name in names}
    assert {name: dotted(cls) for name, cls in classes.items()} == {n: n for n in names}
    assert all(issubclass(cls, Exception) for cls in classes.values())


# The modules of the two command lines: their commands end through the tables.
COMMANDS = sorted(["central/cli.py", "central/intake/lab_cli.py", "central/reports/keys.py",
                   "station/cli.py",
                   *(str(p.relative_to(ROOT)) for p in (ROOT / "station/tech").glob("*.py"))])


def chosen_statuses(source: str) -> list[str]:
    """Where a function returning an int returns a number written in it, `sys.exit` is
    given one, or a module names one: a status chosen outside the tables."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and ast.unparse(node.returns or ast.Constant(
                None)) == "int":
            found += [f"line {r.lineno}: {ast.unparse(r)}" for r in ast.walk(node)
                      if isinstance(r, ast.Return) and r.value is not None
                      and any(isinstance(c, ast.Constant) and type(c.value) is int
                              for c in ast.walk(r.value))]
        elif isinstance(node, ast.Call) and ast.unparse(node.func) == "sys.exit":
            found += [f"line {node.lineno}: {ast.unparse(node)}" for a in node.args
                      if isinstance(a, ast.Constant)]
    module = ast.parse(source)
    found += [f"line {n.lineno}: {ast.unparse(n)}" for n in module.body
              if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant | ast.Tuple)
              and any(isinstance(c, ast.Constant) and type(c.value) is int
                      for c in ast.walk(n.value))]
    return found


def test_the_commands_choose_no_exit_status_of_their_own() -> None:
    assert len(COMMANDS) >= 8
    chosen = {path: found for path in COMMANDS
              if (found := chosen_statuses((ROOT / path).read_text()))}
    assert chosen == {}


def test_the_status_check_sees_a_status_chosen_in_a_command() -> None:
    source = ("EX_NOPERM = 77\nA, B = 1, 2\nNAME = 'x'\n"
              "def run() -> int:\n    if x:\n        return 2\n    return 1 if y else OK\n"
              "def size() -> str:\n    return str(3)\n"
              "def main() -> int:\n    sys.exit(78)\n    return OK\n")
    assert sorted(chosen_statuses(source)) == sorted([
        "line 1: EX_NOPERM = 77", "line 2: A, B = (1, 2)", "line 6: return 2",
        "line 7: return 1 if y else OK", "line 11: sys.exit(78)"])
