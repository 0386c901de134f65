"""House rules that must not erode: drivers know nothing of the station."""

import ast
from pathlib import Path

DRIVERS = Path(__file__).parent.parent / "drivers"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_drivers_never_import_station() -> None:
    files = sorted(DRIVERS.glob("**/*.py"))
    assert files
    offenders = {str(f.name): sorted(m for m in imported_modules(f)
                                     if m == "station" or m.startswith("station."))
                 for f in files}
    assert {f: m for f, m in offenders.items() if m} == {}


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from station.store import Store\nimport station\n")
    assert imported_modules(bad) == {"station.store", "station"}
