"""Real parts for the tests: a mosquitto per test, pty scanners, station subprocesses."""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.scanner.sim import ScannerSim
from station.config import load
from station.runner import Station
from tests.central_keys import privacy_section
from tools.broker import LocalBroker
from tools.central.postgres import bindir, postgres
from tools.station_process import StationProcess

pytest_plugins = ["tests.skips"]   # a skip outside the allow-list fails a strict run

# Every full name the tests use; ID numbers are found by their shape.
TEST_NAMES = ("张三丰", "李四", "王五", "赵敏", "钱七", "赵六六", "陈大文", "约翰", "玛丽")
FULL_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
# A mainland mobile number, and the numbered names of tests/lane_days.py.
PHONE = re.compile(r"(?<![0-9])1[3-9]\d{9}(?![0-9])")
NUMBERED_NAME = re.compile(r"测试\d+")
# An ID number's mask (1101**********002X): a lane's log is on its card, and 8 known
# characters shrink a thief's guesses to a few 10^4 (#39).
MASKED_ID = re.compile(r"\d{4}\*{10}[\dXx]{4}")

# The duplicate checks' secret in RAM (station.digest_secret, "runtime"): in a folder of this
# test run's own, inherited by every station process it starts, and removed at its end.
RUNTIME = Path(tempfile.mkdtemp(prefix="natest-tests-", dir="/dev/shm"))
os.environ["RUNTIME_DIRECTORY"] = str(RUNTIME)
atexit.register(shutil.rmtree, RUNTIME, True)


def personal_data_in(text: str) -> list[str]:
    found = FULL_ID.findall(text) + PHONE.findall(text) + NUMBERED_NAME.findall(text)
    return found + MASKED_ID.findall(text) + [name for name in TEST_NAMES if name in text]


@pytest.fixture(autouse=True)
def no_personal_data_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The station must never log a full name or ID number, or an ID number's mask."""
    caplog.set_level(logging.INFO)
    yield
    records = caplog.get_records("setup") + caplog.get_records("call")  # not teardown's
    shown = "\n".join(r.getMessage() for r in records
                      if r.name.startswith(("station", "drivers", "central", "tools")))
    assert personal_data_in(shown) == [], "personal data in the log"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[str]:
    """One PostgreSQL for the run, from Debian's server binaries; its first DSN."""
    if bindir() is None:
        pytest.skip("no PostgreSQL server binaries (apt-get install postgresql)")
    with postgres() as dsn:
        yield dsn


@pytest.fixture
def pg_db(pg_cluster: str) -> str:
    """A database of its own for one test, in the run's PostgreSQL."""
    import psycopg  # noqa: PLC0415 - the central extra

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_cluster, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    return pg_cluster.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def central_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Central's store for one test, each way it is kept: a SQLite file (central.db in the
    test's folder) or a database of its own in the run's PostgreSQL (a DSN)."""
    if request.param == "sqlite":
        return str(tmp_path / "central.db")
    return str(request.getfixturevalue("pg_db"))


def eventually(predicate: Callable[[], bool], timeout: float = 20) -> bool:
    """Wait on a condition with a deadline, where there is no event to wait on."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def broker() -> Iterator[LocalBroker]:
    with LocalBroker(persistent=True) as running:
        yield running


@pytest.fixture
def scanner() -> Iterator[ScannerSim]:
    sim = ScannerSim()
    yield sim
    sim.close()


@pytest.fixture
def spawn() -> Iterator[type[StationProcess]]:
    """Start station subprocesses that are killed at teardown, even when a test fails."""
    started: list[StationProcess] = []

    class Owned(StationProcess):
        def __init__(self, config: Path) -> None:
            super().__init__(config)
            started.append(self)

    yield Owned
    for proc in started:
        if proc.proc.poll() is None:
            proc.proc.kill()
            proc.proc.wait()
    leaked = [hit for proc in started for hit in personal_data_in("\n".join(proc.lines))]
    assert leaked == [], "personal data in a station's log"


def write_config(tmp_path: Path, url: str, scanner_port: str = "", card_port: str = "",
                 *, sealed: bool = True, **station: object) -> Path:
    """A lane's config; `sealed=False`: a lab bench's ([privacy] seal = false)."""
    station.setdefault("tube_prefix", "0107")  # short box ids that fit a 40 mm label
    lines = ["[station]", 'id = "lane-07"', 'site = "test-site"',
             f'data_dir = "{tmp_path / "data"}"', 'tube_pattern = "T[0-9]{6}|0107[0-9]{6}"']
    lines += [f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in station.items()]
    lines += ["[screen]", 'listen = ""']   # many stations at once: a test turns it on
    lines += privacy_section() if sealed else ["[privacy]", "seal = false"]
    lines += ["[mqtt]", f'url = "{url}"', "reconnect_max_s = 1"]  # last: tests append to it
    if scanner_port:
        lines += ["[scanner]", 'driver = "serial"', f'port = "{scanner_port}"']
    if card_port:
        lines += ["[card_reader]", 'driver = "sam"', f'port = "{card_port}"']
    path = tmp_path / "station.toml"
    path.write_text("\n".join(lines).replace("'", '"') + "\n")
    return path


@contextlib.contextmanager
def in_process(config: Path, **options: Any) -> Iterator[Station]:
    """A whole station in this process (threads), stopped cleanly at the end."""
    station = Station(load(config), **options)
    stop = threading.Event()
    core = threading.Thread(target=station.run, args=(stop,), name="core")
    core.start()
    try:
        assert station.ready.wait(10)
        yield station
    finally:
        stop.set()
        core.join(10)


# Figures the fault suite measures; scripts/reliability.py turns them into RELIABILITY.md.
FIGURES: dict[str, dict[str, object]] = {}


@pytest.fixture
def figures() -> dict[str, dict[str, object]]:
    return FIGURES


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = os.environ.get("RELIABILITY_JSON")
    if path and FIGURES:
        Path(path).write_text(json.dumps(FIGURES, indent=2, ensure_ascii=False) + "\n")


def collect_command(url: str, db: Path, state: Path, group: str = "",
                    *options: str) -> list[str]:
    """`natest-central collect` with its own database and state dir, `options` appended."""
    return [sys.executable, "-m", "central.cli", "collect", "--mqtt-url", url, "--db", str(db),
            "--state-dir", str(state), "--group", group, *options]


class CollectorProcess:
    """`natest-central collect` as a service runs it: its own process, its state dir;
    `options` appended to its command line."""

    def __init__(self, url: str, db: Path, state: Path, group: str = "", *options: str) -> None:
        self.proc = subprocess.Popen(collect_command(url, db, state, group, *options),
                                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     text=True)
        self.lines: list[str] = []
        self.subscribed = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if "subscribed as" in line:
                self.subscribed.set()

    def end(self, how: signal.Signals) -> None:
        self.proc.send_signal(how)
        self.proc.wait(15)
