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


@contextmanager
def postgres() -> Iterator[str]:
    """Yield a DSN; the cluster lives in a private temporary folder and is removed after."""
    binaries = bindir()
    if binaries is None:
        raise FileNotFoundError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="natest-pg-"))
    # PostgreSQL refuses to run as root: as root, the cluster belongs to 'postgres'.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(folder, "postgres")
    port = free_port()

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True)

    try:
        run(str(binaries / "initdb"), "-D", str(folder / "data"), "-U", "natest",
            "--auth=trust", "-E", "UTF8", "--no-sync")
        run(str(binaries / "pg_ctl"), "-D", str(folder / "data"), "-l", str(folder / "log"),
            "-w", "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start")
        yield f"postgresql://natest@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(binaries / "pg_ctl"), "-D", str(folder / "data"),
                        "-m", "immediate", "stop"], check=False, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
