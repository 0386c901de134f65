#!/usr/bin/env python3
"""Central's database failing over, at full size: the Patroni fault tests
(tests/central/test_patroni_faults.py) with NATEST_HA_FULL=1 (each of 50 stations holds
40 events when the fault starts and records 4 a second through it), and one fault more:
the leader's Patroni killed with every member's host in the collector's DSN instead of
HAProxy. Prints the table and writes it to docs/ha-faults.txt, which RELIABILITY.md
shows (scripts/reliability.py reads it there). About 8 minutes; needs Debian's patroni,
etcd-server, haproxy and postgresql (./setup.sh test installs them) and root or the
postgres user's rights (Patroni runs PostgreSQL as postgres).

    .venv/bin/python scripts/ha_bench.py
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "docs" / "ha-faults.txt"
COLUMNS = {  # figure → its column's heading
    "no_writable_db_s": "no writable database (s)",
    "collector_stalled_s": "collector stalled (s)",
    "stores_again_after_s": "stores again after (s)",
    "cluster_back_after_s": "cluster whole after (s)",
    "sent": "events sent",
    "stored": "stored",
    "duplicate_rows": "stored twice",
    "redelivered": "redelivered",
    "lost_then_replayed": "acknowledged, rewound away, replayed",
}


def run(figures: Path) -> str:
    env = {**os.environ, "NATEST_HA_FULL": "1", "RELIABILITY_JSON": str(figures)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout=1800",
         "tests/central/test_patroni_faults.py"], cwd=ROOT, env=env, capture_output=True,
        text=True, check=False)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0:
        print(done.stdout[-6000:], done.stderr[-2000:], file=sys.stderr)
        sys.exit(f"the Patroni fault tests failed: {summary}")
    return summary


def table(figures: dict[str, dict[str, object]]) -> list[str]:
    rows = {name.removeprefix("ha: "): found for name, found in figures.items()
            if name.startswith("ha: ")}
    return ["| fault | " + " | ".join(COLUMNS.values()) + " |",
            "|---|" + "---|" * len(COLUMNS),
            *[f"| {name} | " + " | ".join(str(found.get(key, "")) for key in COLUMNS) + " |"
              for name, found in rows.items()]]


def main() -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "figures.json"
        summary = run(path)
        figures = json.loads(path.read_text())
    lines = [f"Run {time.strftime('%Y-%m-%d')} by scripts/ha_bench.py on "
             f"{platform.platform()}, {os.cpu_count()} cores; pytest: {summary}; "
             f"{time.monotonic() - started:.0f} s.", "", *table(figures)]
    RESULT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
