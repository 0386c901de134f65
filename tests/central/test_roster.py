"""The roster `report missing` reads: a row whose ID number cannot be anyone's (what Excel
makes of an 18-digit number, a wrong check character) is flagged as 名单有误, after the
people to sample again, and counted on standard error by its row, never its number."""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import pytest

from central.cli import main
from central.store.open import open_store
from tests.lane_days import Lane, person, shanghai
from tests.people import nth_person

TODAY = "2026-12-04"


def wrong_check(number: str) -> str:
    """The number with another check character: the slip of a hand copying it."""
    return number[:17] + ("0" if number[17] != "0" else "1")


@pytest.fixture
def db(tmp_path: Path) -> str:
    """Persons 1 and 2 sampled today."""
    path = str(tmp_path / "central.db")
    store = open_store(path)
    lane = Lane("s1", "a")
    lane.tube("T1", [person(1), person(2)], shanghai(TODAY, 8))
    lane.deliver(store)
    store.close()
    return path


@pytest.fixture
def roster(tmp_path: Path) -> Path:
    """Row 2 sampled, 3 not, 4 Excel's, 5 a wrong check character, 6 a passport (its
    number not an ID card's: not checked), 7 sampled but typed in lower case."""
    path = tmp_path / "roster.csv"
    rows = [(nth_person(1), "测试1", ""), (nth_person(3), "测试3", ""),
            ("1.10101E+17", "测试E", ""), (wrong_check(nth_person(4)), "测试4", "居民身份证"),
            ("E12345678", "护照", "护照"), (nth_person(2).lower(), "测试2", "")]
    path.write_text("id_number,name,证件类型\n" + "".join(
        f"{number},{name},{kind}\n" for number, name, kind in rows), encoding="utf-8")
    return path


def test_numbers_that_cannot_be_anyones_are_flagged_not_listed_as_missing(
        db: str, roster: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "central.reports"):
        assert main(["report", "missing", "--db", db, "--day", TODAY, "--roster",
                     str(roster), "--columns", "en"]) == 0
    out = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(out.lstrip("\ufeff"))))
    assert [(r["name"], r["roster_problem"]) for r in rows] == [
        ("测试3", ""), ("护照", ""),                        # to sample again
        ("测试E", "excel_number"), ("测试4", "check_character")]   # the roster to correct
    (said,) = [r.getMessage() for r in caplog.records if "not valid" in r.getMessage()]
    assert "roster.csv: 2 rows whose ID number is not valid (rows 4, 5)" in said
    assert wrong_check(nth_person(4)) not in said and "1.10101E+17" not in said


def test_the_office_reads_why_a_row_is_flagged(db: str, roster: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "missing", "--db", db, "--day", TODAY, "--roster",
                 str(roster)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))
    assert [(r["姓名"], r["名单有误"]) for r in rows] == [
        ("测试3", ""), ("护照", ""),
        ("测试E", "号码被表格改成了科学计数法，原号码已失，请核实"), ("测试4", "校验位不符")]
