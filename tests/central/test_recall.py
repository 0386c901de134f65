"""From swab to result, on SQLite and a real PostgreSQL: a day of registrations from two
lanes (pooled and single tubes, an undo, a void, boxes handed to couriers), a lab's
results imported (one positive pool, one invalid, the rest negative), a second file with
a bad row refused whole, boxes received (one with a wrong count, one never), then the
recall list, every person's result, and the custody of every box."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from central.cli import main
from central.store.open import open_store
from contract.events import TubeVoided
from tests.lane_days import Lane, person, shanghai
from tests.office import (
    csv_cells,
    libreoffice_rows,
    needs_libreoffice,
    table_in,
    workbook,
)
from tests.people import nth_person

TODAY = "2026-12-04"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def day(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Lane a: P1 (people 1-5, the 2nd undone) and N1 (6-8) in box B1, handed to a
    courier; S1 (9) and V1 (10, voided); L1 (16) sealed at 16:00 and never boxed. Lane b:
    I1 (11-13) and S2 (14) in box B2, handed over; S3 (15) in box B3, never handed over."""
    target = (str(tmp_path / "central.db") if request.param == "sqlite"
              else str(request.getfixturevalue("pg_db")))
    store = open_store(target)
    a, b = Lane("s1", "a"), Lane("s2", "b", operator="S2002")
    at = a.tube("P1", [person(n) for n in range(1, 6)], shanghai(TODAY, 8), undo=2)
    at = a.tube("N1", [person(n) for n in (6, 7, 8)], at)
    at = a.tube("S1", [person(9)], at)
    a.tube("V1", [person(10)], at, void=True)
    a.box("B1", {"P1": 4, "N1": 3}, shanghai(TODAY, 10), courier="C01")
    a.tube("L1", [person(16)], shanghai(TODAY, 15, 58))
    at = b.tube("I1", [person(n) for n in (11, 12, 13)], shanghai(TODAY, 8, 30))
    at = b.tube("S2", [person(14)], at)
    b.box("B2", {"I1": 3, "S2": 1}, shanghai(TODAY, 10), courier="C02")
    b.tube("S3", [person(15)], shanghai(TODAY, 10, 30))
    b.box("B3", {"S3": 1}, shanghai(TODAY, 11))
    for lane in (a, b):
        lane.deliver(store, shanghai(TODAY, 16, 30))
    store.close()
    return target


RESULTS = ("试管编号,检测结果,检测机构,检测时间,ORF1ab基因Ct值,N基因Ct值\n"
           "P1,阳性,市一院,2026-12-04 14:00,28.1,30.2\n"
           "N1,阴性,市一院,2026-12-04 14:00,,\n"
           "S1,阴性,市一院,2026-12-04 14:01,-,-\n"
           "I1,无效,市一院,2026-12-04 14:02,,\n"
           "S2,negative,市一院,2026-12-04 14:03,,\n"
           "S3,阴性,市一院,2026-12-04 14:05,,\n")


def run(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


@pytest.fixture
def resulted(day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "lis.csv"
    path.write_text(RESULTS, encoding="utf-8-sig")
    assert run("import-results", str(path), "--db", day, capsys=capsys)[:2] == (
        0, "6 results stored\n")
    for box, tubes in (("B1", "2"), ("B2", "1")):
        status, out, _ = run("receive", box, "--lab", "市一院", "--tubes", tubes, "--at",
                             f"{TODAY} 12:00", "--db", day, capsys=capsys)
        assert (status, out) == (0, "1 receipt stored\n")
    return day


def test_the_same_file_twice_changes_nothing(resulted: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "lis.csv"
    assert run("import-results", str(path), "--db", resulted, capsys=capsys)[:2] == (
        0, "0 results stored, 6 already stored\n")
    store = open_store(resulted)
    assert store.count("results") == 6
    store.close()


def test_a_file_with_bad_rows_is_refused_whole_with_every_line_named(
        resulted: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "lis2.csv"
    path.write_text("tube,result,lab,tested_at\n"
                    "L1,negative,市一院,2026-12-04 18:00\n"       # fine alone
                    "ZZ999,negative,市一院,2026-12-04 18:00\n"    # no such tube
                    "V1,negative,市一院,2026-12-04 18:00\n"       # voided at the lane
                    "P1,negative,市一院,2026-12-04 14:00\n"       # contradicts the stored
                    "S1,negative,市一院,yesterday\n"              # no time
                    "S3,maybe,市一院,2026-12-04 18:00\n", encoding="utf-8")
    status, out, err = run("import-results", str(path), "--db", resulted, capsys=capsys)
    assert status == 1 and out == ""
    for line, said in ((3, "ZZ999: no station registered"), (4, "V1 was voided"),
                       (5, "contradicts the result stored"), (6, "'yesterday' is not a time"),
                       (7, "'maybe' is not 阴性/阳性/无效")):
        assert f"lis2.csv:{line}: " in err and said in err, (line, err)
    assert "nothing stored: 5 problem(s)" in err
    store = open_store(resulted)
    assert store.count("results") == 6   # not even L1's
    store.close()


def test_a_gbk_file_is_named_and_read_when_its_encoding_is_given(
        resulted: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("试管编号,检测结果,检测机构,检测时间\nL1,阴性,市一院,2026-12-04 18:00\n"
                     .encode("gbk"))
    status, _, err = run("import-results", str(path), "--db", resulted, capsys=capsys)
    assert status == 1 and "line 1: not utf-8 text" in err and "--encoding gb18030" in err
    assert run("import-results", str(path), "--db", resulted, "--encoding", "gb18030",
               capsys=capsys)[:2] == (0, "1 results stored\n")


def test_a_retest_is_kept_beside_the_first_and_never_hides_a_positive(
        resulted: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workbook(tmp_path / "retest.xlsx", [["tube", "result", "lab", "tested_at"],
                                        ["P1", "negative", "市一院", "2026-12-04 16:00"],
                                        ["I1", "negative", "市一院", "2026-12-04 16:00"]])
    assert run("import-results", str(tmp_path / "retest.xlsx"), "--db", resulted,
               capsys=capsys)[:2] == (0, "2 results stored\n")
    rows = csv_rows(run("report", "positives", "--day", TODAY, "--columns", "en", "--db",
                        resulted, capsys=capsys)[1])
    assert {r["tube"] for r in rows} == {"P1"}   # I1's retest is valid: no longer recalled


def test_a_number_where_a_tube_id_should_be_is_refused(
        resulted: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workbook(tmp_path / "eaten.xlsx", [["条码号", "结果", "实验室", "报告时间"],
                                       [107000001, "阴性", "市一院", "2026-12-04 16:00"]])
    status, _, err = run("import-results", str(tmp_path / "eaten.xlsx"), "--db", resulted,
                         capsys=capsys)
    assert status == 1 and ("eaten.xlsx:2: tube 107000001 was a number in the spreadsheet and "
                            "no station registered a tube of exactly those digits") in err


def test_positives_list_exactly_the_people_of_the_positive_and_invalid_tubes(
        resulted: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "recall.csv"
    assert run("report", "positives", "--day", TODAY, "--columns", "en", "--db", resulted,
               "--output", str(out), capsys=capsys)[0] == 0
    assert out.stat().st_mode & 0o077 == 0
    rows = csv_rows(out.read_text(encoding="utf-8"))
    assert [(r["result"], r["tube"], r["name"]) for r in rows] == [
        ("positive", "P1", "测试1"), ("positive", "P1", "测试3"), ("positive", "P1", "测试4"),
        ("positive", "P1", "测试5"), ("invalid", "I1", "测试11"), ("invalid", "I1", "测试12"),
        ("invalid", "I1", "测试13")]
    first = rows[0]
    assert (first["id_number"], first["phone"], first["address"], first["card_address"]) == (
        nth_person(1), "13900000001", "幸福路1号", "户籍街1号")
    assert (first["site"], first["station"], first["box"], first["operator"]) == (
        "s1", "a", "B1", "S1001")
    assert (first["ct_orf1ab"], first["ct_n"], first["lab"]) == ("28.1", "30.2", "市一院")
    assert rows[-1]["operator"] == "S2002" and rows[-1]["box"] == "B2"


def test_positives_print_the_report_alone_and_say_only_the_marking_on_stderr(
        resulted: str) -> None:
    """As a clerk runs it, in a process of its own: stdout is the list and nothing else;
    stderr says what changed the store (the results marked) and the row count, no log
    line restating what the list holds (#42)."""
    done = subprocess.run([sys.executable, "-m", "central.cli", "report", "positives",
                           "--day", TODAY, "--columns", "en", "--db", resulted],
                          capture_output=True, text=True, timeout=120, check=False,
                          cwd=REPO)
    assert done.returncode == 0, done.stderr
    rows = csv_rows(done.stdout)
    assert len(rows) == 7 and all(r["tube"] in {"P1", "I1"} for r in rows)
    assert len(done.stdout.splitlines()) == 8   # the header and the 7 rows, nothing more
    said = done.stderr.splitlines()
    assert len(said) == 2, said
    assert said[0].endswith("INFO    central.reports: marked 2 results as listed by a "
                            "recall list (--no-mark: none)")
    assert said[1].startswith(f"report positives {TODAY}: 7 rows in ")


def test_results_give_every_person_their_tubes_result(resulted: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    rows = csv_rows(run("report", "results", "--day", TODAY, "--columns", "en", "--db",
                        resulted, capsys=capsys)[1])
    got = {r["name"]: r["result"] for r in rows}
    expected = {**{f"测试{n}": "positive" for n in (1, 3, 4, 5)},
                **{f"测试{n}": "negative" for n in (6, 7, 8, 9, 14, 15)},
                **{f"测试{n}": "invalid" for n in (11, 12, 13)}, "测试16": "pending"}
    assert got == expected   # not the undone 2nd, nor the voided tube's 10th
    zh = csv_rows(run("report", "results", "--day", TODAY, "--db", resulted,
                      capsys=capsys)[1])
    assert {r["检测结果"] for r in zh} == {"阳性", "阴性", "无效（需重采）", "待出结果"}


@needs_libreoffice
def test_libreoffice_opens_the_recall_list_with_chinese_headers_and_local_times(
        resulted: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book, expected = tmp_path / "阳性召回.xlsx", tmp_path / "expected.csv"
    assert run("report", "positives", "--day", TODAY, "--db", resulted, "--format", "xlsx",
               "--output", str(book), capsys=capsys)[0] == 0
    assert run("report", "positives", "--day", TODAY, "--db", resulted, "--output",
               str(expected), capsys=capsys)[0] == 0
    seen = table_in(libreoffice_rows(book, tmp_path), "检测结果")
    assert seen[0][:4] == ["检测结果", "试管编号", "证件号码", "姓名"] and len(seen) == 8
    assert seen == csv_cells(expected)
    assert seen[1][0] == "阳性" and seen[1][2] == nth_person(1)
    assert seen[1][seen[0].index("采样时间")] == "2026-12-04 08:01:00"   # local, not UTC
    assert seen[1][seen[0].index("检测时间")] == "2026-12-04 14:00:00"


def test_the_collectors_gauges_show_what_waits_for_a_recall_a_courier_or_a_lab(
        day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    """Read as a running collector reads them, once a minute, into its metrics."""
    from central.ingest.collector import Collector  # noqa: PLC0415

    lane_c, store = Lane("s1", "c"), open_store(day)
    lane_c.tube("X1", [person(17)], shanghai(TODAY, 15))   # sealed, then voided by 17:00
    lane_c.add(TubeVoided("X1", 1, "sealed"), shanghai(TODAY, 15, 30))
    lane_c.deliver(store, shanghai(TODAY, 16, 30))
    store.close()
    clock = [shanghai(TODAY, 20)]
    collector = Collector("mqtt://127.0.0.1:1", day, now=lambda: clock[0])
    value = collector.metrics.registry.get_sample_value
    collector.check_gaps()
    assert value("natest_recall_waiting", {"result": "positive"}) == 0
    assert value("natest_boxes_in_transit") == 2           # B1 and B2, handed over at 10:05
    assert value("natest_box_oldest_in_transit_seconds") == 10 * 3600 - 300
    # Sealed before 17:00 and not handed over by it: S1 and L1 at lane a, S3 at lane b;
    # not X1, voided after sealing (custody and totals leave it out too).
    assert value("natest_tubes_not_dispatched_at_cutoff") == 3
    (tmp_path / "lis.csv").write_text(RESULTS, encoding="utf-8")
    assert run("import-results", str(tmp_path / "lis.csv"), "--db", day,
               capsys=capsys)[0] == 0
    assert run("receive", "B1", "--lab", "市一院", "--tubes", "2", "--db", day,
               capsys=capsys)[0] == 0
    collector.lab_watch.checked = float("-inf")   # a minute on
    collector.check_gaps()
    assert value("natest_recall_waiting", {"result": "positive"}) == 1
    assert value("natest_recall_waiting", {"result": "invalid"}) == 1
    assert value("natest_boxes_in_transit") == 1
    clock[0] = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=11)   # imported 11 min ago
    collector.lab_watch.checked = float("-inf")
    collector.check_gaps()
    assert (value("natest_recall_oldest_waiting_seconds") or 0) >= 660   # the alert: 10 min
    looked = run("report", "positives", "--db", day, "--day", TODAY, "--no-mark",
                 capsys=capsys)
    assert looked[0] == 0 and "P1" in looked[1]   # the list, and the store unchanged
    collector.lab_watch.checked = float("-inf")
    collector.check_gaps()
    assert value("natest_recall_waiting", {"result": "positive"}) == 1
    caplog.set_level(logging.INFO, logger="central.reports")
    assert run("report", "positives", "--db", day, "--day", TODAY, capsys=capsys)[0] == 0
    assert "marked 2 results as listed by a recall list" in caplog.text   # said, not quiet
    collector.lab_watch.checked = float("-inf")
    collector.check_gaps()
    assert value("natest_recall_waiting", {"result": "positive"}) == 0
    assert value("natest_recall_oldest_waiting_seconds") == 0
    collector.store.close()


def test_a_file_without_the_columns_names_what_it_needs(
        resulted: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "other.csv"
    path.write_text("样本,结论\nP1,阳性\n", encoding="utf-8")
    status, _, err = run("import-results", str(path), "--db", resulted, capsys=capsys)
    assert status == 1 and "other.csv: line 1: no column for tube, result, tested_at" in err
    assert "line 1, the likeliest header, has: 样本, 结论" in err


def test_a_labs_times_are_read_as_its_systems_write_them() -> None:
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    from central.site_facts import moment  # noqa: PLC0415

    zone, utc = ZoneInfo("Asia/Shanghai"), dt.datetime(2026, 1, 4, 1, 5, tzinfo=dt.UTC)
    for written in ("2026-01-04 09:05", "2026/1/4 9:05", "2026/01/04 09:05:00",
                    "2026-01-04T09:05:00+08:00", "2026-01-04T01:05:00Z",
                    dt.datetime(2026, 1, 4, 9, 5)):   # an xlsx cell: the lab's local time
        assert moment(written, "time tested", zone) == utc, written
    for wrong in ("yesterday", "2026/13/4 9:05", "04.01.2026 09:05", ""):
        with pytest.raises(ValueError, match="is not a time"):
            moment(wrong, "time tested", zone)


def test_resample_lists_each_person_once_and_not_those_swabbed_again(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """V1 (4, 5, 9) voided; I1 (5, 6) invalid; then R1 (4, 6), not yet resulted: 4 and 6
    were sampled again and are not listed; 5, voided and invalid, is one row with both
    reasons; 9 is listed as voided."""
    db = str(tmp_path / "central.db")
    store = open_store(db)
    lane = Lane("s1", "a")
    at = lane.tube("V1", [person(4), person(5), person(9)], shanghai(TODAY, 8), void=True)
    at = lane.tube("I1", [person(5), person(6)], at + dt.timedelta(minutes=5))
    lane.tube("R1", [person(4), person(6)], at + dt.timedelta(minutes=5))
    lane.deliver(store, shanghai(TODAY, 12))
    store.close()
    lis = tmp_path / "lis.csv"
    lis.write_text("tube,result,lab,tested_at\nI1,无效,市一院,2026-12-04 14:01\n",
                   encoding="utf-8")
    assert main(["import-results", str(lis), "--db", db]) == 0
    capsys.readouterr()
    assert main(["report", "resample", "--db", db, "--day", TODAY, "--columns", "en"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))
    assert sorted((r["id_number"], r["reason"]) for r in rows) == sorted([
        (person(5).id_number, "voided+invalid"), (person(9).id_number, "voided")])
    assert main(["report", "resample", "--db", db, "--day", TODAY]) == 0
    zh = list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))
    assert sorted(r["重采原因"] for r in zh) == ["试管作废", "试管作废；结果无效"]
