"""`report coverage` (central/reports/coverage.py, coverage_roster.py): the roster of two
communities of two buildings each against a round of two days (tests/central/round_days.py),
on SQLite and PostgreSQL, persons sealed as lanes seal them: 应检, 已检, 未检 and the share
at every level, and the households with nobody sampled, each computed here from the
round's plan and roster; bad rosters refused with their line, nothing written."""

from __future__ import annotations

import csv
import io
import logging
import os
import shutil
import stat
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from openpyxl import load_workbook

from central.cli import main
from tests.central import round_days
from tests.central.round_days import DAY1, DAY2, DAYS, ROSTER, SITES, Resident
from tests.central.test_sheets import one_space, pdf_text
from tests.central_keys import key_pair
from tests.office import needs_libreoffice

KEY = ["--private-key", str(key_pair()[0])]
ROUND = ["--from", DAY1, "--to", DAY2]
ABOVE = {s.community: (s.street, s.district) for s in SITES}


@pytest.fixture
def round_db(central_db: str) -> str:
    return round_days.played(central_db)


def coverage(capsys: pytest.CaptureFixture[str], db: str, *args: str) -> list[dict[str, str]]:
    assert main(["report", "coverage", "--db", db, *KEY, "--columns", "en", *args]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))


def chain(r: Resident) -> tuple[str, str, str, str, str]:
    street, district = ABOVE[r.community]
    return district, street, r.community, r.building, r.household


def expected(days: tuple[str, ...]) -> dict[tuple[str, ...], tuple[int, int, int, int]]:
    """(level, names…) → (应检, 已检, 户数, 无人检测户数), from the roster and the plan."""
    tested = round_days.sampled(days)
    members: dict[tuple[str, ...], list[Resident]] = defaultdict(list)
    for r in ROSTER:
        d, s, c, b, _ = chain(r)
        for key in [("total",), ("district", d), ("street", d, s), ("community", d, s, c),
                    ("building", d, s, c, b)]:
            members[key].append(r)
        group = r.group or "（未分类）"
        members[("group", group)].append(r)
        members[("community_group", d, s, c, group)].append(r)
    figures = {}
    for key, people in members.items():
        homes = {chain(r) for r in people}
        reached = {chain(r) for r in people if r.n in tested}
        figures[key] = (len(people), sum(r.n in tested for r in people), len(homes),
                        len(homes - reached))
    return figures


def keyed(row: dict[str, str]) -> tuple[str, ...]:
    level = row["level"]
    places = [row[k] for k in ("district", "street", "community", "building")]
    depth = {"total": 0, "district": 1, "street": 2, "community": 3, "building": 4,
             "group": 0, "community_group": 3}[level]
    return (level, *places[:depth], *([row["group"]] if "group" in level else []))


@pytest.mark.parametrize("days", [(DAY1,), (DAY2,), DAYS])
def test_every_level_counts_what_the_roster_and_the_plan_say(
        round_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture, days: tuple[str, ...]) -> None:
    roster = round_days.write_roster(tmp_path / "名单.csv")
    sites = round_days.write_sites(tmp_path / "sites.csv")
    period = ["--day", DAY1] if days == (DAY1,) else ["--day", DAY2] if days == (DAY2,) \
        else ROUND
    rows = coverage(capsys, round_db, "--roster", str(roster), "--sites", str(sites), *period)
    want = expected(days)
    counted = {keyed(r): r for r in rows if r["level"] != "household"}
    assert set(counted) == set(want)
    for key, (people, tested, households, none) in want.items():
        row = counted[key]
        assert (int(row["expected"]), int(row["tested"]), int(row["untested"]),
                int(row["households"]), int(row["households_none"])) == (
            people, tested, people - tested, households, none), key
        assert row["percent"] == f"{100 * tested / people:.1f}"
    # The households with nobody sampled, listed by place alone.
    tested_n = round_days.sampled(days)
    homes: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for r in ROSTER:
        homes[chain(r)].append(r.n)
    nobody = {home for home, ns in homes.items() if not set(ns) & tested_n}
    listed = {tuple(r[k] for k in ("district", "street", "community", "building", "household"))
              for r in rows if r["level"] == "household"}
    assert listed == nobody and nobody
    assert rows[0]["level"] == "total"
    # Nothing personal said: no number, name or phone of the roster in any log line.
    for r in ROSTER:
        assert r.id_number not in caplog.text and f"测试{r.n}" not in caplog.text


def test_the_round_at_a_glance(round_db: str, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    """The same figures written out by hand: 19 on the roster; 9, 16, 18, 19 never validly
    sampled (16's tube voided after sealing); household 幸福社区 2栋 203 nobody."""
    roster = round_days.write_roster(tmp_path / "名单.xlsx")   # a workbook, a title row
    rows = coverage(capsys, round_db, "--roster", str(roster), *ROUND)
    total = rows[0]
    assert (total["expected"], total["tested"], total["untested"], total["percent"]) == (
        "19", "15", "4", "78.9")
    (home,) = [r for r in rows if r["level"] == "household"]
    assert (home["community"], home["building"], home["household"]) == ("幸福社区", "2栋", "203")
    # No sites file and no 街道 column: the levels above the community are not known.
    assert {r["street"] for r in rows if r["level"] == "community"} == {"（未填）"}


def test_xlsx_for_a4_csv_for_machines_both_the_clerks_alone(
        round_db: str, tmp_path: Path) -> None:
    roster = round_days.write_roster(tmp_path / "名单.csv", "gbk")   # told by its bytes
    sites = round_days.write_sites(tmp_path / "sites.toml")
    book, table = tmp_path / "覆盖.xlsx", tmp_path / "coverage.csv"
    common = ["report", "coverage", "--db", round_db, *KEY, *ROUND, "--roster", str(roster),
              "--sites", str(sites)]
    assert main([*common, "--format", "xlsx", "--output", str(book)]) == 0
    assert main([*common, "--columns", "en", "--output", str(table)]) == 0
    for made in (book, table):
        assert stat.S_IMODE(os.stat(made).st_mode) == 0o600
    sheet = load_workbook(book).worksheets[0]
    assert [c.value for c in sheet[1] if c.value] == ["核酸检测覆盖情况"]
    assert int(sheet.page_setup.paperSize) == 9 and sheet.page_setup.orientation == "landscape"
    header = [c.value for c in sheet[4]]
    assert header[:2] == ["层级", "区"] and "应检人数" in header
    first = dict(zip(header, [c.value for c in sheet[5]], strict=True))
    assert (first["层级"], first["应检人数"], first["已检人数"], first["未检人数"]) == (
        "合计", 19, 15, 4)
    with table.open(encoding="utf-8-sig") as text:
        machine = list(csv.DictReader(text))
    assert machine[0]["expected"] == "19"


@pytest.mark.parametrize(("text", "said"), [
    ("身份证号,社区\n{1},幸福社区\n{2},幸福社区\n{1},和平社区\n",
     "lines 2 and 4: the same document number twice"),
    ("身份证号,社区,疫苗接种\n{1},幸福社区,是\n",
     "line 1: unknown column '疫苗接种' \\(column 3\\)"),
])
def test_a_bad_roster_is_refused_naming_its_line_and_nothing_is_written(
        round_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
        said: str) -> None:
    roster, out = tmp_path / "名单.csv", tmp_path / "coverage.xlsx"
    people = [r.id_number for r in ROSTER]
    roster.write_text(text.format("", *people), encoding="utf-8")
    assert main(["report", "coverage", "--db", round_db, *KEY, "--roster", str(roster),
                 "--format", "xlsx", "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{roster}: {said.replace(chr(92), '')}" in err and not out.exists()
    assert not any(number in err for number in people)


def test_undecodable_bytes_and_no_key_are_refused(
        round_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roster, out = tmp_path / "名单.csv", tmp_path / "coverage.csv"
    roster.write_bytes("身份证号,社区\n".encode("gbk") + ROSTER[0].id_number.encode()
                       + b",\x81\x20\n")
    assert main(["report", "coverage", "--db", round_db, *KEY, "--roster", str(roster),
                 "--output", str(out)]) == 1
    assert f"{roster}: line 2: neither UTF-8 nor GBK/GB18030 text" in capsys.readouterr().err
    assert not out.exists()
    round_days.write_roster(roster)
    assert main(["report", "coverage", "--db", round_db, "--roster", str(roster), *ROUND,
                 "--output", str(out)]) == 1
    assert "give --private-key" in capsys.readouterr().err and not out.exists()


def test_a_roster_of_its_own_streets_groups_in_one_cell_and_a_lost_number(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A roster naming its own 街道 and 区, a person in two groups (counted in each), and
    a number Excel made 1.10101E+17 (on the roster, never tested, counted apart)."""
    from central.reports.coverage_apart import RosterHere  # noqa: PLC0415
    from central.reports.opening import Persons  # noqa: PLC0415
    from central.reports.sampled import Found  # noqa: PLC0415
    from central.reports.sites import Sites  # noqa: PLC0415

    a, b = ROSTER[0].id_number, ROSTER[1].id_number
    roster = tmp_path / "名单.csv"
    roster.write_text("区,街道,社区,楼栋,门牌号,证件号码,重点人群\n"
                      f"西城区,建国街道,光明社区,3栋,301,{a},老年人、重点行业\n"
                      f"西城区,建国街道,光明社区,3栋,302,{b},\n"
                      "西城区,建国街道,光明社区,3栋,302,1.10101E+17,儿童\n", encoding="utf-8")
    found = Found(Persons(), None)
    found.found = {a}
    rows = RosterHere(roster, "", Sites(), None).counted(found)
    by = {(r["level"], r["group"] or next((r[k] for k in ("building", "community", "street",
                                                          "district") if r.get(k)), "")):
          (r["expected"], r["tested"], r["invalid"], r["households_none"]) for r in rows}
    assert by[("total", "")] == (3, 1, 1, 1)
    assert by[("street", "建国街道")] == by[("building", "3栋")] == (3, 1, 1, 1)
    assert by[("group", "老年人")] == by[("group", "重点行业")] == (1, 1, 0, 0)
    assert by[("group", "儿童")] == (1, 0, 1, 1)
    assert "1 row whose ID number is not valid (row 4)" in caplog.text
    assert a not in caplog.text and "1.10101E+17" not in caplog.text


def test_a_community_the_sites_file_puts_under_two_streets_needs_a_street_column(
        tmp_path: Path) -> None:
    from central.reports.coverage_roster import people  # noqa: PLC0415
    from central.reports.roster_file import RosterRefused  # noqa: PLC0415
    from central.reports.sites import read_sites  # noqa: PLC0415

    sites = tmp_path / "sites.csv"
    sites.write_text("site,community,street,district\nS01,新村社区,长安街道,东城区\n"
                     "S02,新村社区,建国街道,东城区\n", encoding="utf-8")
    roster = tmp_path / "名单.csv"
    roster.write_text(f"身份证号,社区\n{ROSTER[0].id_number},新村社区\n", encoding="utf-8")
    with pytest.raises(RosterRefused, match="community 新村社区 is under 建国街道 and 长安街道: "
                                            "give the roster a 街道 column"):
        people(roster, sites=read_sites(sites))


@needs_libreoffice
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils")
def test_the_printed_coverage_holds_every_level_on_one_a4_page(
        round_db: str, tmp_path: Path) -> None:
    """Printed through LibreOffice as a clerk prints it, read back with pdftotext."""
    pdf = tmp_path / "覆盖.pdf"
    assert main(["report", "coverage", "--db", round_db, *KEY, *ROUND, "--format", "pdf",
                 "--roster", str(round_days.write_roster(tmp_path / "名单.csv")),
                 "--sites", str(round_days.write_sites(tmp_path / "sites.csv")),
                 "--output", str(pdf)]) == 0
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    assert "Pages: 1" in one_space(info) and "(A4)" in info
    lines = pdf_text(pdf).splitlines()
    want = expected(DAYS)
    for key, label in [(("total",), "合计"), (("district", "东城区"), "区 东城区"),
                       (("street", "东城区", "长安街道"), "街道 东城区 长安街道"),
                       (("community", "东城区", "长安街道", "和平社区"),
                        "社区 东城区 长安街道 和平社区"),
                       (("building", "东城区", "长安街道", "幸福社区", "2栋"),
                        "楼栋 东城区 长安街道 幸福社区 2栋"),
                       (("group", "孕妇"), "人群 孕妇")]:
        people, tested, households, none = want[key]
        figures = (f"{label} {people} {tested} {people - tested} "
                   f"{100 * tested / people:.1f} {households} {none} 0")
        assert figures in lines, (figures, lines)


def test_a_report_says_how_many_persons_it_opened_itself(
        round_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    """Cold, coverage opens each registration that counts and says how many (a city's
    day is minutes of it where the index timer has not run); the next one opens none and
    says nothing of it."""
    roster = round_days.write_roster(tmp_path / "名单.csv")
    caplog.set_level(logging.INFO, "central.reports")
    people = sum(round_days.registered().values())

    def opened() -> list[str]:
        said = [r.getMessage() for r in caplog.records if "opened here" in r.getMessage()]
        caplog.clear()
        return said

    coverage(capsys, round_db, "--roster", str(roster), *ROUND)
    assert opened() == [f"{people} sealed persons opened here, not yet in the document "
                        f"index ({people} now kept in it; natest-central-index.timer "
                        "opens them as they arrive)"]
    coverage(capsys, round_db, "--roster", str(roster), *ROUND)
    assert opened() == []
