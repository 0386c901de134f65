"""`station bench lab`: results back, recall, labs and follow-up on a city's day, on
PostgreSQL.

A day of events (tools/central/loadgen.py's lanes: tubes of ten, sealed) is written through the
collector's own batch path; then, as `natest-central` runs them, a lab's file of
100,000 results is imported (100 positive, the rest negative) and `report positives`
lists the people of the 100 positive tubes. Then every tube is boxed and received at
three labs (lab_boxes.py) and `report labs` gives each lab's figures; then 1,000 positive
pools and their 10,000 single retests are added (retests.py) and `report followup`
follows each person. Targets: the import ≤ 30 s, the recall list ≤ 10 s, the labs and
the follow-up ≤ 10 s each (#40); then `report brief` of the two days (brief_bench.py) ≤ 30 s
(#41). Before that, what the lookups' indexes
(events_by_subject, events_custody, events_boxes, events_unsynced, events_singles) cost
at ingest: the same events written into a database with them and into one without, in
the same run.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from central.intake import lab_import
from central.reports import reports
from central.reports.period import period
from central.site_facts import ZONE
from central.store.event_store import SqlEventStore
from central.store.open import open_store
from tools.central import brief_bench, lab_boxes, retests
from tools.central.reports import load

LAB_SIZES = {"full": (5_000_000, 100_000, 500_000), "quick": (500_000, 100_000, 200_000),
             "tiny": (20_000, 1_000, 10_000)}   # day's events, result rows, index-cost events
POSITIVES = 100
FOLLOWUP_POOLS = {"full": 1_000, "quick": 1_000, "tiny": 40}   # each of ten, all retested
NEW_INDEXES = ("events_by_subject", "events_custody", "events_boxes", "events_unsynced",
               "events_singles")
TARGETS = {"import_s": 30.0, "positives_s": 10.0, "labs_s": 10.0, "followup_s": 10.0,
           "brief_s": 30.0}
SITES = ZoneInfo(ZONE)


def without_new_indexes(store: SqlEventStore) -> None:
    for name in NEW_INDEXES:
        store.conn.execute(f"DROP INDEX IF EXISTS {name}")


def index_cost(fresh: Callable[[], AbstractContextManager[str]], events: int) -> dict[str, Any]:
    """Rows/s of the collector's batch write with the lookups' indexes and without."""
    with fresh() as target:
        with_indexes, _ = load(target, events)
    with fresh() as target:
        without, _ = load(target, events, prepare=without_new_indexes)
    return {"ingest_with_indexes_per_s": with_indexes, "ingest_without_per_s": without,
            "ingest_index_cost": 1 - with_indexes / without}


def results_file(target: str, work: Path, rows: int) -> tuple[Path, set[str]]:
    """A lab's export: `rows` sealed tubes of the day, the first POSITIVES positive, each
    tested at 12:00 by the lab that received it (lab_boxes.lab_of)."""
    store = open_store(target)
    tubes = [tube for (tube,) in store.conn.execute(
        "SELECT subject FROM events WHERE type = 'tube.sealed' "  # noqa: S608 - an int
        f"ORDER BY subject LIMIT {int(rows)}")]
    store.close()
    tested = retests.at(dt.datetime.now(SITES).date(), lab_boxes.TESTED, SITES).strftime(
        "%Y-%m-%d %H:%M")
    path = work / "lis.csv"
    path.write_text("试管编号,检测结果,检测机构,检测时间,ORF1ab基因Ct值,N基因Ct值\n" + "".join(
        f"{tube},{'阳性' if n < POSITIVES else '阴性'},{lab_boxes.lab_of(tube)},{tested},"
        f"{'28.5,30.1' if n < POSITIVES else ','}\n" for n, tube in enumerate(tubes)),
        encoding="utf-8")
    return path, set(tubes)


def lab_rates(target: str, events: int, rows: int, pools: int, work: Path
              ) -> dict[str, Any]:
    write_per_s, people = load(target, events)
    path, resulted = results_file(target, work, rows)
    store = open_store(target)
    began = time.perf_counter()
    outcome = lab_import.import_results(store, path, lab="", zone=SITES,
                                        now=dt.datetime.now(dt.UTC))
    import_s = time.perf_counter() - began
    store.close()
    assert not outcome.problems and outcome.stored == len(resulted), outcome.problems[:3]
    began = time.perf_counter()
    recall = work / "recall.csv"
    reports.run("positives", target, recall, None, span=period(None, None, None, SITES))
    positives_s = time.perf_counter() - began
    recalled = recall.read_text(encoding="utf-8-sig").count("\n") - 1
    return {"events": events, "people": people, "write_per_s": write_per_s,
            "import_rows": len(resulted), "import_s": import_s, "positive_tubes": POSITIVES,
            "positives_rows": recalled, "positives_s": positives_s,
            **lab_boxes.labs_rates(target, resulted, SITES, work),
            **retests.followup_rates(target, pools, SITES, work),
            **brief_bench.brief_rates(target, dt.datetime.now(SITES).date(), SITES, work),
            **retests.without_singles_index(target, SITES, work)}


def table(results: dict[str, Any]) -> str:
    def judged(name: str, label: str) -> str:
        value, target = results[name], TARGETS[name]
        return (f"  {label:<46}{value:>8.2f} s   target ≤ {target:.0f} s   "
                f"{'met' if value <= target else 'MISSED'}")

    return "\n".join([
        f"a day of {results['events']:,} events ({results['database']}; written at "
        f"{results['write_per_s']:,.0f} rows/s), {results['people']:,} people",
        judged("import_s", f"import-results, {results['import_rows']:,} rows"),
        judged("positives_s", f"report positives, {results['positive_tubes']} tubes "
                              f"({results['positives_rows']:,} people)"),
        judged("labs_s", f"report labs, {results['labs_boxes']:,} boxes "
                         f"({results['labs_tubes']:,} tubes)"),
        f"    beside it: the receipts imported ({results['labs_boxes']:,} boxes, counted) "
        f"{results['labs_receipts_s']:.2f} s; {results['labs_overdue']:,} tubes overdue",
        judged("followup_s", f"report followup, {results['followup_pools']:,} pools "
                             f"({results['followup_pools'] * retests.POOL:,} people)"),
        f"    beside it: report positives of its day ({results['followup_positives_rows']:,} "
        f"people) {results['followup_positives_s']:.2f} s; the follow-up without "
        f"events_singles {results['followup_without_index_s']:.2f} s",
        judged("brief_s", f"report brief --format {results['brief_format']} as of "
                          f"{results['brief_at']}, {results['brief_people']:,} people"),
        f"    beside it: {brief_bench.baseline(results)}",
        f"  ingest, the lookups' indexes: {results['ingest_with_indexes_per_s']:,.0f} rows/s "
        f"with, {results['ingest_without_per_s']:,.0f} without: "
        f"{results['ingest_index_cost']:.0%} slower "
        f"({results['index_cost_events']:,} events each)"])


@contextmanager
def _sqlite_files(work: Path) -> Iterator[Callable[[], AbstractContextManager[str]]]:
    made = iter(range(1, 1000))

    @contextmanager
    def fresh() -> Iterator[str]:
        yield str(work / f"lab-{next(made)}.db")

    yield fresh


def main(size_name: str, json_path: str | None) -> int:
    import importlib.util  # noqa: PLC0415

    from tools.bench import machine  # noqa: PLC0415
    from tools.central.city import fresh_databases  # noqa: PLC0415
    from tools.central.postgres import bindir  # noqa: PLC0415

    events, rows, cost_events = LAB_SIZES[size_name]
    pools = FOLLOWUP_POOLS[size_name]
    on_pg = importlib.util.find_spec("psycopg") is not None and bindir() is not None
    print(f"station bench lab ({size_name}): {events:,} events on "
          f"{'PostgreSQL' if on_pg else 'SQLite (no PostgreSQL here)'}", flush=True)
    with tempfile.TemporaryDirectory(prefix="natest-bench-lab-") as tmp:
        work = Path(tmp)
        with (fresh_databases() if on_pg else _sqlite_files(work)) as fresh:
            print(f"  index cost at ingest, {cost_events:,} events twice …", flush=True)
            results = {**index_cost(fresh, cost_events), "index_cost_events": cost_events}
            print("  the day, its results, the recall list …", flush=True)
            with fresh() as target:
                results.update(lab_rates(target, events, rows, pools, work))
    results["database"] = "postgresql" if on_pg else "sqlite"
    print(table(results))
    if json_path:
        Path(json_path).write_text(json.dumps({"size": size_name, "machine": machine(),
                                               **results}, indent=2) + "\n")
    return 0 if all(results[k] <= v for k, v in TARGETS.items()) else 1
