"""Each lab's figures (#40): boxes and tubes received, results returned, turnaround from
receipt to result, 无效 rate, and the tubes received without a result past the bound, in
`report labs` and in the collector's gauge, on SQLite and a real PostgreSQL. The lane day
is tests/central/test_recall.py's: B1 holds P1 and N1, B2 holds I1 and S2, B3 holds S3."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from central.store.event_store import Batch
from central.store.open import open_store
from tests.central.test_recall import TODAY, csv_rows, day, run
from tests.lane_days import Lane, person, shanghai

__all__ = ["day"]   # the lane day's fixture, used by name
LATER = "2026-12-05 02:00"   # 13 h after B3 reached 市二院


@pytest.fixture
def received(day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Results first (S1 was never boxed), then B1 and B2 at 市一院 at 12:00 (B2 scanned
    with I1 alone), B3 at 市二院 at 13:00; S3 has no result."""
    lis = tmp_path / "lis.csv"
    lis.write_text("tube,result,lab,tested_at\nP1,阳性,市一院,2026-12-04 14:00\n"
                   "N1,阴性,市一院,2026-12-04 15:00\nI1,无效,市一院,2026-12-04 18:00\n"
                   "S1,阴性,市一院,2026-12-04 14:00\n", encoding="utf-8")
    assert run("import-results", str(lis), "--db", day, capsys=capsys)[0] == 0
    scans = tmp_path / "b2.txt"
    scans.write_text("I1\n", encoding="utf-8")
    for box, lab, how, at in (("B1", "市一院", ("--tubes", "2"), "12:00"),
                              ("B2", "市一院", ("--scanned", str(scans)), "12:00"),
                              ("B3", "市二院", ("--tubes", "1"), "13:00")):
        assert run("receive", box, "--lab", lab, *how, "--at", f"{TODAY} {at}", "--db", day,
                   capsys=capsys)[0] == 0
    return day


def labs(db: str, capsys: pytest.CaptureFixture[str], *options: str) -> list[dict[str, str]]:
    status, out, err = run("report", "labs", "--day", TODAY, "--columns", "en", "--db", db,
                           "--at", LATER, *options, capsys=capsys)
    assert status == 0, err
    return csv_rows(out)


def test_each_lab_with_its_turnaround_invalid_rate_and_the_tubes_it_owes(
        received: str, capsys: pytest.CaptureFixture[str]) -> None:
    rows = labs(received, capsys)
    first, second = rows[0], rows[1]
    assert [r["kind"] for r in rows] == ["lab", "lab", "tube"]
    assert {k: first[k] for k in ("lab", "boxes", "tubes", "results", "invalid",
                                  "invalid_rate", "waiting", "overdue", "problems")} == {
        "lab": "市一院", "boxes": "2", "tubes": "3", "results": "4", "invalid": "1",
        "invalid_rate": "25.0", "waiting": "0", "overdue": "0", "problems": "ok"}
    # P1 2 h, N1 3 h, I1 6 h after 12:00: median 3, 90th percentile (nearest rank) 6
    assert (first["turnaround_median_h"], first["turnaround_p90_h"],
            first["turnaround_max_h"]) == ("3.0", "6.0", "6.0")
    assert {k: second[k] for k in ("lab", "boxes", "tubes", "results", "invalid_rate",
                                   "turnaround_median_h", "waiting", "overdue",
                                   "problems")} == {
        "lab": "市二院", "boxes": "1", "tubes": "1", "results": "0", "invalid_rate": "",
        "turnaround_median_h": "", "waiting": "1", "overdue": "1",
        "problems": "result_overdue"}
    owed = rows[2]
    assert (owed["lab"], owed["box"], owed["tube"], owed["waited_h"], owed["received"]) == (
        "市二院", "B3", "S3", "13.0", "2026-12-04T05:00:00.000Z")
    calm = labs(received, capsys, "--result-due", "24")
    assert [r["overdue"] for r in calm] == ["0", "0"] and len(calm) == 2
    zh = csv_rows(run("report", "labs", "--day", TODAY, "--db", received, "--at", LATER,
                      capsys=capsys)[1])
    assert [(r["类别"], r["检测机构"], r["问题"]) for r in zh] == [
        ("检测机构", "市一院", "正常"), ("检测机构", "市二院", "超时未出结果"),
        ("试管", "市二院", "超时未出结果")]
    assert zh[2]["接收时间"] == "2026-12-04 13:00:00"   # local


def test_a_run_as_of_a_past_moment_counts_only_what_was_known_then(
        received: str, capsys: pytest.CaptureFixture[str]) -> None:
    """At 14:30 P1 and S1 (tested 14:00) are back, N1 (15:00) and I1 (18:00) are not; at
    12:30 B3 (13:00) had not reached 市二院 and no result was tested yet."""
    rows = labs(received, capsys, "--at", f"{TODAY} 14:30")
    assert [(r["kind"], r["lab"], r["boxes"], r["tubes"], r["results"], r["invalid"],
             r["turnaround_median_h"], r["turnaround_max_h"], r["waiting"], r["overdue"])
            for r in rows] == [("lab", "市一院", "2", "3", "2", "0", "2.0", "2.0", "2", "0"),
                               ("lab", "市二院", "1", "1", "0", "0", "", "", "1", "0")]
    rows = labs(received, capsys, "--at", f"{TODAY} 12:30")
    assert [(r["lab"], r["boxes"], r["results"], r["waiting"]) for r in rows] == [
        ("市一院", "2", "0", "3")]
    rows = labs(received, capsys, "--at", f"{TODAY} 14:00")   # a result at --at is known
    assert [(r["lab"], r["results"], r["waiting"]) for r in rows] == [
        ("市一院", "2", "2"), ("市二院", "0", "1")]


def test_the_collectors_gauge_counts_the_tubes_owed_and_falls_when_they_come(
        received: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """市一院's results came before its boxes (the receipt finds them); 市二院 owes S3."""
    from central.ingest.collector import Collector  # noqa: PLC0415

    clock = [shanghai("2026-12-05", 0, 30)]   # 11.5 h after B3: not yet past 12 h
    collector = Collector("mqtt://127.0.0.1:1", received, now=lambda: clock[0])
    value = collector.metrics.registry.get_sample_value

    def gauges() -> tuple[float | None, float | None, float | None]:
        collector.lab_watch.checked = float("-inf")   # a minute on
        collector.check_gaps()
        return (value("natest_lab_results_overdue", {"lab": "市一院"}),
                value("natest_lab_results_overdue", {"lab": "市二院"}),
                value("natest_lab_result_oldest_waiting_seconds"))

    assert gauges() == (None, None, 11.5 * 3600)
    clock[0] = shanghai("2026-12-05", 2)
    assert gauges() == (None, 1, 13 * 3600)
    lis = tmp_path / "s3.csv"
    lis.write_text("tube,result,lab,tested_at\nS3,阴性,市二院,2026-12-05 01:00\n",
                   encoding="utf-8")
    assert run("import-results", str(lis), "--db", received, capsys=capsys)[0] == 0
    assert gauges() == (None, 0, 0)   # the lab's series kept, at 0
    collector.store.close()


def test_a_box_counted_before_its_lane_delivered_is_owed_once_its_box_closed_comes(
        central_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """B1 received by its count at 12:00, its lane's events (P1 and N1 packed in it) only
    at 16:30: the gauge's query counts both tubes, as waiting since the receipt."""
    open_store(central_db).close()
    assert run("receive", "B1", "--lab", "市一院", "--tubes", "2", "--at", f"{TODAY} 12:00",
               "--db", central_db, capsys=capsys)[0] == 0
    store = open_store(central_db)
    day_of = (shanghai(TODAY, 0), shanghai(TODAY, 23))
    assert store.results_waiting(*day_of) == []   # nothing packed is known yet
    lane = Lane("s1", "a")
    at = lane.tube("P1", [person(1), person(2)], shanghai(TODAY, 8))
    lane.tube("N1", [person(3)], at)
    lane.box("B1", {"P1": 2, "N1": 1}, shanghai(TODAY, 10), courier="C01")
    events = list(lane.events)
    lane.deliver(store, shanghai(TODAY, 16, 30))
    assert store.results_waiting(*day_of) == [("市一院", 2, "2026-12-04T04:00:00.000Z")]
    assert store.received_tubes(["B1"]) == {"B1": ({"P1", "N1"}, False)}
    store.write(Batch(events=events), shanghai(TODAY, 16, 31))   # delivered again
    assert store.count("receipt_tubes") == 2
    store.close()


def test_the_gauges_query_reads_the_index_of_tubes_without_a_result(tmp_path: Path) -> None:
    """Once a minute it must not read every received tube: SQLite's plan says which."""
    db = tmp_path / "central.db"
    open_store(str(db)).close()
    store = open_store(str(db))
    sql = store.dialect.results_waiting
    store.close()
    with sqlite3.connect(db) as conn:
        plan = " ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql,
                                                        ["a", "b"]))
    assert "USING INDEX receipt_tubes_waiting" in plan, plan


def test_a_box_half_resulted_owes_the_rest_and_times_the_first(
        day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """B1 (P1, N1) counted at 12:00 and only P1's result back, tested twice: N1 is owed,
    and P1's turnaround runs to its first test. The report reads a box's tubes and their
    results in one query (#40 item 6): a tube without a result must stay in it."""
    lis = tmp_path / "lis.csv"
    lis.write_text("tube,result,lab,tested_at\nP1,阳性,市一院,2026-12-04 14:00\n"
                   "P1,阳性,市一院,2026-12-04 16:00\n", encoding="utf-8")
    assert run("import-results", str(lis), "--db", day, capsys=capsys)[0] == 0
    assert run("receive", "B1", "--lab", "市一院", "--tubes", "2", "--at", f"{TODAY} 12:00",
               "--db", day, capsys=capsys)[0] == 0
    rows = labs(day, capsys)
    assert [(r["kind"], r["tube"]) for r in rows] == [("lab", ""), ("tube", "N1")]
    assert {k: rows[0][k] for k in ("boxes", "tubes", "results", "waiting", "overdue",
                                    "turnaround_max_h")} == {
        "boxes": "1", "tubes": "2", "results": "2", "waiting": "1", "overdue": "1",
        "turnaround_max_h": "2.0"}
