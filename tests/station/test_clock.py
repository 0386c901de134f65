"""The clock's trust: read from the kernel (adjtimex), not guessed. Checked against the
kernel's own status bits, whatever this machine's NTP state, and the asking paced."""

from __future__ import annotations

import ctypes
import itertools
import os
import time

import pytest

from station import clock
from station.clock import Clock

STA_UNSYNC, STA_CLOCKERR, TIME_ERROR = 0x0040, 0x1000, 5


class FullTimex(ctypes.Structure):
    """struct timex as <linux/timex.h> declares it (ctypes aligns as the C compiler does),
    apart from the station's own, which reads the return value only."""

    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long),
                ("freq", ctypes.c_long), ("maxerror", ctypes.c_long),
                ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long),
                ("tolerance", ctypes.c_long), ("time", ctypes.c_long * 2),
                ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long),
                ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
                ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long),
                ("calcnt", ctypes.c_long), ("errcnt", ctypes.c_long),
                ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
                ("_reserved", ctypes.c_int * 11)]


def test_the_kernels_answer_agrees_with_its_status_bits(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Unsynchronised (or a clock error) in the status bits is TIME_ERROR in the return
    value, which is what the station reads: so its `synced()` is the kernel's view,
    on a machine with NTP and on one without."""
    monkeypatch.delenv("STATION_CLOCK_SYNCED", raising=False)
    full = FullTimex()   # modes 0: read only
    state = ctypes.CDLL(None, use_errno=True).adjtimex(ctypes.byref(full))
    assert 0 <= state <= TIME_ERROR
    if full.status & (STA_UNSYNC | STA_CLOCKERR):
        assert state == TIME_ERROR
    assert clock._adjtimex_state() == state
    assert Clock(recheck_s=0).synced() is (state != TIME_ERROR)
    # The layout read the kernel's answer: the tick is 10^6 / USER_HZ µs by default.
    assert full.tick == 1_000_000 // os.sysconf("SC_CLK_TCK")


def test_the_kernel_is_asked_again_only_after_the_recheck_interval(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATION_CLOCK_SYNCED", raising=False)
    answers = iter([TIME_ERROR, 0, None])   # NTP answers; then the call fails
    asked = itertools.count()
    now = [1000.0]

    def kernel() -> int | None:
        next(asked)
        return next(answers)

    monkeypatch.setattr(clock, "_adjtimex_state", kernel)
    monkeypatch.setattr(time, "monotonic", lambda: now[0])   # as station.clock reads it
    watch = Clock(recheck_s=10)
    assert watch.synced() is False
    now[0] += 9.9
    assert watch.synced() is False                 # not asked again yet
    now[0] += 0.1
    assert watch.synced() is True                  # asked: synchronised now
    now[0] += 10
    assert watch.synced() is False                 # a failed call is not trust
    assert next(asked) == 3


def test_a_technician_can_force_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATION_CLOCK_SYNCED", "1")
    assert Clock().synced() is True
    monkeypatch.setenv("STATION_CLOCK_SYNCED", "0")
    assert Clock().synced() is False
