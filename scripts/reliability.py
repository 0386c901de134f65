#!/usr/bin/env python3
"""Run the fault suite and the fuzzers at full size, the soak at 100,000 registrations
and the bench under the Pi profile, and write RELIABILITY.md from what they measured.
Nothing in the tables is typed by hand.

    .venv/bin/python scripts/reliability.py            # about 20 minutes
    .venv/bin/python scripts/reliability.py soak       # the soak alone, printed
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KILLS, CUTS, FUZZ_EXAMPLES = 50, 50, 3000
SOAK_REGISTRATIONS, SOAK_SAMPLE_S = 100_000, 10
HA_MEANING = [
    "Columns: *no writable database*, the longest time between two writes committed through",
    "HAProxy by a probe every 0.2 s; *collector stalled*, the longest time the collector",
    "stored nothing while events waited; *stores again after*, from the fault to that",
    "stall's end; *cluster whole after*, until a leader and a synchronous standby were back",
    "(a rejoin's pg_rewind included); *stored twice*, rows less distinct ids; *redelivered*,",
    "events the broker sent again (stored once).",
    "",
    "What a city should expect with these settings: a planned switchover, 3-5 s without a",
    "writable database; the leader's PostgreSQL killed (its Patroni restarts it in place),",
    "5-7 s; the leader lost for good (its Patroni or its host gone, the lease expiring), about",
    "the ttl, 9-10 s; one etcd member down, or an old leader rejoining, nothing. The collector",
    "stores again 0-3 s after the database's return (it retries every 2 s), and every event is",
    "stored once: it acknowledges only what the leader and its synchronous standby committed.",
    "A shorter ttl fails over sooner, at the price of failovers on a slow etcd.",
    "",
    "The last row is why the collector goes through HAProxy (README, \"Failover\"): given",
    "every member's host instead, it stayed on the old leader whose Patroni was killed; when",
    "that Patroni returned it reloaded PostgreSQL without synchronous_standby_names, the commit",
    "waiting there returned as done and was acknowledged, and pg_rewind took it away. Those",
    "events came back only because the stations keep everything and the gap checks asked.",
]


def run_suite(figures: Path, only: str = "") -> str:
    env = {**os.environ, "NATEST_KILLS": str(KILLS), "NATEST_CUTS": str(CUTS),
           "NATEST_SOAK_REGISTRATIONS": str(SOAK_REGISTRATIONS),
           "NATEST_SOAK_SAMPLE_S": str(SOAK_SAMPLE_S), "RELIABILITY_JSON": str(figures),
           "NATEST_FUZZ_EXAMPLES": str(FUZZ_EXAMPLES), "HYPOTHESIS_PROFILE": "report"}
    where = [only] if only else ["-m", "faults or fuzz", "tests"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout=3600",
         *where], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if result.returncode != 0:
        print(result.stdout[-4000:], result.stderr[-2000:], file=sys.stderr)
        sys.exit(f"the fault suite failed: {summary}")
    return summary


def systemd_exposure() -> str:
    unit = (ROOT / "systemd" / "natest-station.service").read_text()
    with tempfile.NamedTemporaryFile("w", suffix=".service", prefix="natest-station-",
                                     delete=False) as f:
        f.write(unit.replace("/opt/natest-station/.venv/bin/station", sys.executable))
    try:
        out = subprocess.run(["systemd-analyze", "security", "--offline=true", f.name],
                             capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        return "systemd-analyze not available here"
    finally:
        os.unlink(f.name)
    match = re.search(r"Overall exposure level for \S+: (.+)", out)
    return match.group(1).strip() if match else "not measured"


def row(name: str, figures: dict[str, object]) -> str:
    return f"| {name} | " + ", ".join(f"{k} {v}" for k, v in figures.items()) + " |"


def soak_table(samples: dict[str, dict[str, object]]) -> list[str]:
    """The soak's resource samples, every one (they are taken every SOAK_SAMPLE_S)."""
    keys = ["at_s", "registrations", "pid", "rss_mb", "fds", "threads", "db_mb"]
    return ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys),
            *["| " + " | ".join(str(s[k]) for k in keys) + " |" for s in samples.values()]]


def pi_profile() -> list[str]:
    """`station bench --pi --quick`: its table, as printed."""
    done = subprocess.run([sys.executable, "-m", "station.cli", "bench", "--pi", "--quick",
                           "--log", os.devnull], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        return [f"Not measured: {done.stderr.strip().splitlines()[-1:]}"]
    out = done.stdout.splitlines()
    table = out[next(i for i, ln in enumerate(out) if ln.startswith("figure")):]
    measured = [ln for ln in out if ln.startswith("measured here")]
    return [*measured, "", "```", *table, "```"]


def ha_faults() -> list[str]:
    """scripts/ha_bench.py's last table, and what it means for a city."""
    done = ROOT / "docs" / "ha-faults.txt"
    table = done.read_text().splitlines() if done.exists() else ["Not run yet."]
    return ["## Central's database failing over (Patroni)", "",
            "`scripts/ha_bench.py` (not in CI at this size; CI runs the same faults smaller in",
            "tests/central/test_patroni_faults.py): Debian's Patroni 3.0.2, etcd 3.4 and",
            "HAProxy 2.6 with PostgreSQL 15, from config/ as shipped (synchronous_mode, ttl",
            "10 s), three etcd members and two database members on one machine; 50 stations",
            "publish through each fault into one collector reaching the leader through",
            "HAProxy. Its last result:", "", *table, "", *HA_MEANING, ""]


def arm64_check() -> list[str]:
    done = ROOT / "docs" / "pi-arm64-check.txt"
    return done.read_text().splitlines() if done.exists() else ["Not run yet."]


def soak_only() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "figures.json"
        print(run_suite(path, "tests/system/test_soak.py"))
        figures = json.loads(path.read_text())
    print(row("soak", figures["soak"]))
    print("\n".join(soak_table(figures.get("soak_samples", {}))))


def arm64_only() -> None:
    """After scripts/pi-arm64-check: its result into RELIABILITY.md's section, in place."""
    path = ROOT / "RELIABILITY.md"
    text = path.read_text()
    head = "## The Pi install on arm64, emulated"
    start = text.index(head)
    end = text.index("\n## ", start + len(head))
    intro = text[start:text.index("Its last result:", start) + len("Its last result:")]
    path.write_text(text[:start] + intro + "\n\n" + "\n".join(arm64_check()) + "\n"
                    + text[end:])


def main() -> None:
    if sys.argv[1:] == ["soak"]:
        soak_only()
        return
    if sys.argv[1:] == ["arm64"]:
        arm64_only()
        return
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "figures.json"
        summary = run_suite(path)
        figures = json.loads(path.read_text())
    pi = pi_profile()
    fuzz = figures.pop("fuzz", {})
    samples = figures.pop("soak_samples", {})
    names = {
        "power_cut_broker_up": f"power cut: {KILLS} SIGKILLs mid-burst, broker up",
        "power_cut_broker_down": f"power cut: {KILLS} SIGKILLs mid-burst, broker down",
        "power_cut_fs": f"power cut: {CUTS} cuts on a filesystem that drops unsynced writes "
                        "(station SIGKILLed at the same instant)",
        "power_cut_fs_control": "control: SQLite on the same filesystem, synchronous=OFF "
                                "vs FULL, 200 acknowledged commits then a cut",
        "long_outage": "long outage: buffered while the broker was down, then delivered",
        "flapping_link": "flapping link: a proxy cuts the connection every 0.5 s",
        "mobile_link": "mobile link: up 2 s, down 1 s, 10 times; seconds from the link's "
                       "return to the first delivery",
        "soak": f"soak: {SOAK_REGISTRATIONS:,} registrations as fast as accepted, with kills, "
                "purges, broker restarts, link cuts and unplugs",
        "disk_full": "disk full: a 1 MB filesystem fills up, then space returns",
        "devices_unplugged": "scanner, card reader and printer unplugged and back",
        "clock": "unsynced clock at boot, then a jump back of one hour",
    }
    lines = [
        "# Reliability", "",
        "Figures produced by `scripts/reliability.py`, which runs the fault suite",
        "(`pytest -m faults`) and the fuzzers (`pytest -m fuzz`) at full size and writes",
        "this file. CI runs the same tests smaller on every submission.", "",
        f"Run: {time.strftime('%Y-%m-%d')}, {platform.platform()}, Python "
        f"{platform.python_version()}; pytest: {summary}; "
        f"{time.monotonic() - started:.0f} s.", "",
        "## Faults", "", "| fault | figures |", "|---|---|",
        *[row(names.get(k, k), v) for k, v in figures.items()], "",
        "`lost` counts registrations the operator was told were accepted (logged after the",
        "commit) that are not in the database; `seq_gaps` and `duplicate_seqs` are read from",
        "the outbox; `integrity_ok` is `PRAGMA integrity_check` after each kill;",
        "`delivery_problems` is what a subscriber saw against the contract (every id once or",
        "identical, seq contiguous from 1, first arrivals in seq order).", "",
        "## Soak: resources over the run", "",
        f"Sampled every {SOAK_SAMPLE_S} s (`pid` changes at each SIGKILL and restart). Flat",
        "means: within one station's life, after its first fifth, the median of the last",
        "third equals that of the first (`fd_growth`, `thread_growth`, `rss_growth_mb`).",
        "Descriptors and threads stay flat. Memory and the rate do not, by design of the",
        "day's state: the ID numbers sampled today (the duplicate check) and the closed",
        "tubes are kept in memory and copied into each new state until the day changes,",
        "so a station's RSS and its cost per registration grow with the day's count. One",
        "lane registers a few thousand people a day; these 100,000 are twenty such days",
        "in one. The database grows until delivered events pass the retention (the purge",
        "runs at start-up and hourly; the kills above are the restarts).", "",
        *soak_table(samples), "",
        "## On a Pi's resources", "",
        "`station bench --pi --quick`: the bench in a cgroup holding it to 30% of one core",
        "of this machine (about a Raspberry Pi 4 core), every fsync and fdatasync delayed",
        "8 ms (an SD card); baselines under the same constraints, the broker outside them.",
        "", *pi, "",
        *ha_faults(),
        "## The Pi install on arm64, emulated", "",
        "`sudo scripts/pi-arm64-check` (not in CI: minutes of qemu) builds a Debian 12 arm64",
        "root, runs `./setup.sh install` in it and then `station demo`. Its last result:", "",
        *arm64_check(), "",
        "## Inputs fuzzed", "", "| parser | inputs |", "|---|---|",
        *[f"| {name} | {count} |" for name, count in sorted(fuzz.items())],
        f"| **all** | **{sum(fuzz.values())}** |", "",
        "Every input was parsed or refused with a named error; none crashed or hung.", "",
        "## Sandbox", "",
        "`systemd-analyze security` on `systemd/natest-station.service`: "
        f"**{systemd_exposure()}**.",
        "What is left open and why: network access (the broker), device access (readers,",
        "printer, GPIO; device ACLs list them), supplementary groups (dialout, input, gpio),",
        "AF_NETLINK (glibc's address lookup), and ProtectClock (it blocks the read-only",
        "adjtimex() the station uses to know whether its clock is synchronised).",
        "Narrowing the system-call filter further wants a test on a real Pi first.", "",
    ]
    (ROOT / "RELIABILITY.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
