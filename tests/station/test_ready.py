"""What "ready" means (#38 item 5): a registration is taken, sealed and checked at once,
and the way to it imports nothing the first registration does not need.

No timing is asserted (BENCHMARKS.md measures ready): these check which modules are
loaded when, in a process of their own, so that a change that brings a heavy import back
onto the start path, or lets the station say ready before its sealer is warm, fails."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

from station.cli import main
from station.exit_status import CONFIG
from tests.conftest import write_config
from tools.broker import free_port

ROOT = Path(__file__).resolve().parents[2]

# Needed only at the first seal and digest (on a thread beside the store's syncs), or
# only on some lanes (an OTP key, a staff roster), or not at all any more (#39).
NOT_ON_THE_IMPORT_PATH = ("joserfc", "cryptography", "argon2", "subprocess", "csv")

# What the first registration needs beyond the store: the JOSE library and this run's
# agreement (contract.jwe_session), the KDF of today's digest key.
MADE_BEFORE_READY = ("joserfc.jwe", "contract.jwe_session",
                     "cryptography.hazmat.primitives.kdf.hkdf")


def loaded(names: tuple[str, ...], code: str, *args: str, then: str = "") -> list[str]:
    """The modules of `names` loaded after `code`, run in a fresh interpreter."""
    probe = (f"import json, sys\n{code}\n"
             f"print(json.dumps(sorted(m for m in {list(names)!r} if m in sys.modules)))\n"
             f"{then}")
    out = subprocess.run([sys.executable, "-c", probe, *args], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=60).stdout
    return list(json.loads(out.splitlines()[-1]))


def test_the_daemons_imports_load_no_sealing_or_shell_library() -> None:
    assert loaded(NOT_ON_THE_IMPORT_PATH, "import station.cli, station.runner") == []


def test_at_ready_the_sealer_is_warm_and_the_days_key_made(tmp_path: Path) -> None:
    """Station.start() returns at ready: by then the first registration has nothing
    left to import. (The uplink finds no broker here; ready does not wait for one.)"""
    config = write_config(tmp_path, f"mqtt://127.0.0.1:{free_port()}")
    start = ("from station.config import load\n"
             "from station.runner import Station\n"
             "station = Station(load(sys.argv[1]))\n"
             "station.start()")
    assert loaded(MADE_BEFORE_READY, start, str(config), then="station.stop()") == \
        sorted(MADE_BEFORE_READY)


def test_the_daemon_collects_again_once_ready_with_the_starts_objects_frozen(
        tmp_path: Path) -> None:
    """`station run` holds the collector off while it starts (cli.run) and must turn it
    back on: a daemon without it would keep every cycle it makes for the whole day."""
    config = write_config(tmp_path, f"mqtt://127.0.0.1:{free_port()}")
    watch = ("import gc, os, signal, sys, threading, time\n"
             "from station.cli import main\n"
             "def once_collecting():\n"   # the freeze is made at ready, and only there
             "    deadline = time.monotonic() + 30\n"
             "    while not gc.get_freeze_count() and time.monotonic() < deadline:\n"
             "        time.sleep(0.01)\n"
             "    print(gc.get_freeze_count() > 0, gc.isenabled(), flush=True)\n"
             "    os.kill(os.getpid(), signal.SIGTERM)\n"
             "threading.Thread(target=once_collecting, daemon=True).start()\n"
             "sys.exit(main(['run', '--config', sys.argv[1]]))\n")
    out = subprocess.run([sys.executable, "-c", watch, str(config)], cwd=ROOT, check=False,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "True"]   # frozen at ready, and collecting


def test_a_run_that_cannot_start_leaves_the_collector_on(tmp_path: Path) -> None:
    bad = tmp_path / "station.toml"
    bad.write_text("[station]\nid = 7\n")
    assert main(["run", "--config", str(bad)]) == CONFIG
    assert gc.isenabled()
