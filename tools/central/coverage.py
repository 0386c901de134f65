"""`station bench coverage`: `report coverage --roster` on a city's sealed day (#41 item 5).

A day of events (loadgen's lanes: tubes of ten, every person sealed to central's key, as
lanes seal them, each person a distinct valid ID number) is written through the
collector's own batch path, on PostgreSQL where it is installed. A city's roster is
written beside it (a CSV with the Chinese headers: 区, 街道, 社区, 楼栋, 户, 身份证号,
姓名, 人群分类), nine in ten of the day's people and as many more never sampled as make
its size, 2.5 to a household. Then `report coverage` runs as `natest-central` runs it:
cold (every sealed person opened, and indexed), warm (the index read, no person
opened), and as natest-central-index.timer keeps the index: the day's latest 1/72 of
registrations (a twelve-hour day's ten minutes, the timer's rhythm) taken out of the
index first, opened by the report. Target: ≤ 60 s, on the full size (5,000,000
events, 5,000,000 people on the roster). Then `report brief --roster` with the same
roster, as the brief's timer runs it (a process of its own; target ≤ 30 s), its whole
checked: the day's people, and the roster's 应检 and 已检. The bench ends with an error
where the 已检 figure is not the number of roster people the day sampled.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from central.reports import reports
from central.reports.opening import Opener, Persons
from central.reports.period import period
from central.site_facts import ZONE
from contract.sealed import keygen, read_keys
from contract.sealer import Sealer
from tools.central.loadgen import distinct_number
from tools.central.reports import PER_STATION, load

SIZES = {"full": (5_000_000, 5_000_000), "quick": (500_000, 500_000),
         "tiny": (20_000, 20_000)}   # the day's events, the roster's people
TARGET_S = 60.0
BRIEF_TARGET_S = 30.0
BEHIND = 72   # the timer's ten minutes of a twelve-hour day: the share not yet indexed
NEVER_SAMPLED = 10_000_000   # the people of the roster the day never saw: k from here
SITES = ZoneInfo(ZONE)
HEADER = "区,街道,社区,楼栋,户,身份证号,姓名,人群分类\n"
GROUPS = ("老年人", "儿童", "", "", "重点行业", "", "老年人、重点行业", "", "", "")


def registered(events: int) -> Iterator[int]:
    """The k (loadgen.distinct_number's) of each person the bench's day registers: a
    station's seqs 2-11 of every twelve (its tube opened at 1, sealed at 12)."""
    stations = max(1, events // PER_STATION)
    per = events // stations
    for n in range(stations):
        yield from (n * per + seq for seq in range(1, per + 1) if (seq - 1) % 12 not in (0, 11))


def write_roster(path: Path, events: int, people: int) -> int:
    """The roster: nine in ten of the day's people, then people never sampled; how many
    of its people the day sampled."""
    sampled = [k for i, k in enumerate(registered(events)) if i % 10][:people]
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for start in range(0, people, 100_000):
            out.write("".join(_row(j, sampled[j] if j < len(sampled) else NEVER_SAMPLED + j)
                              for j in range(start, min(people, start + 100_000))))
    return len(sampled)


def _row(j: int, k: int) -> str:
    household = j * 2 // 5
    building = household // 50
    community = building // 40
    street = community // 10
    return (f"{street // 10}区,{street}街道,{community}社区,{building % 40}栋,"
            f"{household % 50}室,{distinct_number(k)},居民{j},{GROUPS[j % 10]}\n")


def timed_coverage(target: str, roster: Path, private: Path, out: Path) -> tuple[float, dict[
        str, str]]:
    """Seconds `report coverage` took, as natest-central runs it, and its total row."""
    began = time.perf_counter()
    reports.run("coverage", target, out, roster, columns="en",
                span=period(None, None, None, SITES),
                persons=Persons(Opener([private]), needed=True))
    seconds = time.perf_counter() - began
    with out.open(encoding="utf-8-sig") as rows:
        return seconds, next(csv.DictReader(rows))


def coverage_rates(target: str, events: int, people: int, work: Path) -> dict[str, Any]:
    private, public, _ = keygen(work / "bench-central-keys", "bench-coverage")
    central_key = read_keys(public, private=False)[0]
    began = time.perf_counter()
    write_per_s, registrations = load(target, events, sealers=lambda: Sealer(central_key),
                                      distinct=True)
    load_s = time.perf_counter() - began
    roster = work / "roster.csv"
    on_roster = write_roster(roster, events, people)
    results: dict[str, Any] = {"events": events, "registrations": registrations,
                               "roster": people, "write_per_s": write_per_s,
                               "load_s": load_s, "load_average_before": os.getloadavg()}
    for run in RUNS:
        if run == "timer":
            results["unindexed"] = unindex_latest(target, registrations // BEHIND)
        seconds, total = timed_coverage(target, roster, private, work / f"{run}.csv")
        if (int(total["expected"]), int(total["tested"])) != (people, on_roster):
            raise RuntimeError(f"coverage {run}: 应检 {total['expected']}, 已检 "
                               f"{total['tested']}; planned {people}, {on_roster}")
        results[f"{run}_s"] = seconds
    results["brief_s"] = timed_brief(target, roster, private, work, (
        registrations, people, on_roster))
    results.update(tested=on_roster, load_average_after=os.getloadavg())
    return results


def timed_brief(target: str, roster: Path, private: Path, work: Path,
                planned: tuple[int, int, int]) -> float:
    """Seconds `report brief --roster` took as the brief's timer runs it, on the day
    as of 20:00 (or now, if later); its whole checked against `planned` (the day's
    people, the roster's, those of them sampled)."""
    from tools.central.brief_bench import as_of, brief, sites_file  # noqa: PLC0415

    at = as_of(dt.datetime.now(SITES).date(), SITES)
    out = work / "brief.csv"
    seconds = brief(Path(__file__).resolve().parents[2], target, [
        "--sites", str(sites_file(work)), "--private-key", str(private), "--roster",
        str(roster), "--at", f"{at:%Y-%m-%d %H:%M}", "--columns", "en"], out)
    with out.open(encoding="utf-8-sig") as rows:
        whole = next(row for row in csv.DictReader(rows) if row["level"] == "total")
    said = (int(whole["people_today"]), int(whole["roster"]), int(whole["tested"]))
    if said != planned:
        raise RuntimeError(f"report brief: people, 应检, 已检 {said}; planned {planned}")
    return seconds


def unindex_latest(target: str, count: int) -> int:
    """The index rows of the day's `count` latest registrations removed (those the timer
    has not reached yet); how many were."""
    from central.store.documents import REGISTERED  # noqa: PLC0415
    from central.store.open import open_store  # noqa: PLC0415

    store = open_store(target)
    try:
        with store._transaction():   # the bench's own surgery, in one dialect's words
            cursor = store._execute(   # an int and a constant: nothing to inject
                "DELETE FROM document_index WHERE event_id IN (SELECT id FROM "  # noqa: S608
                f"events WHERE type IN {REGISTERED} ORDER BY ts DESC LIMIT {int(count)})")
            return int(cursor.rowcount)
    finally:
        store.close()


RUNS = ("cold", "warm", "timer")
NAMED = {"cold": "cold", "warm": "warm", "timer": "with the timer"}


def table(results: dict[str, Any]) -> str:
    def judged(run: str) -> str:
        value = results[f"{run}_s"]
        return (f"  report coverage, {NAMED[run]:<15}{value:>8.2f} s   target ≤ "
                f"{TARGET_S:.0f} s   {'met' if value <= TARGET_S else 'MISSED'}")

    brief = results["brief_s"]
    return "\n".join([
        f"a sealed day of {results['events']:,} events ({results['database']}; "
        f"{results['registrations']:,} people; written at {results['write_per_s']:,.0f} "
        f"rows/s), a roster of {results['roster']:,} ({results['tested']:,} sampled)",
        *map(judged, RUNS),
        f"  report brief --roster          {brief:>8.2f} s   target ≤ {BRIEF_TARGET_S:.0f} s   "
        f"{'met' if brief <= BRIEF_TARGET_S else 'MISSED'}",
        f"  ({results['unindexed']:,} registrations not yet indexed by the timer's last run)",
        "  load average before, after: " + ", ".join(
            " ".join(f"{x:.2f}" for x in results[k])
            for k in ("load_average_before", "load_average_after"))])


@contextmanager
def _sqlite_file(work: Path) -> Iterator[Callable[[], AbstractContextManager[str]]]:
    @contextmanager
    def fresh() -> Iterator[str]:
        yield str(work / "coverage.db")

    yield fresh


def main(size_name: str, json_path: str | None) -> int:
    import importlib.util  # noqa: PLC0415

    from tools.bench import machine  # noqa: PLC0415
    from tools.central.city import fresh_databases  # noqa: PLC0415
    from tools.central.postgres import bindir  # noqa: PLC0415

    events, people = SIZES[size_name]
    on_pg = importlib.util.find_spec("psycopg") is not None and bindir() is not None
    print(f"station bench coverage ({size_name}): {events:,} sealed events on "
          f"{'PostgreSQL' if on_pg else 'SQLite (no PostgreSQL here)'}, a roster of "
          f"{people:,}", flush=True)
    with tempfile.TemporaryDirectory(prefix="natest-bench-coverage-") as tmp:
        work = Path(tmp)
        with (fresh_databases() if on_pg else _sqlite_file(work)) as fresh, \
                fresh() as target:
            results = coverage_rates(target, events, people, work)
    results["database"] = "postgresql" if on_pg else "sqlite"
    print(table(results))
    if json_path:
        Path(json_path).write_text(json.dumps({"size": size_name, "machine": machine(),
                                               **results}, indent=2) + "\n")
    met = all(results[f"{run}_s"] <= TARGET_S for run in RUNS)
    return 0 if met and results["brief_s"] <= BRIEF_TARGET_S else 1
