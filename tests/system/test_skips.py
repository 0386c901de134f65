"""The skip gate of a strict run: a skip outside the allow-list fails it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.skips import ALLOWED, unexpected

REPO = Path(__file__).resolve().parents[2]


def test_only_allowed_skips_pass_parametrized_or_not() -> None:
    allowed = next(iter(ALLOWED))
    assert unexpected([(allowed, "a Raspberry Pi"), (allowed + "[tspl]", "a Pi")]) == []
    assert unexpected([("tests/test_screen.py::test_page", "no chromium")]) == [
        ("tests/test_screen.py::test_page", "no chromium")]


def test_a_strict_run_fails_on_a_skip_and_names_it(tmp_path: Path) -> None:
    test = tmp_path / "test_skipping.py"
    test.write_text("import pytest\n\ndef test_needs_a_tool():\n"
                    "    pytest.skip('the tool is not installed')\n")
    run = [sys.executable, "-m", "pytest", "-q", "-p", "tests.skips", "-p", "no:cacheprovider",
           "--rootdir", str(tmp_path), str(test)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    strict = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path, check=False,
                            env={**env, "NATEST_STRICT_SKIPS": "1"}, timeout=120)
    assert strict.returncode == 1, strict.stdout
    assert "test_skipping.py::test_needs_a_tool: Skipped: the tool is not installed" \
        in strict.stdout
    lax = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path, check=False,
                         env={k: v for k, v in env.items() if k != "NATEST_STRICT_SKIPS"},
                         timeout=120)
    assert lax.returncode == 0, lax.stdout
