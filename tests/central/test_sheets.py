"""Papers a district office prints: the register, the recall list and a box's record laid
out for A4, printed to PDF by LibreOffice and read back by poppler's pdftotext and
pdfinfo (programs nobody here wrote): every ID number, tube id, box id and time whole,
one page wide, the title naming site and day, the header on every page."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from central.cli import main
from central.reports.sheets import display_width
from central.store.open import open_store
from station.core.labels import print_job
from station.core.messages import HandoverSlip
from tests.lane_days import Lane, person, shanghai
from tests.office import needs_libreoffice

TODAY = "2026-12-04"
pytestmark = [needs_libreoffice, pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler: apt-get install poppler-utils")]


def pdf_text(pdf: Path, page: int | None = None) -> str:
    """The text as pdftotext lays it out, runs of spaces made one (it draws the gaps)."""
    pages = ["-f", str(page), "-l", str(page)] if page else []
    text = subprocess.run(["pdftotext", "-layout", *pages, str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout
    return one_space(text)


def one_space(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text)


def pdf_info(pdf: Path) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                         check=True).stdout
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in
                                                  out.splitlines())}


@pytest.fixture
def small_site(tmp_path: Path) -> str:
    """Two tubes of six at one lane, in one box handed to courier C01."""
    db = str(tmp_path / "central.db")
    store = open_store(db)
    lane = Lane("110101-xx小学", "lane-01")
    at = lane.tube("110101B0000001", [person(n) for n in range(1, 7)], shanghai(TODAY, 8))
    lane.tube("110101B0000002", [person(n) for n in range(7, 13)], at, undo=3)
    lane.box("110101BOX00001", {"110101B0000001": 6, "110101B0000002": 5},
             shanghai(TODAY, 9), courier="C01")
    lane.deliver(store)
    store.close()
    return db


def report(db: str, name: str, out: Path, *args: str) -> Path:
    assert main(["report", name, "--db", db, "--day", TODAY, "--output", str(out),
                 *args]) == 0
    assert out.stat().st_mode & 0o077 == 0
    return out


def test_a_small_register_prints_whole_on_one_landscape_page(small_site: str,
                                                             tmp_path: Path) -> None:
    pdf = report(small_site, "register", tmp_path / "登记表.pdf", "--format", "pdf")
    info = pdf_info(pdf)
    assert info["Pages"] == "1"
    width, height = (float(v) for v in re.findall(r"[\d.]+", info["Page size"])[:2])
    assert (round(width), round(height)) == (842, 595)   # A4, landscape
    text = pdf_text(pdf)
    assert "核酸混采登记表" in text and "采样点：110101-xx小学" in text and f"日期：{TODAY}" in text
    for n in range(1, 13):
        assert person(n).id_number in text, n          # whole: no cut-off digits
    for whole in ("110101B0000001", "110101B0000002", "110101BOX00001",
                  "2026-12-04 08:01:00", "2026-12-04 08:07:00"):
        assert whole in text, whole
    assert "试管 110101B0000001：本管 6 人有效" in text
    assert "试管 110101B0000002：本管 5 人有效" in text    # the 3rd was undone
    assert "转运箱 110101BOX00001：试管 2 样本 11 转运人 C01" in text
    assert "登记人：S1001" in text and "核对人：" in text and "交接人（转运）：C01" in text


def test_the_xlsx_is_laid_out_for_reading_and_printing(small_site: str, tmp_path: Path) -> None:
    book = load_workbook(report(small_site, "register", tmp_path / "登记表.xlsx",
                                "--format", "xlsx"))
    sheet = book.active
    assert sheet is not None
    rows = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "核酸混采登记表" and f"日期：{TODAY}" in str(rows[1][0])
    header = list(rows[3])
    assert sheet.freeze_panes == "A5" and sheet.print_title_rows == "$4:$4"
    setup = sheet.page_setup
    assert (setup.orientation, setup.paperSize, setup.fitToWidth, setup.fitToHeight) == (
        "landscape", 9, 1, 0)
    letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for column in ("证件号码", "采样时间", "转运箱", "试管编号", "采样点"):
        n = header.index(column)
        widest = max(display_width(row[n] or "") for row in rows[4:]
                     if sum(v is not None for v in row) > 1)   # not a tube's or box's line
        assert (sheet.column_dimensions[letter[n]].width or 0) >= widest, column


def test_a_boxs_record_matches_its_handover_slip_line_for_line(small_site: str,
                                                              tmp_path: Path) -> None:
    """What the lane printed on the slip (the same code prints it at dispatch) and what
    central prints for the box: the same counts, courier and tubes in the same order."""
    slip = print_job(HandoverSlip("110101BOX00001", ("110101B0000001", "110101B0000002"),
                                  11, "C01"), "110101-xx小学", "lane-01", "", courier="C01")
    pdf = report(small_site, "register", tmp_path / "box.pdf", "--format", "pdf",
                 "--box", "110101BOX00001")
    text = pdf_text(pdf)
    assert "转运箱：110101BOX00001" in text
    counts = next(one_space(line) for line in slip.lines if line.startswith("试管 "))
    assert f"转运箱 110101BOX00001：{counts} 转运人 C01" in text
    tubes = [line for line in slip.lines if line.startswith("110101B00")]
    assert [t for t in re.findall(r"试管 (110101B\d+)：", text)] == tubes


def test_a_long_register_repeats_its_header_on_every_page(tmp_path: Path) -> None:
    db = str(tmp_path / "central.db")
    store = open_store(db)
    lane = Lane("s1", "a")
    at = shanghai(TODAY, 0, 10)   # a minute a person: 20 hours, all of them today
    for tube in range(100):
        at = lane.tube(f"T{tube:06d}", [person(tube * 10 + n) for n in range(1, 11)], at)
    lane.deliver(store)
    store.close()
    pdf = report(db, "register", tmp_path / "登记表.pdf", "--format", "pdf")
    pages = int(pdf_info(pdf)["Pages"])
    assert pages > 10
    for page in range(1, pages + 1):
        text = pdf_text(pdf, page)
        # the header, its first and last columns: one page wide, on every page
        assert "证件号码" in text and "采样点" in text and "时间来源" in text, page
    whole = pdf_text(pdf)
    assert all(person(n).id_number in whole for n in range(1, 1001))


def test_the_recall_list_prints_every_contact_whole(tmp_path: Path) -> None:
    db = str(tmp_path / "central.db")
    store = open_store(db)
    lane = Lane("s1", "a")
    lane.tube("P1", [person(n) for n in range(1, 11)], shanghai(TODAY, 8))
    lane.deliver(store)
    store.close()
    lis = tmp_path / "lis.csv"
    lis.write_text("tube,result,lab,tested_at\nP1,阳性,市一院,2026-12-04 14:00\n",
                   encoding="utf-8")
    assert main(["import-results", str(lis), "--db", db]) == 0
    text = pdf_text(report(db, "positives", tmp_path / "召回.pdf", "--format", "pdf"))
    assert "阳性及无效管召回名单" in text and "试管 P1：阳性，10 人" in text
    for n in range(1, 11):
        someone = person(n)
        assert someone.id_number in text and someone.phone in text, n


def test_pdf_is_the_chinese_layout_and_needs_a_file(small_site: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "register", "--db", small_site, "--format", "pdf"]) == 2
    assert "--format pdf needs --output" in capsys.readouterr().err
    assert main(["report", "register", "--db", small_site, "--format", "pdf", "--columns",
                 "en", "--output", "x.pdf"]) == 2
    assert "leave out --columns en" in capsys.readouterr().err


def test_every_chinese_xlsx_report_has_its_title_and_a_printable_page(
        small_site: str, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("证件号码,姓名\n" + "".join(f"{person(n).id_number},测试{n}\n"
                                               for n in range(1, 15)), encoding="utf-8")
    for name, title in (("register", "核酸混采登记表"), ("missing", "待补采名单"),
                        ("reconcile", "核对表"), ("forms", "待录入信息卡"),
                        ("totals", "采样统计"), ("positives", "阳性及无效管召回名单"),
                        ("results", "核酸检测结果名单"), ("custody", "转运交接记录")):
        extra = ["--roster", str(roster)] if name == "missing" else []
        sheet = load_workbook(report(small_site, name, tmp_path / f"{name}.xlsx",
                                     "--format", "xlsx", *extra)).active
        assert sheet is not None
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0][0] == title and f"日期：{TODAY}" in str(rows[1][0]), name
        assert sheet.print_title_rows == "$4:$4" and sheet.page_setup.fitToWidth == 1, name
        pdf = report(small_site, name, tmp_path / f"{name}.pdf", "--format", "pdf", *extra)
        assert pdf_info(pdf)["Pages"] == "1", name
        assert title in pdf_text(pdf) and f"日期：{TODAY}" in pdf_text(pdf), name
    missing = list(load_workbook(tmp_path / "missing.xlsx").active.iter_rows(
        values_only=True))
    # the 9th was undone at the lane: missing still
    assert [row[1] for row in missing[4:] if row[0]] == ["测试9", "测试13", "测试14"]
