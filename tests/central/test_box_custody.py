"""Central's custody of the boxes: the lab's receipts, taken by hand or from a file, held
against what the lanes handed over, and the custody report naming a wrong count, a box
never received and tubes left behind. The lane day and its fixtures are
tests/central/test_recall.py's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from central.reports.custody import Rules, undispatched
from central.reports.projection import Projection
from central.store.open import open_store
from tests.central import round_days
from tests.central.test_recall import TODAY, csv_rows, day, resulted, run
from tests.office import workbook

__all__ = ["day", "resulted"]   # the lane day's fixtures, used by name


def test_custody_shows_a_wrong_count_a_box_never_received_and_tubes_left_behind(
        resulted: str, capsys: pytest.CaptureFixture[str]) -> None:
    rows = csv_rows(run("report", "custody", "--day", TODAY, "--columns", "en", "--db",
                        resulted, "--at", f"{TODAY} 20:00", capsys=capsys)[1])
    by_id = {r["id"]: r for r in rows}
    assert by_id["B1"]["problems"] == "ok" and by_id["B1"]["courier"] == "C01"
    assert by_id["B1"]["oldest_age_h"] == "4.0"   # sampled 08:01, received 12:00
    assert by_id["B2"]["problems"] == "count" and by_id["B2"]["received_tubes"] == "1"
    assert by_id["B3"]["problems"] == "overdue" and by_id["B3"]["received"] == ""
    assert by_id["L1"]["kind"] == "tube" and by_id["L1"]["problems"] == "not_dispatched"
    # S3: boxed, never handed over; S1: sealed at 08:1x, never boxed
    assert by_id.keys() == {"B1", "B2", "B3", "L1", "S3", "S1"}
    zh = csv_rows(run("report", "custody", "--day", TODAY, "--db", resulted, "--at",
                      f"{TODAY} 20:00", capsys=capsys)[1])
    assert {r["问题"] for r in zh} == {"正常", "实验室点收管数与箱单不符", "超时未送达",
                                       "截止时间前未交转运"}


def test_a_receipt_twice_agrees_or_is_refused_and_an_unknown_box_is_kept_unmatched(
        resulted: str, capsys: pytest.CaptureFixture[str]) -> None:
    receive = ("receive", "B1", "--lab", "市一院", "--db", resulted)
    assert run(*receive, "--tubes", "2", capsys=capsys)[:2] == (
        0, "0 receipt stored, 1 already stored\n")
    status, _, err = run(*receive, "--tubes", "3", capsys=capsys)
    assert status == 1 and "box B1 was received already: 市一院, 2 tubes" in err
    status, _, err = run("receive", "B9", "--lab", "市二院", "--tubes", "5", "--at",
                         f"{TODAY} 13:00", "--db", resulted, capsys=capsys)
    assert status == 0 and "box B9: no station has closed such a box" in err
    rows = csv_rows(run("report", "custody", "--day", TODAY, "--columns", "en", "--db",
                        resulted, capsys=capsys)[1])
    assert [r["problems"] for r in rows if r["id"] == "B9"] == ["unmatched"]


def test_receipts_from_a_file_are_taken_whole_or_not_at_all(
        day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "desk.csv"
    bad.write_text("转运箱号,试管数,接收时间,实验室\nB1,2,2026-12-04 12:00,市一院\n"
                   "B2,two,2026-12-04 12:05,市一院\n", encoding="utf-8")
    status, _, err = run("import-receipts", str(bad), "--db", day, capsys=capsys)
    assert status == 1 and "desk.csv:3: tube count 'two' is not a number" in err
    store = open_store(day)
    assert store.count("receipts") == 0
    store.close()
    good = workbook(tmp_path / "desk.xlsx", [["box", "tubes", "received_at"],
                                             ["B1", 2, "2026-12-04 12:00"],
                                             ["B2", 1, "2026-12-04 12:05"]])
    assert run("import-receipts", str(good), "--lab", "市一院", "--db", day,
               capsys=capsys)[:2] == (0, "2 receipts stored\n")
    rows = csv_rows(run("report", "custody", "--day", TODAY, "--columns", "en", "--db", day,
                        "--at", f"{TODAY} 20:00", capsys=capsys)[1])
    assert {r["id"]: r["problems"] for r in rows if r["kind"] == "box"} == {
        "B1": "ok", "B2": "count", "B3": "overdue"}


def test_the_desk_hears_at_once_that_a_count_differs_from_the_slip_and_it_is_stored(
        day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """B2's slip says 2 tubes (I1, S2); the desk counts 1. Said on stderr with both counts
    while the box is still on the desk, stored as counted all the same, exit 0 (#42)."""
    status, out, err = run("receive", "B2", "--lab", "市一院", "--tubes", "1", "--db", day,
                           capsys=capsys)
    assert (status, out) == (0, "1 receipt stored\n")
    assert err == ("receive: WARNING: box B2: the count differs: the slip says 2 tubes, "
                   "the desk counted 1\n")
    status, out, err = run("receive", "B1", "--lab", "市一院", "--tubes", "7", "--db", day,
                           capsys=capsys)   # B1's slip: P1 and N1, 2 tubes
    assert status == 0 and "the slip says 2 tubes, the desk counted 7" in err
    assert run("receive", "B3", "--lab", "市一院", "--tubes", "1", "--db", day,
               capsys=capsys) == (0, "1 receipt stored\n", "")   # a count that agrees
    store = open_store(day)
    assert store.receipts_of(["B1", "B2", "B3"]).keys() == {"B1", "B2", "B3"}
    store.close()


def test_a_receipts_file_names_each_row_whose_count_differs_and_stores_them_all(
        day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    desk = tmp_path / "desk.csv"
    desk.write_text("box,tubes,received_at\nB1,2,2026-12-04 12:00\nB2,3,2026-12-04 12:05\n"
                    "B3,1,2026-12-04 12:06\n", encoding="utf-8")
    status, out, err = run("import-receipts", str(desk), "--lab", "市一院", "--db", day,
                           capsys=capsys)
    assert (status, out) == (0, "3 receipts stored\n")
    assert err.splitlines() == ["import-receipts: desk.csv:3: WARNING: box B2: the count "
                                "differs: the slip says 2 tubes, the desk counted 3"]
    # The same file again: stored already, and the count still differs.
    status, out, err = run("import-receipts", str(desk), "--lab", "市一院", "--db", day,
                           capsys=capsys)
    assert (status, out) == (0, "0 receipts stored, 3 already stored\n")
    assert "desk.csv:3: WARNING: box B2: the count differs" in err


def test_a_tube_voided_after_sealing_is_never_awaited(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """R1T03 and R2T04 (tests/central/round_days.py) were sealed before the cutoff and
    voided after: they never go to the lab, so custody flags neither as left behind."""
    db = round_days.played(str(tmp_path / "central.db"), seal=False)
    rows = csv_rows(run("report", "custody", "--from", round_days.DAY1, "--to",
                        round_days.DAY2, "--columns", "en", "--db", db, "--at",
                        f"{round_days.DAY2} 20:00", capsys=capsys)[1])
    assert {r["id"] for r in rows if r["kind"] == "tube"} == set()
    assert {r["id"] for r in rows if r["kind"] == "box"} == {b.box for b in round_days.BOXES}


@pytest.mark.parametrize(("zone", "sealed", "late"), [
    # 17:00 local Dec 7 and 00:30 local Dec 8: the same UTC date, two local days
    ("Asia/Shanghai", {"T1": "2026-12-07T08:59:00.000Z", "T2": "2026-12-07T16:30:00.000Z",
                       "T3": "2026-12-07T09:01:00.000Z"}, {"T1", "T2"}),
    # Nepal, +05:45: local midnight falls at 18:15 UTC, inside an hour
    ("Asia/Kathmandu", {"T1": "2026-12-07T11:14:00.000Z", "T2": "2026-12-07T18:14:59.000Z",
                        "T3": "2026-12-07T18:15:00.000Z"}, {"T1", "T3"})])
def test_a_tube_is_judged_by_the_cutoff_of_its_own_local_day(
        zone: str, sealed: dict[str, str], late: set[str]) -> None:
    """The cutoff (17:00 local) of each tube's local day, kept by the minute across two
    stations' calls: a tube sealed before its own day's cutoff, never handed over, is
    late once that cutoff has passed; one sealed after it is not late yet."""
    rules = Rules(at=dt.datetime(2026, 12, 9, tzinfo=dt.UTC))
    cutoffs: dict[str, dt.datetime] = {}
    found = set()
    for station in ("L1", "L2"):   # the same seals at two stations: the second from cache
        p = Projection([], [], {("S1", station, tube): ts for tube, ts in sealed.items()},
                       [], [], [])
        found |= {(row["station"], row["id"]) for row in undispatched(
            p, rules, ZoneInfo(zone), cutoffs)}
    assert found == {(station, tube) for station in ("L1", "L2") for tube in late}
