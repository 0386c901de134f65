"""A clerk trying central, exactly as the README writes it ("Central tried in minutes"):
its commands are copied from the README's section, terminal 1's collector started as a
process, terminal 2's lines run one by one on a fresh database (the broker's address the
only thing changed: a private mosquitto's for the README's localhost:1883). The demo's
lane seals to the key the clerk made, every paper opens: the register (PDF and xlsx),
the recall list, the results and custody, read back by LibreOffice and pdftotext (#42)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from tests.central_keys import key_pair, people_in
from tests.conftest import eventually
from tests.office import libreoffice_rows, needs_libreoffice
from tests.readme import sh_blocks
from tools import demo
from tools.broker import LocalBroker
from tools.station_process import with_parent
from tools.watch import Watcher

REPO = Path(__file__).resolve().parents[2]
README_BROKER = "mqtt://localhost:1883"
pytestmark = [needs_libreoffice, pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler: apt-get install poppler-utils")]

# The demo's people as central's papers print them (synthetic, tools/demo.py).
LI = json.loads(demo.LI_QR)["id"]
QIAN = json.loads(demo.QIAN_QR)["id"]
FIRST_TUBE = {demo.ZHANG.number, LI, demo.WANG_BARE}   # the positive one in the README
EVERYONE = FIRST_TUBE | {demo.ZHAO.number, QIAN, demo.SUN_TYPED}


def readme_blocks() -> list[list[str]]:
    """The sh blocks of the README's "Central tried in minutes", as their lines."""
    return sh_blocks("### Central tried in minutes")


def shell(tmp_path: Path) -> dict[str, str]:
    """`station` and `natest-central` on the PATH as the README types them: this
    checkout's, in this Python; a home of the test's own (the collector's state)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, module in (("station", "station.cli"), ("natest-central", "central.cli")):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m {module} "$@"\n')
        shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(REPO),
           "HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    env.pop("STATE_DIRECTORY", None)
    return env


def commands(block: list[str], url: str) -> list[str]:
    return [line.replace(README_BROKER, url) for line in block if not line.startswith("#")]


def stored(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def all_stored(db: Path, events: int) -> bool:
    return stored(db) == events


def pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout


def test_the_readme_clerk_path_makes_papers_that_open(tmp_path: Path) -> None:
    first, second = readme_blocks()
    env, cwd = shell(tmp_path), tmp_path / "clerk"
    cwd.mkdir()
    with LocalBroker() as broker:
        (collect,) = commands(first, broker.url)
        log = tmp_path / "collector.log"
        with log.open("w") as sink:
            collector = subprocess.Popen([*with_parent(), "bash", "-c", f"exec {collect}"],
                                         cwd=cwd, env=env, stdout=sink, stderr=sink)
        try:
            assert eventually(lambda: "subscribed as" in log.read_text()), log.read_text()
            run_terminal_two(commands(second, broker.url), cwd, env)
        finally:
            collector.send_signal(signal.SIGINT)   # the README's Ctrl-C
            collector.wait(20)
    assert collector.returncode == 0, log.read_text()
    check_papers(cwd)


def run_terminal_two(lines: list[str], cwd: Path, env: dict[str, str]) -> None:
    """Each line as a clerk types it; after the demo, what the collector holds is waited
    for (a clerk is slower than its commit)."""
    assert any(line.startswith("station demo") and "--central-key" in line for line in lines)
    for line in lines:
        done = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=180, check=False)
        assert done.returncode == 0, (line, done.stdout[-2000:], done.stderr[-2000:])
        assert "未能解密" not in done.stderr, (line, done.stderr)
        if line.startswith("station demo"):
            (last,) = re.findall(r"events received, seq 1\.\.(\d+)", done.stdout)
            assert eventually(partial(all_stored, cwd / "trial.db", int(last))), stored(
                cwd / "trial.db")


def check_papers(cwd: Path) -> None:
    papers = ["登记表.pdf", "登记表.xlsx", "阳性召回.xlsx", "结果.pdf", "转运交接.pdf"]
    for paper in papers:
        assert (cwd / paper).stat().st_mode & 0o077 == 0, paper   # the clerk's alone
    register = pdf_text(cwd / "登记表.pdf")
    assert "核酸混采登记表" in register and "110101B00001" in register
    assert all(number in register for number in EVERYONE), register
    assert demo.ZHANG.name in register and "未能解密" not in register
    sheet = "\n".join(",".join(row) for row in libreoffice_rows(cwd / "登记表.xlsx", cwd))
    assert all(number in sheet for number in EVERYONE) and demo.ZHAO.name in sheet
    recall = libreoffice_rows(cwd / "阳性召回.xlsx", cwd)
    people = {cell for row in recall for cell in row if cell in EVERYONE}
    assert people == FIRST_TUBE, recall                    # the positive tube's three
    assert any("阳性" in row for row in recall) and demo.ZHANG.name in str(recall)
    results = pdf_text(cwd / "结果.pdf")
    assert all(number in results for number in EVERYONE)
    assert "阳性" in results and "待出结果" in results and "未能解密" not in results
    custody = pdf_text(cwd / "转运交接.pdf")
    assert "110101B00001" in custody and "S0100009" in custody


def test_the_load_generator_seals_to_the_clerks_key(tmp_path: Path) -> None:
    """The README's bigger day: `tools.central.loadgen --central-key` seals every person
    to the key given, so central's private half opens each (tests/central_keys.people_in
    raises on one it cannot open)."""
    with LocalBroker() as broker:
        watcher = Watcher(broker.url).start()
        try:
            done = subprocess.run(
                [sys.executable, "-m", "tools.central.loadgen", "--port", str(broker.port),
                 "--stations", "2", "--events", "12", "--central-key", str(key_pair()[1])],
                cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
            assert done.returncode == 0, done.stderr
            assert watcher.wait_for(lambda w: len(w.events()) == 24)
        finally:
            watcher.stop()
    sealed = [e for e in watcher.events() if e["type"] == "sample.registered.encrypted"]
    assert len(sealed) == 20 and len(people_in(sealed)) == 20


def test_the_demo_given_the_private_half_says_which_key_to_give(tmp_path: Path) -> None:
    """The clerk's likeliest slip: keygen's KID.jwk given where the lane wants KID.pub.jwk.
    Said in a line naming the file, no traceback, the status of a config that cannot run."""
    done = subprocess.run(
        [sys.executable, "-m", "station.cli", "demo", "--mqtt-url", "mqtt://127.0.0.1:9",
         "--central-key", str(key_pair()[0])], cwd=REPO, capture_output=True, text=True,
        timeout=60, check=False)
    assert done.returncode == 78, done.stderr
    assert "holds the private part" in done.stderr and str(key_pair()[0]) in done.stderr
    assert "Traceback" not in done.stderr
