"""The technician's dry run, exactly as the README writes it: its commands are copied from
the README's section, terminal 1's block started as a daemon, terminal 2's lines run one
by one; each line's comment (`what: pattern, prompt`) is what its output must show."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import personal_data_in
from tests.readme import sh_blocks
from tools.station_process import with_parent

REPO = Path(__file__).resolve().parents[3]
COMMENT = re.compile(r"#[^:]*: (\w+), ([^ (]+)")


def readme_blocks() -> list[list[str]]:
    """The sh blocks of the README's dry-run section, as their lines."""
    return sh_blocks("### A dry run on simulated devices")


def shell(tmp_path: Path) -> dict[str, str]:
    """`station` on the PATH as the README types it: this checkout's, in this Python."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "station"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m station.cli "$@"\n')
    shim.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1"}


def test_the_readme_dry_run_drives_a_lane_and_shows_what_the_operator_saw(
        tmp_path: Path) -> None:
    first, second = readme_blocks()
    env, cwd = shell(tmp_path), tmp_path / "lane"
    cwd.mkdir()
    commands = [line for line in first if not line.startswith("#")]
    for line in commands[:-1]:   # writing the config
        subprocess.run(["bash", "-c", line], cwd=cwd, env=env, check=True, timeout=30)
    assert commands[-1].startswith("station run"), commands
    log = tmp_path / "daemon.log"
    with log.open("w") as sink:
        daemon = subprocess.Popen([*with_parent(), "bash", "-c", f"exec {commands[-1]}"],
                                  cwd=cwd, env=env, stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + 30
        while "dry run: simulated scanner on /dev/" not in log.read_text():
            assert daemon.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        checked = 0
        for line in second:
            if line.startswith("#"):
                continue
            done = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True,
                                  text=True, timeout=60, check=False)
            said = done.stdout
            expected = COMMENT.search(line)
            if line.startswith("station status"):
                assert done.returncode in (0, 1) and "recorded        up to seq 4" in said, said
                continue
            assert done.returncode == 0 and expected, (line, said, done.stderr)
            assert f"light   {expected[1]}\n" in said, (line, said)
            assert f"voice   {expected[2]}" in said, (line, said)
            if "label" in line.split("#", 1)[1]:
                assert "label   0107B00001 | 转运箱交接单" in said, said
            checked += 1
        assert checked == 6
    finally:
        daemon.terminate()
        daemon.wait(20)
    shown = log.read_text()
    assert "SIMULATED devices: scanner, card_reader, printer, lights, voice" in shown
    assert personal_data_in(shown) == [] and "试*" in shown   # the card's name, masked
    assert not (cwd / "dry-run" / "sim.sock").exists()        # gone with the daemon


def test_sim_without_a_running_lane_says_what_to_start(tmp_path: Path) -> None:
    config = tmp_path / "bench.toml"
    config.write_text(f'[station]\nid = "b"\nsite = "s"\ndata_dir = "{tmp_path}/d"\n'
                      '[privacy]\nseal = false\n')
    done = subprocess.run([sys.executable, "-m", "station.cli", "sim", "scan", "0107000001",
                           "--config", str(config)], capture_output=True, text=True,
                          timeout=30, check=False, cwd=REPO)
    assert done.returncode == 1
    assert "no dry run listens at" in done.stderr and "station run --config" in done.stderr
