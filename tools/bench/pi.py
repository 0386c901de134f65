"""`station bench --pi`: the same figures on a Raspberry Pi's resources, here.

The bench runs again in a child process inside a cgroup with a CPU quota close to one
Pi 4 core (default 30% of one core of this machine), with every fsync and fdatasync
delayed as an SD card delays it (default 8 ms; an LD_PRELOAD shim compiled from the C
below with the machine's cc). Baselines run in the same child, so under the same
constraints. The broker it starts for itself runs outside both: on a lane, the broker
is central's machine, not the Pi. The collector's ingest figure is left out: central
does not run on a Pi.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SHIM_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

static void card_latency(void) {
    static long ns = -1;
    if (ns < 0) {
        const char *ms = getenv("NATEST_FSYNC_DELAY_MS");
        ns = (ms ? atol(ms) : 8) * 1000000L;
    }
    struct timespec left = { ns / 1000000000L, ns % 1000000000L };
    while (nanosleep(&left, &left) == -1 && errno == EINTR) {}
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    card_latency();
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    card_latency();
    return real(fd);
}
"""

# Read by tools/broker.py: the cgroup.procs file to move a broker out of the quota into.
BROKER_OUTSIDE = "NATEST_BROKER_OUTSIDE"


class ProfileError(RuntimeError):
    pass


def build_shim(folder: Path) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise ProfileError("no C compiler for the fsync shim: apt-get install gcc")
    source, shim = folder / "fsync_delay.c", folder / "libfsyncdelay.so"
    source.write_text(SHIM_C)
    done = subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", str(shim), str(source), "-ldl"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ProfileError(f"building the fsync shim failed: {done.stderr.strip()}")
    return shim


class CpuQuota:
    """A cgroup (v2, or v1's cpu controller) that holds its processes to `share` of a core."""

    PERIOD_US = 100_000

    def __init__(self, share: float) -> None:
        self.share = share
        unified = Path("/sys/fs/cgroup")
        name = f"natest-bench-pi-{os.getpid()}"
        if (unified / "cgroup.controllers").exists():
            self.root, self.group = unified, unified / name
        else:
            self.root = unified / "cpu"
            self.group = self.root / name
        self.procs, self.outside = self.group / "cgroup.procs", self.root / "cgroup.procs"

    def __enter__(self) -> CpuQuota:
        quota = int(self.share * self.PERIOD_US)
        try:
            if self.root == Path("/sys/fs/cgroup"):
                controllers = (self.root / "cgroup.subtree_control").read_text()
                if "cpu" not in controllers.split():
                    (self.root / "cgroup.subtree_control").write_text("+cpu")
                self.group.mkdir()
                (self.group / "cpu.max").write_text(f"{quota} {self.PERIOD_US}")
            else:
                self.group.mkdir()
                (self.group / "cpu.cfs_period_us").write_text(str(self.PERIOD_US))
                (self.group / "cpu.cfs_quota_us").write_text(str(quota))
        except OSError as exc:
            raise ProfileError(f"cannot set a CPU quota in {self.group}: {exc.strerror or exc} "
                               "(the Pi profile needs root and a writable cgroup cpu "
                               "controller)") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        # A process still in it: the group stays until it leaves; nothing else to do.
        with contextlib.suppress(OSError):
            self.group.rmdir()

    def enter(self) -> None:
        """In the child, before exec: join the group."""
        self.procs.write_text(str(os.getpid()))


def describe(share: float, fsync_ms: float) -> str:
    return f"pi: {share:.0%} of one core, {fsync_ms:g} ms per fsync"


def run_profiled(argv: list[str], share: float, fsync_ms: float) -> int:
    """Run `station bench ARGV --profile …` again under the Pi's constraints."""
    with tempfile.TemporaryDirectory(prefix="natest-bench-pi-") as tmp, \
            contextlib.ExitStack() as held:
        try:
            shim = build_shim(Path(tmp))
            quota = held.enter_context(CpuQuota(share))
        except ProfileError as exc:
            print(f"station bench --pi: {exc}", file=sys.stderr)
            return 1
        env = {**os.environ, "LD_PRELOAD": str(shim), "NATEST_FSYNC_DELAY_MS": f"{fsync_ms:g}",
               BROKER_OUTSIDE: str(quota.outside)}
        child = subprocess.run(
            [sys.executable, "-m", "station.cli", "bench", *argv,
             "--profile", describe(share, fsync_ms)],
            env=env, preexec_fn=quota.enter, check=False)  # before any thread
        return child.returncode


def measured_constraints() -> dict[str, float]:
    """What the child actually got: an fsync's time and the CPU share of a busy loop."""
    import time  # noqa: PLC0415

    with tempfile.NamedTemporaryFile() as f:
        f.write(b"x")
        started = time.perf_counter()
        for _ in range(10):
            os.fsync(f.fileno())
        fsync_ms = (time.perf_counter() - started) * 100
    wall, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - wall < 1.0:
        pass
    share = (time.process_time() - cpu) / (time.perf_counter() - wall)
    return {"profile_fsync_ms": fsync_ms, "profile_cpu_share": share}
