"""`station run` in a subprocess, its log read line by line to wait on: for the tests
(which kill it with SIGKILL) and the benchmarks (which measure it)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

# What the operator was told was accepted, from the log: "accepted: … at T/7" and, for the
# sample that filled a tube, "sealed: tube T sealed (full, 10 samples)".
TOLD = re.compile(r" (?:accepted|one_left|duplicate): .* at (\w+)/(\d+)"
                  r"| sealed: tube (\w+) sealed \(full, (\d+) samples\)")


def told(lines: list[str]) -> set[tuple[str, str]]:
    """(tube, position) of every registration the log says the operator was told of."""
    found = set()
    for line in lines:
        if m := TOLD.search(line):
            found.add((m[1], m[2]) if m[1] else (m[3], m[4]))
    return found


def with_parent() -> list[str]:
    """A prefix that SIGKILLs the station when the thread that started it dies (util-linux
    setpriv). An orphaned station keeps reopening its scanner's path, and once the pty's
    number is reused, holds the exclusive lock on the next test's scanner."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


class StationProcess:
    def __init__(self, config: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [*with_parent(), sys.executable, "-m", "station.cli", "run", "--config",
             str(config)],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def count(self, pattern: str) -> int:
        with self._cond:
            return sum(1 for line in self.lines if re.search(pattern, line))

    def waited(self, pattern: str, times: int = 1, timeout: float = 20) -> bool:
        """True once `times` log lines match; False at the deadline, or soon after the
        process died. Reads each line once, however long the log grows."""
        regex, seen, read = re.compile(pattern), 0, 0
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                seen += sum(1 for line in self.lines[read:] if regex.search(line))
                read = len(self.lines)
                if seen >= times:
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and left < timeout - 1):
                    return False
                self._cond.wait(min(left, 0.1))

    def wait_for(self, pattern: str, times: int = 1, timeout: float = 20) -> None:
        """As waited(), but a miss raises with the end of the log (uplink chatter left out)."""
        if not self.waited(pattern, times, timeout):
            with self._cond:
                tail = "\n".join([ln for ln in self.lines if "uplink" not in ln][-15:])
            raise AssertionError(f"no {times}× {pattern!r} in the station log:\n{tail}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
