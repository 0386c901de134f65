"""The suite mirrors the source, so a module's test is found by its name: a test of
`station/core/workflow.py` is `tests/station/core/test_workflow.py`. No test file sits
directly in `tests/` (its top holds the shared helpers), and every folder of `tests/`
has a counterpart in the source, but `tests/system/` (end to end: several products or
real processes together) and the helpers' own folders."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
# Folders of helpers, not of tests: no source to mirror.
HELPERS = {"harness", "node", "prometheus"}
END_TO_END = "system"


def folders() -> list[Path]:
    """Every folder of tests/ that is not a helper's, relative to tests/."""
    found = []
    for top, dirs, _ in os.walk(TESTS):
        rel = Path(top).relative_to(TESTS)
        dirs[:] = sorted(d for d in dirs if d != "__pycache__"
                         and not (rel == Path() and d in HELPERS))
        if rel != Path():
            found.append(rel)
    return found


def test_no_test_file_sits_directly_in_tests() -> None:
    loose = sorted(p.name for p in TESTS.iterdir()
                   if p.is_file() and p.suffix == ".py"
                   and (p.name.startswith("test_") or p.stem.endswith("_test")))
    assert loose == [], f"put these in tests/<the folder of what they test>/: {loose}"


def test_every_folder_of_tests_has_a_counterpart_in_the_source() -> None:
    mirrors = [rel for rel in folders() if rel.parts[0] != END_TO_END]
    assert mirrors, "no mirror folder found: is this the suite's folder?"
    orphans = [str(rel) for rel in mirrors if not (ROOT / rel).is_dir()]
    assert orphans == [], f"folders of tests/ with no such folder in the source: {orphans}"


def test_every_test_file_sits_in_a_mirror_folder_or_system() -> None:
    homes = {rel.parts[0] for rel in folders() if any((TESTS / rel).glob("test_*.py"))}
    assert homes <= {"station", "central", "drivers", "contract", END_TO_END}, homes


def test_installed_packages_are_never_committed() -> None:
    """What `./setup.sh` installs (the venv, the node checkers' packages) is the machine's:
    a committed tests/node/node_modules (twice a worktree's symlink to a shared folder)
    replaces the packages `npm ci` put there with a link to wherever it pointed."""
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--", ".venv",
                              "tests/node/node_modules"], capture_output=True, text=True,
                             check=True, timeout=60).stdout.split()
    assert tracked == []
