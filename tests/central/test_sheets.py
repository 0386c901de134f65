"""Papers a district office prints: the register, the recall list and a box's record laid
out for A4, printed to PDF by LibreOffice and read back by poppler's pdftotext and
pdfinfo (programs nobody here wrote): every ID number, tube id, box id and time whole,
one page wide, the title naming site and day, the header on every page."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from central.cli import main
from central.reports.sheets import display_width
from central.store.open import open_store
from contract.events import SampleRegistered, TubeOpened, TubeSealed
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


def pdf_fonts(pdf: Path) -> set[str]:
    """The families poppler's pdffonts finds, without the subset prefix (ABCDEF+)."""
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                         check=True).stdout
    return {line.split()[0].split("+")[-1] for line in out.splitlines()[2:]}


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
    assert first_value(rows[0]) == "核酸混采登记表" and f"日期：{TODAY}" in str(
        first_value(rows[1]))
    header = list(rows[3])
    assert sheet.freeze_panes == "A5" and sheet.print_title_rows == "$4:$4"
    setup = sheet.page_setup
    assert (setup.orientation, setup.paperSize, setup.fitToWidth, setup.fitToHeight) == (
        "landscape", 9, 1, 0)
    letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for column in ("证件号码", "采样时间", "转运箱", "试管编号", "采样点"):
        n = header.index(column)
        widest = max(display_width(shown(row[n])) for row in rows[4:]
                     if sum(v is not None for v in row) > 1)   # not a tube's or box's line
        assert (sheet.column_dimensions[letter[n]].width or 0) >= widest, column
    # Off the page, still in the sheet: the one site (in the title), and what the line
    # after each tube prints.
    hidden = {name for n, name in enumerate(header) if sheet.column_dimensions[letter[n]].hidden}
    assert hidden == {"采样点", "本管人数", "封管时间"}


def test_the_xlsx_holds_numbers_and_times_as_excel_types(small_site: str,
                                                         tmp_path: Path) -> None:
    """Excel sums and sorts them: positions and counts numbers, times datetimes shown as
    the report writes them; ID numbers and tube ids stay text (digits a number would
    round)."""
    sheet = load_workbook(report(small_site, "register", tmp_path / "登记表.xlsx",
                                 "--format", "xlsx")).active
    assert sheet is not None
    cells = list(sheet.iter_rows(min_row=4))
    header = [c.value for c in cells[0]]
    first = {name: cell for name, cell in zip(header, cells[1], strict=True)}
    assert (first["管内序号"].data_type, first["管内序号"].value) == ("n", 1)
    assert (first["本管人数"].data_type, first["本管人数"].value) == ("n", 6)
    for column in ("采样时间", "封管时间"):
        assert first[column].is_date and first[column].number_format == "yyyy-mm-dd hh:mm:ss"
    assert first["采样时间"].value == dt.datetime(2026, 12, 4, 8, 1)
    assert first["证件号码"].data_type == "s" and first["证件号码"].value == person(1).id_number
    assert first["试管编号"].data_type == "s"


def first_value(row: tuple[object, ...] | list[object]) -> object:
    """A line across the page: it starts in the first column printed."""
    return next(v for v in row if v is not None)


def shown(value: object) -> str:
    """A cell as the sheet shows it (a datetime by its number format)."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)


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
        # the header, its first and last columns printed: one page wide, on every page
        assert "采样台" in text and "证件号码" in text and "时间来源" in text, page
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
        assert first_value(rows[0]) == title and f"日期：{TODAY}" in str(
            first_value(rows[1])), name
        assert sheet.print_title_rows == "$4:$4" and sheet.page_setup.fitToWidth == 1, name
        pdf = report(small_site, name, tmp_path / f"{name}.pdf", "--format", "pdf", *extra)
        assert pdf_info(pdf)["Pages"] == "1", name
        assert title in pdf_text(pdf) and f"日期：{TODAY}" in pdf_text(pdf), name
        assert pdf_fonts(pdf) == {"WenQuanYiMicroHei"}, name   # one family, no fallback
    missing = list(load_workbook(tmp_path / "missing.xlsx").active.iter_rows(
        values_only=True))
    # the 9th was undone at the lane: missing still
    assert [row[1] for row in missing[4:] if row[0]] == ["测试9", "测试13", "测试14"]


def test_a_one_site_days_printed_lists_name_their_site(small_site: str,
                                                        tmp_path: Path) -> None:
    """Every row at one site: the page hides 采样点 as repeating, so its title names the
    site (it said 采样点：全部 for the lists not gathering sites, and no line named it)."""
    lis = tmp_path / "lis.csv"
    lis.write_text("tube,result,lab,tested_at\n110101B0000001,阳性,市一院,2026-12-04 14:00\n"
                   "110101B0000002,无效,市一院,2026-12-04 14:01\n", encoding="utf-8")
    assert main(["import-results", str(lis), "--db", small_site]) == 0
    for name in ("positives", "results", "resample", "custody"):
        sheet = load_workbook(report(small_site, name, tmp_path / f"{name}.xlsx",
                                     "--format", "xlsx", "--no-mark")
                              if name == "positives" else
                              report(small_site, name, tmp_path / f"{name}.xlsx",
                                     "--format", "xlsx")).active
        assert sheet is not None
        rows = list(sheet.iter_rows(values_only=True))
        header = list(rows[3])
        column = sheet.column_dimensions[get_column_letter(header.index("采样点") + 1)]
        facts = str(first_value(rows[1]))
        assert "采样点：110101-xx小学" in facts or not column.hidden, (name, facts)
        assert column.hidden, name   # one value down the page: in the title instead


def word_heights(pdf: Path) -> list[tuple[float, str]]:
    """Each word's box height (pt) as poppler's pdftotext -bbox measures it: the printed
    size of its font, whatever the page's fit-to-width scale made of it."""
    xhtml = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True,
                           text=True, check=True).stdout
    return [(float(y_max) - float(y_min), word) for y_min, y_max, word in re.findall(
        r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)<', xhtml)]


@pytest.fixture
def two_sites(tmp_path: Path) -> str:
    """The widest register a site prints: a lane with a box, and a lane whose clock was
    unset (the longer 时间来源) with a paper card (信息卡编号); and a second site."""
    db = str(tmp_path / "central.db")
    store = open_store(db)
    lane = Lane("110101-xx小学", "lane-01")
    lane.tube("110101B0000001", [person(n) for n in range(1, 11)], shanghai(TODAY, 8))
    lane.box("110101BOX00001", {"110101B0000001": 10}, shanghai(TODAY, 9), courier="C01")
    unset = Lane("110101-xx小学", "lane-02", clock_synced=False)
    at = unset.tube("110101B0000002", [person(n) for n in range(11, 15)], shanghai(TODAY, 8))
    unset.add(TubeOpened("110101B0000003", 1), at)
    unset.add(SampleRegistered("110101B0000003", 1, "form", person(15), False,
                               form="FORM-000015"), at)
    unset.add(TubeSealed("110101B0000003", 1, "full"), at)
    other = Lane("110102-yy中学", "lane-01")
    other.tube("110102B0000001", [person(n) for n in range(16, 19)], shanghai(TODAY, 8))
    for each in (lane, other):
        each.deliver(store)
    unset.deliver(store, shanghai(TODAY, 10))
    store.close()
    return db


def test_a_sites_register_reads_at_8_pt_on_a4_without_repeating_its_site(
        two_sites: str, tmp_path: Path) -> None:
    """One page wide and every word at 8 pt or more (measured on the PDF); the site in the
    title, not down the page; a district's register (two sites) keeps the column."""
    pdf = report(two_sites, "register", tmp_path / "site.pdf", "--format", "pdf",
                 "--site", "110101-xx小学")
    text = pdf_text(pdf)
    assert "采样点：110101-xx小学" in text and "110102" not in text
    header = next(line for line in text.splitlines() if "证件号码" in line)
    assert "采样点" not in header and "时间来源" in header and "信息卡" in text
    assert all(person(n).id_number in text for n in range(1, 16))
    assert "中心接收（台钟未校准）" in text and "FORM-000015" in text
    smallest = min(word_heights(pdf))
    assert smallest[0] >= 8, smallest
    district = pdf_text(report(two_sites, "register", tmp_path / "all.pdf", "--format",
                               "pdf"))
    header = next(line for line in district.splitlines() if "证件号码" in line)
    assert "采样点" in header and "110102-yy中学" in district
