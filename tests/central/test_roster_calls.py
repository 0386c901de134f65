"""The community's roster fills the call lists (#38): card-holders read at the lane carry
no phone, a voided tube's people must come again, and the roster holds how to reach
them. On SQLite and a real PostgreSQL: `report positives`, `results` and `resample` take
`--roster` as communities keep it (an xlsx with a title row above its header, a GBK CSV,
a CSV with a UTF-8 byte-order mark), fill what the lane did not record and mark it; a
roster that cannot be read ends the report naming its file and line; nothing of the
roster reaches the log or the database."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from pathlib import Path

import msgspec
import pytest

from central.cli import main
from central.errors import status_of
from central.reports.roster_file import RosterRefused, read
from central.store.open import open_store
from contract.events import Person, TubeVoided
from tests.central.test_sheets import pdf_text
from tests.lane_days import Lane, lab_results, person, shanghai
from tests.office import needs_libreoffice, workbook
from tests.people import nth_person

TODAY = "2026-12-04"
# Only the roster holds these: the byte search of the database looks for them.
ROSTER_PHONE = {1: "13811110001", 2: "13811110002", 3: "13811110003", 4: "13811110004",
                5: "13811110005", 7: "13811110007"}
ROSTER_ADDRESS = "和平小区3号楼2单元501"
HEADER = ["序号", "姓名", "身份证号码", "联系电话", "现住址", "楼栋", "户"]


def card_holder(n: int) -> Person:
    """The n-th person as an ID card reads them: no phone, no current address."""
    return msgspec.structs.replace(person(n), phone="", address="")


@pytest.fixture(params=["sqlite", "postgresql"])
def day(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Lane a: P1 (card-holders 1 and 2, and 3 with a phone of their own), positive; V1
    (card-holders 4 and 5) sealed, then voided (CMD:VOID); I1 (6, and card-holder 7),
    invalid; N1 (8), negative."""
    target = (str(tmp_path / "central.db") if request.param == "sqlite"
              else str(request.getfixturevalue("pg_db")))
    store = open_store(target)
    lane = Lane("s1", "a")
    at = lane.tube("P1", [card_holder(1), card_holder(2), person(3)], shanghai(TODAY, 8))
    at = lane.tube("V1", [card_holder(4), card_holder(5)], at)
    lane.add(TubeVoided("V1", 2, "sealed"), at + dt.timedelta(minutes=1))
    at = lane.tube("I1", [person(6), card_holder(7)], at + dt.timedelta(minutes=2))
    lane.tube("N1", [person(8)], at)
    lane.deliver(store, shanghai(TODAY, 12))
    store.close()
    lab_results(target, tmp_path, "P1,阳性,市一院,2026-12-04 14:00",
                "I1,无效,市一院,2026-12-04 14:01", "N1,阴性,市一院,2026-12-04 14:02")
    return target


def roster_rows() -> list[list[str]]:
    """The community's list: people 1-5 and 7 with phones, 3 with another phone than the
    lane's (the lane's is kept), 2 with the address and building; 9 was never sampled."""
    rows = [[str(n), f"测试{n}", nth_person(n), ROSTER_PHONE[n], "", f"{n}栋", f"{n}01"]
            for n in (1, 3, 4, 5, 7)]
    rows.insert(1, ["2", "测试2", nth_person(2), ROSTER_PHONE[2], ROSTER_ADDRESS, "3号楼",
                    "2单元501"])
    return [*rows, ["9", "测试9", nth_person(9), "13811110009", "", "9栋", "901"]]


def roster_xlsx(path: Path) -> Path:
    """As a community keeps it in Excel: a title row, a blank row, then the header."""
    return workbook(path, [["XX社区核酸检测人员名单（2026年12月）"], [], HEADER,
                           *roster_rows()])


def roster_csv(path: Path, encoding: str) -> Path:
    text = io.StringIO()
    csv.writer(text).writerows([HEADER, *roster_rows()])
    path.write_bytes(text.getvalue().encode(encoding))
    return path


ROSTERS = {"xlsx-title-row": lambda tmp: roster_xlsx(tmp / "名单.xlsx"),
           "gbk-csv": lambda tmp: roster_csv(tmp / "名单.csv", "gbk"),
           "utf-8-bom-csv": lambda tmp: roster_csv(tmp / "名单.csv", "utf-8-sig")}


def report(*args: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    capsys.readouterr()
    assert main(["report", *args, "--day", TODAY, "--no-mark"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("\ufeff")   # the report's own mark, and only that: not a roster's
    return list(csv.DictReader(io.StringIO(out.removeprefix("\ufeff"))))


def test_a_positive_pools_card_holders_get_phones_from_the_roster_marked(
        day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    roster = roster_xlsx(tmp_path / "名单.xlsx")
    before = report("positives", "--db", day, "--columns", "en", capsys=capsys)
    assert [r["phone"] for r in before if r["tube"] == "P1"] == ["", "", "13900000003"]
    rows = report("positives", "--db", day, "--columns", "en", "--roster", str(roster),
                  capsys=capsys)
    p1 = [(r["name"], r["phone"], r["address"], r["building"], r["household"], r["filled"])
          for r in rows if r["tube"] == "P1"]
    assert p1 == [("测试1", ROSTER_PHONE[1], "", "1栋", "101", "phone"),
                  ("测试2", ROSTER_PHONE[2], ROSTER_ADDRESS, "3号楼", "2单元501",
                   "phone address"),
                  ("测试3", "13900000003", "幸福路3号", "3栋", "301", "")]   # the lane's kept
    zh = report("positives", "--db", day, "--roster", str(roster), capsys=capsys)
    assert [(r["电话"], r["名单补充"]) for r in zh if r["试管编号"] == "P1"] == [
        (ROSTER_PHONE[1], "电话"), (ROSTER_PHONE[2], "电话、现居住地"), ("13900000003", "")]
    said = "\n".join(r.getMessage() for r in caplog.records)
    assert ("roster 名单.xlsx: 7 rows; 4 of the 5 people listed found in it; filled 3 "
            "phones, 0 names, 1 addresses; 0 listed still without a phone") in said
    assert ROSTER_ADDRESS not in said and "3号楼" not in said and "2单元501" not in said


def test_a_voided_sealed_tubes_and_an_invalid_pools_people_are_to_be_sampled_again(
        day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roster = roster_csv(tmp_path / "名单.csv", "gbk")
    rows = report("resample", "--db", day, "--columns", "en", "--roster", str(roster),
                  capsys=capsys)
    assert [(r["reason"], r["tube"], r["name"], r["phone"], r["filled"]) for r in rows] == [
        ("voided", "V1", "测试4", ROSTER_PHONE[4], "phone"),
        ("voided", "V1", "测试5", ROSTER_PHONE[5], "phone"),
        ("invalid", "I1", "测试6", "13900000006", ""),
        ("invalid", "I1", "测试7", ROSTER_PHONE[7], "phone")]
    assert rows[-1]["lab"] == "市一院" and rows[0]["lab"] == ""
    zh = report("resample", "--db", day, capsys=capsys)   # without a roster: no its columns
    assert [r["重采原因"] for r in zh] == ["试管作废"] * 2 + ["结果无效"] * 2
    assert "楼栋" not in zh[0] and zh[0]["电话"] == ""


@pytest.mark.parametrize("kind", list(ROSTERS))
def test_rosters_are_read_as_communities_keep_them(
        kind: str, day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The xlsx's title row and the GBK CSV ended `report missing` with "'utf-8' codec
    can't decode byte" before; now both, and a CSV with a BOM, fill and compare alike."""
    roster = ROSTERS[kind](tmp_path)
    rows = report("results", "--db", day, "--columns", "en", "--roster", str(roster),
                  capsys=capsys)
    assert {r["name"]: r["phone"] for r in rows if r["filled"]} == {
        "测试1": ROSTER_PHONE[1], "测试2": ROSTER_PHONE[2], "测试7": ROSTER_PHONE[7]}
    missing = report("missing", "--db", day, "--roster", str(roster), capsys=capsys)
    # 4 and 5 were voided: not validly sampled; 9 never came.
    assert [r["姓名"] for r in missing] == ["测试4", "测试5", "测试9"]
    assert list(missing[0]) == [*HEADER, "名单有误"]


def voided_tube_day(tmp_path: Path) -> str:
    """A SQLite database of one lane's day: tube V1 of two card-holders, voided sealed."""
    db = str(tmp_path / "central.db")
    store = open_store(db)
    lane = Lane("s1", "a")
    at = lane.tube("V1", [card_holder(4), card_holder(5)], shanghai(TODAY, 8))
    lane.add(TubeVoided("V1", 2, "sealed"), at)
    lane.deliver(store)
    store.close()
    return db


@needs_libreoffice
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils")
def test_the_printed_resample_list_sets_tubes_apart_with_why_and_the_rosters_phones(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Printed through LibreOffice as a clerk prints it, read back with pdftotext."""
    db = voided_tube_day(tmp_path)
    pdf = tmp_path / "待重采.pdf"
    assert main(["report", "resample", "--db", db, "--day", TODAY, "--format", "pdf",
                 "--output", str(pdf), "--roster", str(roster_xlsx(tmp_path / "名单.xlsx"))]) == 0
    text = pdf_text(pdf)
    assert "待重采名单" in text and "试管 V1：试管作废，2 人" in text
    for n in (4, 5):
        line = next(line for line in text.splitlines() if nth_person(n) in line)
        assert ROSTER_PHONE[n] in line and f"{n}栋" in line and "电话" in line, line


def refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    status = main(["report", *args, "--day", TODAY])
    out, err = capsys.readouterr()
    assert out == ""
    return status, err


def test_a_roster_without_an_id_column_is_refused_naming_file_line_and_what_to_do(
        day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roster = workbook(tmp_path / "名单.xlsx", [["XX社区名单"], ["姓名", "电话", "楼栋"],
                                              ["测试1", ROSTER_PHONE[1], "1栋"]])
    output = tmp_path / "召回.csv"
    status, err = refused(["positives", "--db", day, "--roster", str(roster), "--output",
                           str(output)], capsys)
    assert status == status_of(RosterRefused("")) == 1
    assert f"report positives: {roster}: lines 1-3: no column of ID numbers; line 2, the " \
           "fullest, has 3 cells filled: name the ID numbers' column 身份证号 or 证件号码" in err
    assert not output.exists()   # nothing written of a list that could not be filled
    # A roster without a header at all: its person's row is not quoted back.
    bare = roster_csv(tmp_path / "bare.csv", "utf-8")
    bare.write_text(bare.read_text(encoding="utf-8").split("\n", 1)[1], encoding="utf-8")
    status, err = refused(["missing", "--db", day, "--roster", str(bare)], capsys)
    assert status == 1 and "cells filled" in err
    assert nth_person(1) not in err and ROSTER_PHONE[1] not in err
    # A person's row with no 6-digit run in it (Excel made the ID number a float, the
    # phone is left blank): still never quoted.
    mangled = workbook(tmp_path / "mangled.xlsx", [["测试名", 1.10101199001011e17, "",
                                                    "幸福路3号"]])
    status, err = refused(["missing", "--db", day, "--roster", str(mangled)], capsys)
    assert status == 1 and "line 1, the fullest, has 3 cells filled" in err
    for cell in ("测试名", "1.10101E+17", "幸福路"):
        assert cell not in err, err


def test_a_workbook_that_is_not_a_zip_is_refused_naming_it_and_what_to_do(
        day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A CSV renamed .xlsx, or a password-protected workbook (an OLE file, not a zip)."""
    renamed = roster_csv(tmp_path / "名单.csv", "utf-8").rename(tmp_path / "名单.xlsx")
    locked = tmp_path / "加密.xlsx"
    locked.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    for roster in (renamed, locked):
        status, err = refused(["missing", "--db", day, "--roster", str(roster)], capsys)
        assert status == status_of(RosterRefused("")) == 1
        assert f"report missing: {roster}: not an xlsx workbook" in err, err
        assert "save it from Excel or WPS as .xlsx, or as CSV" in err
        assert "Traceback" not in err


def test_a_roster_of_undecodable_bytes_is_refused_naming_its_line(
        day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roster = roster_csv(tmp_path / "名单.csv", "utf-8")
    lines = roster.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b",", b",\xff", 1)   # a byte neither UTF-8 nor GBK
    roster.write_bytes(b"\n".join(lines))
    status, err = refused(["resample", "--db", day, "--roster", str(roster)], capsys)
    assert status == 1
    assert f"{roster}: line 4: UTF-8 text with a damaged byte (byte 0xff at byte 3 of the " \
           "line): save it from Excel or WPS as .xlsx, or as CSV UTF-8" in err
    gbk = roster_csv(tmp_path / "gbk.csv", "gbk")
    status, err = refused(["missing", "--db", day, "--roster", str(gbk), "--encoding",
                           "utf-8"], capsys)
    assert status == 1 and f"{gbk}: line 1: not utf-8 text" in err
    assert "name another --encoding, or leave it out" in err
    gbk.write_bytes(gbk.read_bytes() + b"\x80\n")   # 0x80: not GBK either
    status, err = refused(["missing", "--db", day, "--roster", str(gbk)], capsys)
    assert status == 1 and f"{gbk}: line 9: neither UTF-8 nor GBK/GB18030 text" in err
    assert "'utf-8' codec" not in err


def test_nothing_of_the_roster_is_stored(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         caplog: pytest.LogCaptureFixture) -> None:
    """On SQLite, whose file (and its journal) can be searched byte by byte."""
    db = voided_tube_day(tmp_path)
    roster = roster_xlsx(tmp_path / "名单.xlsx")
    for name in ("resample", "positives", "results"):
        report(name, "--db", db, "--roster", str(roster), capsys=capsys)
    rows = report("resample", "--db", db, "--columns", "en", "--roster", str(roster),
                  capsys=capsys)
    assert [r["phone"] for r in rows] == [ROSTER_PHONE[4], ROSTER_PHONE[5]]   # it was read
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("central.db*"))
    assert nth_person(4).encode() in stored   # the search sees what the store holds
    for secret in (ROSTER_PHONE[4], ROSTER_PHONE[5], "4栋", "5栋"):
        assert secret.encode() not in stored, secret
    assert not any(ROSTER_PHONE[4] in r.getMessage() for r in caplog.records)
    assert "filled 2 phones" in caplog.text


def test_excels_unicode_text_is_read_and_an_old_workbook_is_refused_with_what_to_do(
        tmp_path: Path) -> None:
    """Excel's "Unicode text" save: UTF-16 with a BOM, tab between columns."""
    text = tmp_path / "名单.txt"
    text.write_bytes("\n".join("\t".join(row) for row in [["社区名单"], HEADER,
                                                          *roster_rows()]).encode("utf-16"))
    table = read(text)
    assert [(line, table.value(cells, "phone")) for line, cells in table.rows][:2] == [
        (3, ROSTER_PHONE[1]), (4, ROSTER_PHONE[2])]
    old = tmp_path / "名单.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(RosterRefused, match=r"名单.xls: an old or WPS workbook, which is not "
                                            r"read: save it from Excel or WPS as .xlsx"):
        read(old)
