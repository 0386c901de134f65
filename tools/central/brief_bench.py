"""`station bench lab`'s daily brief (#41 item 5): `natest-central report brief` on the lab
bench's day, timed as a district office's timer runs it (a process of its own, to PDF).

The day is the lab bench's whole: loadgen's lanes (persons plain: the brief without a
roster opens none), their results, boxes and receipts (lab_boxes.py), and the follow-up's
pools and retests of the day before (retests.py). The brief's round is those two days, as
of 20:00 of the bench's day (or the next minute, if that is later: every event before
it), its sites (loadgen's ten) in five communities, two streets, one district.

Its machine form (CSV) is checked against counts made here of the same database: the
whole's people and tubes of the round, and the results back. Where
NATEST_BENCH_BRIEF_BASELINE names another checkout of the project (main's, for a before
and after), its brief is timed on the same day too, and its CSV must be the same, byte
for byte.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from central.store.open import open_store
from contract import rfc3339
from tools.central.reports import SITES

BASELINE = "NATEST_BENCH_BRIEF_BASELINE"
# loadgen's sites, two to a community; the first three communities in one street.
COMMUNITIES = ("东风社区", "红旗社区", "向阳社区", "朝阳社区", "建设社区")


def sites_file(work: Path) -> Path:
    path = work / "sites.csv"
    path.write_text("site,name,community,street,district\n" + "".join(
        f"site-{n:02d},采样点{n},{COMMUNITIES[n // 2]},{'长安街道' if n < 6 else '建国街道'},"
        f"东城区\n" for n in range(SITES)), encoding="utf-8")
    return path


def as_of(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """20:00 of the bench's day, or the next whole minute if that is later."""
    soon = (dt.datetime.now(zone) + dt.timedelta(minutes=1)).replace(second=0, microsecond=0)
    return max(dt.datetime.combine(day, dt.time(20), zone), soon)


def brief(code: Path, target: str, options: list[str], output: Path, *more: str) -> float:
    """`natest-central report brief` of the checkout at `code`; the seconds it took."""
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "central.cli", "report", "brief", "--db", target, *options,
         "--output", str(output), *more], cwd=code, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(code)}, check=False)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"report brief ({code}): {done.stderr.strip()[-500:]}")
    return seconds


def brief_rates(target: str, day: dt.date, zone: ZoneInfo, work: Path) -> dict[str, Any]:
    """The brief of the round ending on `day` (the lab bench's) timed, its total checked;
    the baseline's timed beside it, where one is named."""
    at = as_of(day, zone)
    options = ["--sites", str(sites_file(work)), "--from", str(day - dt.timedelta(days=1)),
               "--at", f"{at:%Y-%m-%d %H:%M}"]
    form = "pdf" if shutil.which("soffice") or shutil.which("libreoffice") else "xlsx"
    here = Path(__file__).resolve().parents[2]
    figures: dict[str, Any] = {
        "brief_at": f"{at:%Y-%m-%d %H:%M}", "brief_format": form,
        "brief_load_before": os.getloadavg()[0],
        "brief_s": brief(here, target, options, work / f"brief.{form}", "--format", form)}
    ours = work / "brief.csv"
    brief(here, target, options, ours, "--columns", "en")
    figures |= checked(ours.read_text(encoding="utf-8-sig"), target, at)
    baseline = os.environ.get(BASELINE)
    if baseline:
        theirs = work / "brief-baseline.csv"
        figures["brief_baseline_load_before"] = os.getloadavg()[0]
        figures["brief_baseline_s"] = brief(Path(baseline), target, options,
                                            work / f"brief-baseline.{form}", "--format", form)
        brief(Path(baseline), target, options, theirs, "--columns", "en")
        if theirs.read_bytes() != ours.read_bytes():
            raise RuntimeError(f"report brief: {baseline}'s CSV differs from this checkout's")
    return figures


def checked(text: str, target: str, at: dt.datetime) -> dict[str, Any]:
    """The whole's row, against the database: every registration and every seal of the
    bench's lanes stands (none undone), and the results tested by `at` are of its tubes.
    A RuntimeError names what differs."""
    total = next(r for r in csv.DictReader(io.StringIO(text)) if r["level"] == "total")
    store = open_store(target)
    try:
        people, tubes = (int(store.conn.execute(
            "SELECT count(*) FROM events WHERE type IN "  # noqa: S608 - constants
            f"({kinds})").fetchone()[0]) for kinds in (
                "'sample.registered', 'sample.registered.encrypted'", "'tube.sealed'"))
        mark = store.dialect.placeholder
        back = int(store.conn.execute(
            f"SELECT count(DISTINCT tube) FROM results WHERE tested_at <= {mark}",  # noqa: S608
            [at if mark == "%s" else rfc3339(at)]).fetchone()[0])   # as each stores times
    finally:
        store.close()
    said = {k: int(total[k]) for k in ("people_round", "tubes_round", "results_back")}
    if said != {"people_round": people, "tubes_round": tubes, "results_back": back}:
        raise RuntimeError(f"report brief: the whole says {said}; the database holds "
                           f"{people} people, {tubes} tubes, {back} tubes resulted")
    return {"brief_people": people, "brief_tubes": tubes, "brief_results_back": back,
            "brief_positive_pools": int(total["positive_pools"]),
            "brief_pool_people": int(total["pool_people"])}


def baseline(results: dict[str, Any]) -> str:
    """The baseline's brief as the table says it, or that none was named."""
    if "brief_baseline_s" not in results:
        return f"no baseline brief ({BASELINE} names none); load average " \
               f"{results['brief_load_before']:.1f}"
    return (f"the baseline's brief {results['brief_baseline_s']:.2f} s (load average "
            f"{results['brief_baseline_load_before']:.1f}; ours at "
            f"{results['brief_load_before']:.1f}), the same CSV")
