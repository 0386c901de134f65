"""Is the wall clock trustworthy? A Raspberry Pi has no RTC: until NTP (or a GPS, or
a technician) sets the time, timestamps may be days off. Events say so in
`clock_synced`, and the seq — not the time — orders them.
"""

from __future__ import annotations

import ctypes
import functools
import os
import time

_TIME_ERROR = 5  # adjtimex: clock not synchronised


class _Timex(ctypes.Structure):
    # struct timex is 208 bytes on 64-bit Linux; only the fields before `status` matter
    # here, the rest is padding that the kernel fills in.
    _fields_ = [("modes", ctypes.c_uint), ("_rest", ctypes.c_byte * 256)]


@functools.cache
def _libc() -> ctypes.CDLL:
    # The C library this interpreter already runs on (dlopen of NULL), found once:
    # ctypes.util.find_library runs `ldconfig -p` in a child process at every call, and
    # the core thread asks every ten seconds, between a scan and its commit.
    return ctypes.CDLL(None, use_errno=True)


def _adjtimex_state() -> int | None:
    try:
        buf = _Timex()
        state = int(_libc().adjtimex(ctypes.byref(buf)))
    except (OSError, AttributeError):
        return None
    return None if state < 0 else state


class Clock:
    """Answers `synced()` at most every few seconds: the question costs a syscall."""

    def __init__(self, forced: bool | None = None, recheck_s: float = 10.0) -> None:
        env = os.environ.get("STATION_CLOCK_SYNCED")
        if forced is None and env in ("0", "1"):
            forced = env == "1"
        self.forced = forced
        self.recheck_s = recheck_s
        self._checked = -1e9
        self._synced = False

    def synced(self) -> bool:
        if self.forced is not None:
            return self.forced
        now = time.monotonic()
        if now - self._checked >= self.recheck_s:
            state = _adjtimex_state()
            self._synced = state is not None and state != _TIME_ERROR
            self._checked = now
        return self._synced
