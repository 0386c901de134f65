"""`station bench`: the station's figures beside their baselines, measured in one run.

Every figure runs on real parts: a pty scanner, SQLite files on the data disk, a local
mosquitto. Baselines (a bare sqlite3 loop, a bare paho loop, mosquitto_pub, an idle
interpreter) are measured in the same run, so ratios hold on a noisy machine.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

from station import __version__
from tools.bench.common import SIZES, Size

# figure → (target as text, check); None: reported only
TARGETS: dict[str, tuple[str, Callable[[float], bool]]] = {
    "latency_p99_ms": ("≤ 15 ms", lambda v: v <= 15),
    "durable_ratio": ("≥ 0.7", lambda v: v >= 0.7),
    "drain_events_per_s": ("≥ 5,000/s", lambda v: v >= 5000),
    "drain_ratio_vs_paho": ("≥ 0.8", lambda v: v >= 0.8),
    # Our code's share: the 12 MB that 40 MB left over the libraries' 28 on 2026-11-22,
    # judged over a floor that now holds the sealing libraries too (BENCHMARKS.md, #28).
    "rss_over_libraries_mb": ("≤ 12 MB", lambda v: v <= 12),
    "ready_s": ("≤ 1.0 s", lambda v: v <= 1.0),
    "prompt_latency_p99_ms": ("≤ 150 ms", lambda v: v <= 150),
    "card_station_share_p99_ms": ("≤ 100 ms", lambda v: v <= 100),
    "digest_ms": ("≤ 5 ms", lambda v: v <= 5),   # "a few ms on a Pi" (#28)
}

# Under the Pi profile a lane's drain is judged against bare paho under the same quota;
# its absolute target is a full-speed figure, reported there and not judged.
NOT_JUDGED_ON_A_PI = {"drain_events_per_s"}

ROWS = [  # (figure, its baseline or companion figure, unit)
    ("latency_p50_ms", "latency_floor_p50_ms", "ms"),
    ("latency_p99_ms", "latency_floor_p99_ms", "ms"),
    ("durable_per_s", "durable_bare_commits_per_s", "/s"),
    ("durable_ratio", None, ""),
    ("drain_events_per_s", "drain_paho_per_s", "/s"),
    ("drain_ratio_vs_paho", None, ""),
    ("drain_mosquitto_pub_per_s", None, "/s"),
    ("ingest_sqlite_per_s", "ingest_mosquitto_sub_per_s", "/s"),
    ("ingest_postgresql_per_s", "ingest_mosquitto_sub_per_s", "/s"),
    ("rss_mb", "rss_baseline_mb", "MB"),
    ("rss_over_libraries_mb", None, "MB"),
    ("ready_s", "ready_floor_s", "s"),
    ("ready_max_s", "ready_floor_s", "s"),
    ("card_to_accept_p50_ms", "card_read_floor_p50_ms", "ms"),
    ("card_to_accept_p99_ms", "card_read_floor_p99_ms", "ms"),
    ("card_station_share_p99_ms", None, "ms"),
    ("card_phone_to_accept_p99_ms", "card_to_accept_p99_ms", "ms"),
    ("phone_to_accept_p99_ms", None, "ms"),
    ("prompt_latency_p50_ms", None, "ms"),
    ("prompt_latency_p99_ms", "prompt_spawn_floor_p99_ms", "ms"),
    ("prompts_rendered_s", None, "s"),
    ("import_s", "python_start_s", "s"),
    ("seal_ms", "seal_own_agreement_ms", "ms"),
    ("open_ms", "open_own_agreement_ms", "ms"),
    ("digest_ms", None, "ms"),
    ("day_db_mb", None, "MB"),
    ("day_db_after_purge_mb", None, "MB"),
]


CENTRAL_EXTRA = "pip install '.[central]'"


def central_missing() -> str | None:
    """Why central's figures cannot be measured here (a lane's install has no central
    side), or None when they can."""
    try:
        import central.ingest.collector  # noqa: F401, PLC0415 - only to know it imports
    except ModuleNotFoundError as exc:
        return (f"central figures skipped: {exc.name} is not installed (the central side; "
                f"{CENTRAL_EXTRA} to measure them)")
    if importlib.util.find_spec("tools.central") is None:
        return ("central figures skipped: central's benches are not installed here (a lane's "
                "install leaves tools/central/ out; run them from a checkout)")
    return None


def sealing_figures(seals: int, opened: bool) -> dict[str, Any]:
    """The lane's sealing; and central opening what it sealed, where central is here
    (under the Pi profile too: an opening is measured on the same constrained core)."""
    from tools.bench import sealing  # noqa: PLC0415 - when benching

    found = sealing.sealing(seals)
    if opened:
        from tools.central.opening import opening  # noqa: PLC0415 - central's bench

        found.update(opening(seals))
    return found


# The steps in the order they run: name for `--only` → what it measures. `--only` runs
# some again (ready, after a change on the start path) without the whole suite's minutes.
STEPS = {
    "import": "import time",
    "durable": "durable throughput",
    "day-db": "database size over a day",
    "drain": "drain to the broker",
    "collector": "collector ingest",
    "ready": "daemon ready",
    "memory": "daemon memory after a day",
    "prompts": "spoken prompt latency",
    "sealing": "sealing a person",
    "accept": "accept latency at 10 registrations/s",
    "card": "ID card on the reader to accepted, and with its phone typed",
}


def accept_latency(size: Size, work: Path) -> dict[str, Any]:
    from tools.bench import core  # noqa: PLC0415 - when benching
    from tools.broker import LocalBroker  # noqa: PLC0415

    with LocalBroker() as broker:
        return core.latency(size, work, broker.url)


def card_latency(size: Size, work: Path) -> dict[str, Any]:
    from tools.bench.card import card_phone_to_accept, card_to_accept  # noqa: PLC0415
    from tools.broker import LocalBroker  # noqa: PLC0415

    with LocalBroker() as broker:
        found = {**card_to_accept(size.cards, work, broker.url),
                 **card_phone_to_accept(size.cards, work, broker.url)}
    # What the station adds to the reader's own time for the same read.
    share = found["card_to_accept_p99_ms"] - found["card_read_floor_p99_ms"]
    return {**found, "card_station_share_p99_ms": share}


def collector_ingest(size: Size, work: Path) -> dict[str, Any]:
    from tools.central import ingest  # noqa: PLC0415 - needs the central extra

    return ingest.ingest(size.ingest_events, work)


def measures(size: Size, work: Path,
             central_here: bool) -> dict[str, Callable[[], dict[str, Any]]]:
    """Each step of STEPS, ready to run."""
    from tools.bench import core, drain, process, voice  # noqa: PLC0415 - when benching

    return {
        "import": process.import_time,
        "durable": lambda: core.durable(size, work),
        "day-db": lambda: core.day_db(size, work),
        "drain": lambda: drain.drain(size.drain_events, work),
        "collector": lambda: collector_ingest(size, work),
        "ready": lambda: process.ready(work),
        "memory": lambda: process.memory(size.day_regs, work),
        "prompts": lambda: voice.prompt_latency(size.prompts, work),
        "sealing": lambda: sealing_figures(size.seals, opened=central_here),
        "accept": lambda: accept_latency(size, work),
        "card": lambda: card_latency(size, work),
    }


def run(size: Size, work: Path, log: Callable[[str], None] = print,
        central: bool = True, only: Collection[str] = ()) -> dict[str, Any]:
    results: dict[str, Any] = {}
    missing = central_missing()
    measure = measures(size, work, central_here=not missing)
    # The Pi profile skips central's collector: it does not run on a lane.
    if missing:
        log(missing)
    skipped = {"collector"} if missing or not central else set()
    steps = [(name, measure[key]) for key, name in STEPS.items()
             if key not in skipped and (not only or key in only)]
    for n, (name, step) in enumerate(steps, start=1):
        log(f"[{n}/{len(steps)}] {name} …")
        began = time.monotonic()
        results.update(step())
        log(f"[{n}/{len(steps)}] {name}: {time.monotonic() - began:.1f} s")
    return results


def table(results: dict[str, Any]) -> str:
    profiled = bool(results.get("profile"))
    lines = [f"{'figure':<26}{'value':>12}  {'baseline':>12}  {'ratio':>7}  {'target':<10} ok"]
    for figure, baseline, unit in ROWS:
        value = results.get(figure)
        if value is None:
            continue
        base = results.get(baseline) if baseline else None
        ratio = f"{value / base:7.2f}" if base else " " * 7
        target, check = TARGETS.get(figure, ("report", None))
        if profiled and figure in NOT_JUDGED_ON_A_PI:
            target, check = "report", None
        verdict = "" if check is None else ("yes" if check(value) else "NO")
        base_text = f"{base:>10.2f}{unit:<2}" if base is not None else " " * 12
        lines.append(f"{figure:<26}{value:>10.2f}{unit:<2}  {base_text}  {ratio}  "
                     f"{target:<10} {verdict}")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform(), "machine": platform.machine(),
            "station": __version__, "date": time.strftime("%Y-%m-%d")}


@contextlib.contextmanager
def log_to_file(path: Path) -> Iterator[None]:
    """The stations' own log lines (hundreds) go to a file; the screen shows progress."""
    root = logging.getLogger()
    console = [h for h in root.handlers if type(h) is logging.StreamHandler
               and h.stream in (sys.stderr, sys.stdout)]
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    for h in console:
        root.removeHandler(h)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
        for h in console:
            root.addHandler(h)


def main(quick: bool = False, json_path: str | None = None, size_name: str | None = None,
         data_dir: str | None = None, log_path: str = "station-bench.log", *,
         profile: str = "", only: Collection[str] = ()) -> int:
    name = size_name or ("quick" if quick else "full")
    size = SIZES[name]
    print(f"station bench ({name}{', ' + profile if profile else ''}): the stations' log "
          f"is in {log_path}", flush=True)
    constraints: dict[str, Any] = {}
    if profile:
        from tools.bench.pi import measured_constraints  # noqa: PLC0415

        constraints = {"profile": profile, **measured_constraints()}
        print(f"measured here: an fsync takes {constraints['profile_fsync_ms']:.1f} ms, a busy "
              f"loop gets {constraints['profile_cpu_share']:.0%} of a core", flush=True)
    # The data disk matters (fsync): measure where the station keeps its data, not tmpfs.
    with (log_to_file(Path(log_path)),
          tempfile.TemporaryDirectory(prefix="natest-bench-", dir=data_dir) as work):
        results = run(size, Path(work), log=lambda line: print(line, flush=True),
                      central=not profile, only=only)
    results = {"size": name, "machine": machine(), **constraints, **results}
    print(table(results))
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return 0
