"""A private PostgreSQL cluster from Debian's packages, for the tests and the benchmark."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tools.broker import free_port


def bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class Cluster:
    """A cluster in a private temporary folder: started, stopped (as a crash would stop
    it: `-m immediate`) and started again on the same port."""

    def __init__(self, initialise: bool = True) -> None:
        binaries = bindir()
        if binaries is None:
            raise FileNotFoundError(
                "PostgreSQL is not installed (Debian: apt-get install postgresql)")
        self.binaries = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="natest-pg-"))
        # PostgreSQL refuses to run as root: as root, the cluster belongs to 'postgres'.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.folder, "postgres")
        self.port = free_port()
        self.dsn = f"postgresql://natest@127.0.0.1:{self.port}/postgres"
        if initialise:
            self._run("initdb", "-D", str(self.folder / "data"), "-U", "natest",
                      "--auth=trust", "-E", "UTF8", "--no-sync")

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        subprocess.run([*self.as_user, str(self.binaries / program), *args], check=check,
                       capture_output=True)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "log"),
                  "-w", "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1",
                  "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "stop",
                  check=False)

    def standby(self) -> Cluster:
        """A streaming replica of this (running) cluster, started on a port of its own:
        pg_basebackup writes its standby.signal and the primary's conninfo (-R)."""
        replica = Cluster(initialise=False)
        replica._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.port), "-U", "natest",
                     "-D", str(replica.folder / "data"), "-R", "-X", "stream", "--no-sync")
        replica.start()
        return replica

    def promote(self) -> None:
        """A standby becomes the primary (as an HA manager would have it do)."""
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-w", "promote")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def cluster() -> Iterator[Cluster]:
    made = Cluster()
    try:
        made.start()
        yield made
    finally:
        made.remove()


@contextmanager
def postgres() -> Iterator[str]:
    """Yield a DSN; the cluster lives in a private temporary folder and is removed after."""
    with cluster() as running:
        yield running.dsn
