"""The clock's trust: read from the kernel (adjtimex), not guessed."""

from __future__ import annotations

import pytest

from station import clock
from station.clock import Clock


def test_the_kernel_says_whether_the_clock_is_synchronised(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATION_CLOCK_SYNCED", raising=False)
    # adjtimex returns the clock state TIME_OK (0) … TIME_ERROR (5); None would mean the
    # call failed and every event would say clock_synced false for the wrong reason.
    state = clock._adjtimex_state()
    assert state is not None and 0 <= state <= 5
    assert Clock(recheck_s=0).synced() is (state != 5)


def test_a_technician_can_force_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATION_CLOCK_SYNCED", "1")
    assert Clock().synced() is True
    monkeypatch.setenv("STATION_CLOCK_SYNCED", "0")
    assert Clock().synced() is False
