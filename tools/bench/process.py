"""The daemon as a process: time to ready, memory after a day, cold import time."""

from __future__ import annotations

import compileall
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import contract
import drivers
import station
from drivers.scanner.sim import ScannerSim
from tools.bench.common import codes_for_day, memory_mb, station_toml
from tools.broker import LocalBroker
from tools.station_process import StationProcess
from tools.watch import Watcher

ACCEPTED = r" (accepted|one_left|sealed|duplicate): "
T = TypeVar("T")


def byte_compiled() -> None:
    """Our modules' bytecode written, as an install writes it (pip compiles what it
    installs). Run from a checkout with PYTHONDONTWRITEBYTECODE set, the daemon would
    otherwise compile every module of ours from source at each start: on the Pi profile
    that was 0.3 s of a 1.3 s "ready", a cost no installed station pays."""
    for package in (station, drivers, contract):
        for folder in package.__path__:
            compileall.compile_dir(folder, quiet=1)


def _python(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


def import_time(runs: int = 5) -> dict[str, Any]:
    byte_compiled()
    bare = statistics.median(_python("pass") for _ in range(runs))
    daemon = statistics.median(_python("import station.runner") for _ in range(runs))
    return {"import_s": daemon - bare, "python_start_s": bare}


# The libraries a sealing station holds, each used as the station uses them: msgspec
# (the contract's types), the JOSE library (pyca/cryptography's binary under it, about
# 7 MB resident) sealing once, and pyca's HKDF deriving a key (the day's digests, #39;
# until #39 Argon2id's 2 MiB buffers stood here, which glibc kept). #28 asks for a
# well-kept library here, so their memory is a floor like paho's, not a cost our code
# could shed.
_LIBRARIES = """
import sys, sqlite3, serial, msgspec.json, paho.mqtt.client
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwe
from joserfc.jwk import OKPKey
key = OKPKey.generate_key("X25519")
jwe.encrypt_compact({"alg": "ECDH-ES+A256KW", "enc": "A256GCM"}, b"{}", key)
HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"day").derive(b"0" * 32)
print("up", flush=True)
sys.stdin.read()
"""


def _baseline_rss() -> float:
    """An idle interpreter holding the same libraries: what no code of ours can shed."""
    proc = subprocess.Popen([sys.executable, "-c", _LIBRARIES],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None
    proc.stdout.readline()
    rss = memory_mb(proc.pid)
    proc.stdin.close()
    proc.wait(10)
    return rss


# The floor under `ready`: a Python process that only imports paho, connects and
# publishes a retained "online" — what any Python station pays before central sees it.
_FLOOR = """
import json, sys
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=sys.argv[3])
client.connect(sys.argv[1], int(sys.argv[2]))
client.loop_start()
client.publish(sys.argv[4], json.dumps({"state": "online"}), qos=1, retain=True)
sys.stdin.read()
"""


def _until_online(broker_url: str, station: str, launch: Callable[[str], T],
                  timeout: float = 30) -> tuple[T, float, bool]:
    """`launch(status_topic)`; the time from it to a watcher seeing "online" there (or
    giving up after `timeout`), and whether it did."""
    status = contract.status_topic("bench", station)
    watcher = Watcher(broker_url, topic=status).start()
    started = time.perf_counter()
    launched = launch(status)
    seen = watcher.wait_for(lambda w: any(s.get("state") == "online" for s in w.statuses()),
                            timeout)
    elapsed = time.perf_counter() - started
    watcher.stop()
    return launched, elapsed, seen


def _floor_online(broker: LocalBroker, n: int) -> float:
    """The floor's time to "online" (a topic per run, so no earlier run's retained
    message can answer)."""
    proc, elapsed, seen = _until_online(broker.url, f"floor-{n}", lambda status: (
        subprocess.Popen([sys.executable, "-c", _FLOOR, "127.0.0.1", str(broker.port),
                          f"bench-floor-{n}", status], stdin=subprocess.PIPE)))
    proc.kill()
    proc.wait()
    if not seen:
        raise RuntimeError("the floor's publisher never came online")
    return elapsed


def _started(config: Path, broker_url: str,
             timeout: float = 30) -> tuple[StationProcess, float]:
    """The daemon started, once central's side sees it online; and how long that took.
    One that never comes online is an error with its last log lines, not a figure."""
    proc, ready_s, seen = _until_online(broker_url, "bench", lambda _: StationProcess(config),
                                        timeout)
    if not seen:
        proc.stop()
        raise RuntimeError(f"the daemon never came online within {timeout:g} s; its last "
                           "lines:\n" + "\n".join(proc.lines[-10:]))
    return proc, ready_s


def _station_config(work: Path, name: str, broker_url: str, scanner_port: str) -> Path:
    config = work / f"{name}.toml"
    config.write_text(station_toml(work / name, broker_url, scanner_port))
    return config


def ready(work: Path, starts: int = 5) -> dict[str, Any]:
    """Start the daemon on a pty scanner and a local broker, each time on a new data
    directory: its time to ready beside the floor's (the median of `starts`: under a CPU
    quota one start varies by a quarter)."""
    byte_compiled()
    sim = ScannerSim()
    with LocalBroker() as broker:
        floor = [_floor_online(broker, n) for n in range(starts)]
        times = []
        for n in range(starts):
            proc, ready_s = _started(_station_config(work, f"daemon-{n}", broker.url,
                                                     sim.port), broker.url)
            times.append(ready_s)
            proc.stop()
    sim.close()
    return {"ready_s": statistics.median(times), "ready_max_s": max(times),
            "ready_floor_s": statistics.median(floor)}


def memory(registrations: int, work: Path) -> dict[str, Any]:
    """The daemon's memory after a day's registrations, beside an idle interpreter
    holding the same libraries."""
    byte_compiled()
    sim = ScannerSim()
    with LocalBroker() as broker:
        proc, _ = _started(_station_config(work, "daemon-day", broker.url, sim.port),
                           broker.url)

        def feed() -> None:
            for code in codes_for_day(registrations):
                sim.scan(code)  # blocks when the pty is full: the station sets the pace

        feeder = threading.Thread(target=feed)
        feeder.start()
        complete = proc.waited(ACCEPTED, registrations, timeout=600)
        feeder.join()
        rss = memory_mb(proc.proc.pid)
        floor_mb = _baseline_rss()
        accepted = proc.count(ACCEPTED)
        proc.stop()
    sim.close()
    return {"rss_mb": rss, "rss_baseline_mb": floor_mb,
            "rss_over_libraries_mb": rss - floor_mb,
            "rss_after_registrations": registrations if complete else accepted}
