"""No test stops running unseen: with NATEST_STRICT_SKIPS=1 (`./setup.sh test`, and so
CI) a skip outside `ALLOWED` fails the run, listed by name and reason.

A skip is allowed only where the machine itself is the reason: real hardware, a
Raspberry Pi, a sound card. A missing tool (chromium, node, zbar, PostgreSQL, evdev) is
an install step to add to `setup.sh`, never a skip.
"""

from __future__ import annotations

import os

import pytest

ALLOWED: dict[str, str] = {
    # On a Raspberry Pi RPi.GPIO loads: the "no GPIO here" path cannot be shown there.
    "tests/station/tech/test_probe.py::test_each_part_that_fails_is_named_with_why":
        "a Raspberry Pi",
    "tests/station/tech/test_probe.py::test_gpio_that_cannot_load_ends_the_daemon_with_ex_config":
        "a Raspberry Pi",
    # A machine with a sound card cannot show the probe naming a missing one.
    "tests/station/tech/test_probe.py::test_espeak_without_a_sound_card_is_named_by_the_probe":
        "a sound card",
}

_skipped: list[tuple[str, str]] = []


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    return str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append((report.nodeid, _reason(report)))


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.skipped:   # a whole module skipped (importorskip at its top)
        _skipped.append((report.nodeid, _reason(report)))


def unexpected(skipped: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(node, why) for node, why in skipped if node.split("[")[0] not in ALLOWED]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("NATEST_STRICT_SKIPS") != "1":
        return
    found = unexpected(_skipped)
    if found:
        lines = "\n".join(f"  {node}: {why}" for node, why in found)
        print(f"\n{len(found)} test(s) skipped outside the allow-list (tests/skips.py); "
              f"install what they need or fix them:\n{lines}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
