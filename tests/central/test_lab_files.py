"""Lab files as labs' systems write them (#40): a title merged across the columns and a
blank row above the header, the verdict spelled 阳性(+) or 阴性（-）, times as Excel keeps
them, tube ids Excel turned into numbers. Written with openpyxl as a LIS writes them, and
imported into SQLite and a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from central.intake.lab_cells import VERDICTS, fold, identifier, time_of, verdict_of
from central.intake.lab_files import HEADERS
from central.store.open import open_store
from tests.central.test_recall import run
from tests.lane_days import Lane, person, shanghai

TODAY = "2026-12-04"
REPO = Path(__file__).resolve().parents[2]
POOL, SINGLE, ZEROED = "1101010000123", "1101010000124", "0107000001"
BOX = "0107B00001"
TITLE = "XX市第一人民医院 新型冠状病毒核酸检测结果报告"


@pytest.fixture
def digits_day(central_db: str) -> str:
    """Tubes with digits-only ids, as preprinted tubes have: a pool, a single tube, and one
    whose id starts with a zero, in one box."""
    store = open_store(central_db)
    lane = Lane("s1", "a")
    at = lane.tube(POOL, [person(n) for n in (1, 2, 3)], shanghai(TODAY, 8))
    at = lane.tube(SINGLE, [person(4)], at)
    at = lane.tube(ZEROED, [person(5)], at)
    lane.box(BOX, {POOL: 3, SINGLE: 1, ZEROED: 1}, at, courier="C01")
    lane.deliver(store, shanghai(TODAY, 12))
    store.close()
    return central_db


def lis_book(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    """An export as a hospital's LIS writes it: the title merged across the columns, a
    blank row, then the header and the rows."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([TITLE])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    sheet.append([])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def stored(db: str) -> list[tuple[str, str, str]]:
    store = open_store(db)
    try:
        return [(r.tube, r.result, r.tested_at) for r in store.results_of([POOL, SINGLE, ZEROED])]
    finally:
        store.close()


def test_an_lis_workbook_with_a_title_and_a_blank_row_is_read_as_written(
        digits_day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The title and the blank row passed over; 阳性(+) and 阴性（-）; a date cell and a
    time Excel keeps as its serial number; a tube id Excel stored as a number, whose
    digits the register holds."""
    book = lis_book(tmp_path / "lis.xlsx",
                    ["序号", "条码号", "检测结果（阴/阳）", "检测机构", "报告时间",
                     "ORF1ab基因Ct值"],
                    [[1, float(POOL), "阳性(+)", "市一院", dt.datetime(2026, 12, 4, 14), 28.1],
                     [2, SINGLE, "阴性（-）", "市一院", 46360.625, "未检出"]])
    assert run("import-results", str(book), "--db", digits_day, capsys=capsys)[:2] == (
        0, "2 results stored\n")
    assert stored(digits_day) == [(POOL, "positive", "2026-12-04T06:00:00.000Z"),
                                  (SINGLE, "negative", "2026-12-04T07:00:00.000Z")]


def test_a_csv_with_title_rows_is_read_from_its_header(
        digits_day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "lis.csv"
    path.write_text(f"{TITLE},,,\n,,,\n打印时间: 2026-12-04 15:00,,,\n"
                    "管号,结果,实验室,检测时间\n"
                    f"{POOL},检出,市一院,2026/12/4 14:00\n{SINGLE},NEG,市一院,2026/12/4 14:00\n",
                    encoding="utf-8-sig")
    assert run("import-results", str(path), "--db", digits_day, capsys=capsys)[:2] == (
        0, "2 results stored\n")
    assert [r[1] for r in stored(digits_day)] == ["positive", "negative"]


def test_tube_ids_excel_made_numbers_are_refused_unless_every_digit_is_there(
        digits_day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """0107000001 as a number is 107000001: its zero is lost, and no tube has those digits;
    1.10101E+12 (Excel's General format, saved as CSV) has lost 7 digits; 16 digits are
    more than Excel keeps. Each is named with its line, and nothing is stored."""
    book = lis_book(tmp_path / "eaten.xlsx", ["条码号", "检测结果", "检测机构", "检测时间"],
                    [[int(ZEROED), "阴性", "市一院", "2026-12-04 14:00"],
                     [1101010000123456, "阴性", "市一院", "2026-12-04 14:00"],
                     [float(POOL), "阴性", "市一院", "2026-12-04 14:00"]])
    status, out, err = run("import-results", str(book), "--db", digits_day, capsys=capsys)
    assert (status, out) == (1, "")
    assert ("eaten.xlsx:4: tube 107000001 was a number in the spreadsheet and no station "
            "registered a tube of exactly those digits: its leading zeros may be lost") in err
    assert "eaten.xlsx:5: tube is a number in the spreadsheet (1.10101000012346e+15)" in err
    assert "Excel keeps 15 digits of a number" in err
    assert "eaten.xlsx:6" not in err   # every digit there, and the register has them
    csv_file = tmp_path / "eaten.csv"
    csv_file.write_text(f"tube,result,lab,tested_at\n1.10101E+12,negative,市一院,{TODAY} 14:00\n",
                        encoding="utf-8")
    status, _, err = run("import-results", str(csv_file), "--db", digits_day, capsys=capsys)
    assert status == 1 and ("eaten.csv:2: tube '1.10101E+12' is a number Excel wrote in "
                            "scientific notation: the id's last 7 digits are lost") in err
    assert stored(digits_day) == []


def test_a_single_result_for_a_tube_never_registered_is_refused_not_dropped(
        digits_day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "one.csv"
    path.write_text(f"tube,result,lab,tested_at\nZZ404,阳性,市一院,{TODAY} 14:00\n",
                    encoding="utf-8")
    status, out, err = run("import-results", str(path), "--db", digits_day, capsys=capsys)
    assert (status, out) == (1, "")
    assert "one.csv:2: tube ZZ404: no station registered such a tube" in err
    assert "nothing stored: 1 problem(s)" in err
    assert stored(digits_day) == []


def test_every_spelling_of_the_table_and_its_full_width_form_is_its_verdict() -> None:
    for verdict, spellings in VERDICTS.items():
        for text in spellings:
            wide = text.replace("(", "（").replace(")", "）").replace("+", "＋").replace("-", "－")
            for written in (text, text.upper(), wide, f" {text} "):
                assert verdict_of(written) == verdict, written
    assert verdict_of("阴性 (−)") == "negative"   # a minus sign, and a space


@pytest.mark.parametrize(("written", "why"), [
    ("阳性(-)", "the word says positive, the sign (-) says negative"),
    ("阴性（＋）", "the word says negative, the sign (+) says positive"),
    ("阴性/阳性", "says both 阴 and 阳"),
    ("可疑", "is a suspect result"),
    ("弱阳性", "is a weak positive"),
    ("maybe", "is not 阴性/阳性/无效"),
    ("", "is not 阴性/阳性/无效"),
])
def test_what_stays_ambiguous_is_refused_with_why(written: str, why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(why)):
        verdict_of(written)


def test_the_readme_shows_the_verdict_table_the_importer_reads() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| verdict | spellings accepted |"):]
    shown = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        verdict, spellings = (cell.strip() for cell in line.strip("|").split("|"))
        shown[verdict.split()[-1]] = tuple(s.strip("` ") for s in spellings.split(", "))
    assert shown == VERDICTS


def test_a_file_without_a_header_names_every_name_accepted(
        digits_day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = lis_book(tmp_path / "odd.xlsx", ["样本", "检测结果", "检测时间"],
                    [[POOL, "阴性", "2026-12-04 14:00"]])
    status, _, err = run("import-results", str(book), "--db", digits_day, "--lab", "市一院",
                         capsys=capsys)
    assert status == 1 and "odd.xlsx: line 3: no column for tube (accepted names: tube: " in err
    assert "tube: " + "/".join(HEADERS["tube"]) + ";" in err   # every one, not the first few
    assert "line 3, the likeliest header, has: 样本, 检测结果, 检测时间" in err


def test_two_columns_that_can_each_be_the_result_are_refused(
        digits_day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = lis_book(tmp_path / "genes.xlsx",
                    ["条码号", "检测结果(ORF1ab)", "检测结果(N)", "检测机构", "检测时间"],
                    [[POOL, "阴性", "阴性", "市一院", "2026-12-04 14:00"]])
    status, _, err = run("import-results", str(book), "--db", digits_day, capsys=capsys)
    assert status == 1 and ("genes.xlsx: line 3: columns B and C (检测结果(ORF1ab) and 检测结果"
                            "(N)) can each be the result: rename the one that is not") in err


def test_excel_cells_read_as_excel_writes_them() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    at = dt.datetime(2026, 12, 4, 2, 30, tzinfo=dt.UTC)
    for written in (46360.4375, "46360.4375", dt.datetime(2026, 12, 4, 10, 30),
                    "2026-12-04 10:30"):
        assert time_of(written, "time tested", zone) == at, written
    for wrong in (20261204, "12", 99999.5):
        with pytest.raises(ValueError, match="is a number, not a time"):
            time_of(wrong, "time tested", zone)
    assert identifier(1101010000123.0, "tube") == "1101010000123"
    assert identifier("1.101010000123E+12", "tube") == "1101010000123"   # every digit written
    assert identifier("1101010000123.0", "tube") == "1101010000123"
    for lost in ("1.10101E+12", 1.5, 12345678901234567):
        with pytest.raises(ValueError, match="tube"):
            identifier(lost, "tube")
    assert fold("阴性（－）") == "阴性(-)"
