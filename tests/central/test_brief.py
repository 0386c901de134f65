"""The daily brief (`report brief`, #41) on the two-day round of tests/central/round_days.py,
on SQLite and a real PostgreSQL, persons sealed as lanes seal them: a lab's results
(a positive pool, an invalid one, single retests), the labs' receipts, a tube sealed and
never boxed, and a tube and a receipt after --at. Every level's figures are computed here
from the plan, never by the report's code, and the printed brief is read back with
poppler's pdftotext and pdfinfo; nothing of a person is in it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import shutil
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import pytest
from openpyxl import load_workbook

from central.cli import main
from central.reports import coverage_apart
from central.reports.catalogue import REPORTS
from central.reports.sites import UNKNOWN
from central.store.open import open_store
from contract.sealed import read_keys
from station.sealing import Sealer
from tests.central.round_days import (
    BOXES,
    DAY1,
    DAY2,
    ROSTER,
    SITES,
    TUBES,
    UNREGISTERED,
    Tube,
    play,
    write_roster,
    write_sites,
)
from tests.central.test_sheets import one_space, pdf_info, pdf_text
from tests.central_keys import key_pair
from tests.conftest import personal_data_in
from tests.lane_days import Lane, person, shanghai
from tests.office import needs_libreoffice

AT = shanghai(DAY2, 15)
# Beside the round's plan: single retests of the pools' people at lanes of their own, a
# tube sealed on day 1 and never boxed (late at the cutoff), and a tube after --at.
EXTRA = (
    Tube(DAY1, "S03", "r", "X2", (10,), (19, 0)),    # 10's retest: negative
    Tube(DAY2, "S03", "r", "X1", (1,), (13, 30)),    # 1's retest: positive
    Tube(DAY2, "S03", "r", "X3", (12,), (14, 0)),    # 12's retest: no result yet
    Tube(DAY1, "S01", "r", "X5", (31,), (15, 0)),    # sealed, never boxed
    Tube(DAY2, "S02", "late", "X4", (11,), (16, 0)),   # after --at: not counted
)
ALL = (*TUBES, *EXTRA)
# tube → (result, tested at, local): R2T03's is after --at.
RESULTS = {"R1T01": ("阴性", DAY1, 18), "R1T05": ("无效", DAY1, 18),
           "R2T01": ("阳性", DAY2, 13), "X2": ("阴性", DAY1, 22), "X1": ("阳性", DAY2, 14),
           "R2T03": ("阴性", DAY2, 16)}
RECEIPTS = {"R1B1": (DAY1, 14), "R2B1": (DAY2, 13), "R2B3": (DAY2, 16)}   # box → when
# As of 15:00 on day 2 the pools' people stand so (R2T01 positive at 13:00: 5 and 1;
# R1T05 invalid the evening before: 10, 11, 12), 11 past the 6 h to be sampled singly.
STATUSES = {1: "confirmed", 5: "to_resample", 10: "cleared", 11: "to_resample",
            12: "waiting"}
OVERDUE = {11}
MAX_TRANSIT, CUTOFF = dt.timedelta(hours=4), 17
FIGURES = [k for k, _ in REPORTS["brief"].columns][6:]
PAGES = {"site": "采样点", "community": "社区", "street": "街道", "district": "区"}
COVERAGE = ("roster", "tested", "untested", "coverage")   # not on the sites' page


def opened_at(t: Tube) -> dt.datetime:
    return shanghai(t.day, *t.at)


def sealed_at(t: Tube) -> dt.datetime:
    """As tests/lane_days.py seals it: a minute a person, then a minute more."""
    return opened_at(t) + dt.timedelta(minutes=len(t.people) + 1)


def dispatched_at(box_day: str) -> dt.datetime:
    return shanghai(box_day, 12, 5)   # boxes close at 12:00, handed over 5 minutes later


def site_of_tube(tube: str) -> str:
    return next(t.site for t in ALL if t.tube == tube)


def expected_sites() -> dict[str, dict[str, int]]:
    """Each site's figures as of AT, from the plan alone."""
    found: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    today = shanghai(DAY2, 0)
    for t in ALL:
        if opened_at(t) >= AT:
            continue
        f = found[t.site]
        f["people_round"] += len(t.kept)
        f["people_today"] += len(t.kept) * (t.day == DAY2)
        if not t.void:
            f["tubes_round"] += 1
            f["tubes_today"] += t.day == DAY2
            f["tubes_late"] += late(t)
    for b in BOXES:
        f = found[b.site]
        f["boxes_dispatched"] += b.day == DAY2
        day, hour = RECEIPTS.get(b.box, (DAY2, 23))
        got = shanghai(day, hour) <= AT
        f["boxes_received"] += got and shanghai(day, hour) >= today
        f["boxes_overdue"] += not got and AT - dispatched_at(b.day) > MAX_TRANSIT
    for tube, (result, day, hour) in RESULTS.items():
        if shanghai(day, hour) <= AT:
            f = found[site_of_tube(tube)]
            f["results_back"] += 1
            pool = len(next(t.people for t in ALL if t.tube == tube)) > 1
            f["positive_pools"] += pool and result == "阳性"
            f["invalid_pools"] += pool and result == "无效"
    for n, status in STATUSES.items():
        site = next(t.site for t in ALL if n in t.kept and t.tube in ("R2T01", "R1T05"))
        found[site]["pool_people"] += 1
        found[site][status] += 1
        found[site]["followup_overdue"] += n in OVERDUE
    return {site: dict(f) for site, f in found.items()}


def late(t: Tube) -> bool:
    """Sealed before its day's cutoff, the cutoff passed by AT, and not in a box handed
    over by then."""
    cutoff = shanghai(t.day, CUTOFF)
    if sealed_at(t) >= cutoff or cutoff > AT:
        return False
    return not any(t.tube in b.tubes and dispatched_at(b.day) <= cutoff for b in BOXES)


def expected_rows() -> dict[tuple[str, ...], dict[str, int]]:
    """(level, district, street, community, site) → figures: each site's, and the sums
    of the sites under each community, street, district and the whole."""
    chain = {s.id: (s.district, s.street, s.community) for s in SITES}
    chain[UNREGISTERED] = (UNKNOWN, UNKNOWN, UNKNOWN)
    rows: dict[tuple[str, ...], dict[str, int]] = {}
    nothing: dict[str, int] = {}   # a site of the file where nothing happened
    for site, figures in ({s.id: nothing for s in SITES} | expected_sites()).items():
        district, street, community = chain[site]
        for unit in (("site", district, street, community, site),
                     ("community", district, street, community, ""),
                     ("street", district, street, "", ""), ("district", district, "", "", ""),
                     ("total", "", "", "", "")):
            into = rows.setdefault(unit, dict.fromkeys(FIGURES, 0))
            for key, value in figures.items():
                into[key] += value
    levels = ["site", "community", "street", "district", "total"]
    return dict(sorted(rows.items(), key=lambda item: levels.index(item[0][0])))


def expected_coverage() -> dict[tuple[str, ...], tuple[int, int]]:
    """(level, district, street, community) → (on the roster, sampled in the round by AT),
    from the roster and the plan; the roster names communities, the sites file the rest."""
    above = {s.community: (s.district, s.street) for s in SITES}
    came = {n for t in ALL if opened_at(t) < AT for n in t.kept}
    found: dict[tuple[str, ...], tuple[int, int]] = {}
    for r in ROSTER:
        district, street = above[r.community]
        for unit in (("community", district, street, r.community),
                     ("street", district, street, ""), ("district", district, "", ""),
                     ("total", "", "", "")):
            expected, tested = found.get(unit, (0, 0))
            found[unit] = (expected + 1, tested + (r.n in came))
    return found


def sealer() -> Sealer:
    return Sealer(read_keys(key_pair()[1], private=False)[0])


@pytest.fixture
def round_db(central_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The round played, persons sealed; the extra tubes, the results and receipts."""
    played_round(central_db, tmp_path)
    capsys.readouterr()
    return central_db


def played_round(central_db: str, tmp_path: Path) -> str:
    """round_db's round, in `central_db` (its lab's file in `tmp_path`)."""
    store = open_store(central_db)
    play(store, sealer())
    lanes: dict[tuple[str, str], Lane] = {}
    for t in EXTRA:
        lane = lanes.setdefault((t.site, t.station), Lane(t.site, t.station, sealer=sealer()))
        lane.tube(t.tube, [person(n) for n in t.people], opened_at(t))
    for lane in lanes.values():
        lane.deliver(store, shanghai(DAY2, 20))
    store.close()
    lis = tmp_path / "lis.csv"
    lis.write_text("tube,result,lab,tested_at\n" + "".join(
        f"{tube},{result},市一院,{day} {hour}:00\n"
        for tube, (result, day, hour) in RESULTS.items()), encoding="utf-8")
    assert main(["import-results", str(lis), "--db", central_db]) == 0
    for box, (day, hour) in RECEIPTS.items():
        tubes = str(len(next(b.tubes for b in BOXES if b.box == box)))
        assert main(["receive", box, "--lab", "市一院", "--tubes", tubes, "--db", central_db,
                     "--at", f"{day} {hour}:00"]) == 0
    return central_db


def brief(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], *more: str
          ) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(["report", "brief", "--db", db, "--sites",
                   str(write_sites(tmp_path / "sites.csv")), "--from", DAY1,
                   "--at", f"{DAY2} 15:00", *more])
    out, err = capsys.readouterr()
    return status, out, err


def by_unit(text: str) -> dict[tuple[str, ...], dict[str, str]]:
    rows = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    return {(r["level"], r["district"], r["street"], r["community"], r["site"]): r
            for r in rows}


def as_numbers(row: dict[str, str], keys: Iterable[str]) -> dict[str, int]:
    return {key: int(row[key]) for key in keys}


def test_every_level_counts_as_the_plan_says_as_of_at(
        round_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = brief(round_db, tmp_path, capsys, "--columns", "en",
                             "--private-key", str(key_pair()[0]))
    assert status == 0, err
    shown, expected = by_unit(out), expected_rows()
    assert list(shown) == list(expected)   # sites in the file's order, then level by level
    for unit, figures in expected.items():
        assert as_numbers(shown[unit], FIGURES[:-6] + FIGURES[-2:]) == {
            k: v for k, v in figures.items() if k not in FIGURES[-6:-2]}, unit
        assert shown[unit]["roster"] == "" and shown[unit]["unlinked"] == "0", unit
    total = shown[("total", "", "", "", "")]
    assert (total["people_today"], total["people_round"], total["positive_pools"],
            total["tubes_late"]) == ("9", "23", "1", "1")   # a glance that the plan bites
    assert shown[("site", UNKNOWN, UNKNOWN, UNKNOWN, UNREGISTERED)]["site_name"] == UNREGISTERED
    assert personal_data_in(out + err) == []


def test_without_the_key_a_pools_people_are_counted_but_not_linked(
        round_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The persons are sealed: with no key the brief still counts everything, and says
    the pools' people it could not link to a retest rather than guess their status."""
    status, out, err = brief(round_db, tmp_path, capsys, "--columns", "en")
    assert status == 0, err
    total = by_unit(out)[("total", "", "", "", "")]
    assert (total["pool_people"], total["unlinked"]) == ("5", "5")
    assert [total[s] for s in ("confirmed", "to_resample", "waiting", "cleared")] == ["0"] * 4
    assert total["people_round"] == "23"


@pytest.mark.parametrize("apart", [False, True], ids=["read-here", "read-in-a-worker"])
def test_with_a_roster_each_community_and_up_has_its_coverage(
        round_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        *, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, apart: bool
        ) -> None:
    """Read here, and in a worker process as a city's roster is (coverage_apart.py)."""
    caplog.set_level(logging.INFO, "central.reports")
    if apart:
        monkeypatch.setattr(coverage_apart, "APART_BYTES", 0)
    roster = write_roster(tmp_path / "名单.csv")
    status, out, err = brief(round_db, tmp_path, capsys, "--columns", "en", "--roster",
                             str(roster), "--private-key", str(key_pair()[0]))
    assert status == 0, err
    assert any("sealed persons opened here, not yet in the document index" in r.getMessage()
               for r in caplog.records)   # cold: a technician told why it took long
    shown, expected = by_unit(out), expected_coverage()
    for unit, row in shown.items():
        if unit[0] == "site":   # a roster is of where people live, not of a site
            assert (row["roster"], row["tested"], row["coverage"]) == ("", "", ""), unit
            continue
        roster_n, tested = expected.get(unit[:4], (0, 0))
        assert as_numbers(row, ("roster", "tested", "untested")) == {
            "roster": roster_n, "tested": tested, "untested": roster_n - tested}, unit
        share = f"{100 * tested / roster_n:.1f}" if roster_n else ""
        assert row["coverage"] == share, unit
    # The other figures are the brief's without a roster.
    assert as_numbers(shown[("total", "", "", "", "")], FIGURES[:17]) == {
        k: v for k, v in expected_rows()[("total", "", "", "", "")].items()
        if k in FIGURES[:17]}
    # And the coverage report of the same round says the same of every community.
    capsys.readouterr()
    assert main(["report", "coverage", "--db", round_db, "--roster", str(roster), "--sites",
                 str(tmp_path / "sites.csv"), "--from", DAY1, "--to", DAY2, "--columns", "en",
                 "--private-key", str(key_pair()[0])]) == 0
    report = csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff")))
    for row in report:
        if row["level"] == "community":
            ours = shown[("community", row["district"], row["street"], row["community"], "")]
            assert (ours["roster"], ours["tested"]) == (row["expected"], row["tested"])
    assert personal_data_in(out + err) == []


def test_a_city_roster_refused_in_its_worker_ends_the_brief_first_writing_nothing(
        round_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coverage_apart, "APART_BYTES", 0)
    roster = write_roster(tmp_path / "名单.csv")
    lines = roster.read_text(encoding="utf-8").splitlines()
    roster.write_text("\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")
    output = tmp_path / "brief.xlsx"
    status, _, err = brief(round_db, tmp_path, capsys, "--roster", str(roster),
                           "--private-key", str(key_pair()[0]), "--format", "xlsx",
                           "--output", str(output))
    assert status == 1 and f"lines 2 and {len(lines) + 1}: the same document number" in err
    assert not output.exists()
    store = open_store(round_db)
    try:
        assert store.count("document_index") == 0
    finally:
        store.close()


def test_a_roster_against_sealed_persons_needs_the_key_and_nothing_is_written(
        round_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "brief.xlsx"
    status, _, err = brief(round_db, tmp_path, capsys, "--roster",
                           str(write_roster(tmp_path / "名单.csv")), "--format", "xlsx",
                           "--output", str(output))
    assert status == 1 and "give --private-key" in err, err
    assert not output.exists()


@needs_libreoffice
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils")
def test_the_printed_brief_holds_every_levels_figures_on_a4_and_no_person(
        round_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pdf, xlsx = tmp_path / "brief.pdf", tmp_path / "brief.xlsx"
    roster = write_roster(tmp_path / "名单.csv")
    for path, form in ((pdf, "pdf"), (xlsx, "xlsx")):
        status, _, err = brief(round_db, tmp_path, capsys, "--format", form, "--output",
                               str(path), "--private-key", str(key_pair()[0]), "--roster",
                               str(roster))
        assert status == 0, err
        assert path.stat().st_mode & 0o777 == 0o600
    info = pdf_info(pdf)
    assert info["Page size"].endswith("(A4)") and info["Pages"] == "4", info
    coverage = expected_coverage()
    expected: dict[tuple[str, ...], dict[str, int | str]] = {}
    for unit, counted in expected_rows().items():   # with coverage, as the page prints it
        roster_n, tested = coverage.get(unit[:4], (0, 0))
        expected[unit] = {**counted, "roster": roster_n, "tested": tested,
                          "untested": roster_n - tested,
                          "coverage": f"{100 * tested / roster_n:.1f}" if roster_n else ""}
    names = {s.id: s.name for s in SITES} | {UNREGISTERED: UNREGISTERED}
    for page, level in enumerate(PAGES, 1):
        text = pdf_text(pdf, page)
        assert f"核酸检测每日简报：{PAGES[level]}" in text
        assert f"截至：{DAY2} 15:00" in text and f"本轮：{DAY1} 起" in text
        lines = {one_space(line).strip() for line in text.splitlines()}
        for (unit_level, district, street, community, site), figures in expected.items():
            name = {"site": f"{site} {names.get(site, '')}", "community": community,
                    "street": street, "district": district, "total": "合计"}[unit_level]
            if unit_level not in (level, "total"):
                continue
            printed = [k for k in FIGURES if level != "site" or k not in COVERAGE]
            line = " ".join([name, *(str(figures[k]) for k in printed if figures[k] != "")])
            assert line in lines, (page, line)
    for text in (pdf_text(pdf), *xlsx_texts(xlsx)):
        assert personal_data_in(text) == []
        for n in {n for t in ALL for n in t.people}:
            p = person(n)
            assert not [v for v in (p.id_number, p.name, p.phone, p.address, p.card_address)
                        if v in text], n


def xlsx_texts(path: Path) -> list[str]:
    """Every part of the workbook as text (an xlsx is a zip of XML)."""
    with zipfile.ZipFile(path) as book:
        return [book.read(name).decode("utf-8") for name in book.namelist()]


def test_what_the_brief_is_asked_wrongly_is_said_and_nothing_written(
        round_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "brief.xlsx"
    capsys.readouterr()
    assert main(["report", "brief", "--db", round_db, "--at", f"{DAY2} 15:00"]) == 2
    assert "brief needs --sites FILE" in capsys.readouterr().err
    status, _, err = brief(round_db, tmp_path, capsys, "--day", DAY2)
    assert status == 2 and "its day is --at's" in err
    status, _, err = brief(round_db, tmp_path, capsys, "--site", "S01")
    assert status == 2 and "leave out --site" in err
    capsys.readouterr()
    assert main(["report", "brief", "--db", round_db, "--sites",
                 str(write_sites(tmp_path / "sites.csv")), "--from", "2026-12-05",
                 "--at", f"{DAY2} 15:00", "--format", "xlsx", "--output", str(out)]) == 2
    assert "--from 2026-12-05 is after --at's day 2026-12-04" in capsys.readouterr().err
    assert not out.exists()


def test_a_site_straight_under_its_street_is_shown_so_on_paper(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A level the sites file leaves empty is named as such on every page, never blank."""
    db = str(tmp_path / "central.db")
    store = open_store(db)
    play(store)
    store.close()
    sites = tmp_path / "sites.csv"
    sites.write_text("site,name,community,street,district\nS01,幸福社区东门,,长安街道,东城区\n"
                     "S02,和平广场,和平社区,长安街道,东城区\n", encoding="utf-8")
    output = tmp_path / "brief.xlsx"
    capsys.readouterr()
    assert main(["report", "brief", "--db", db, "--sites", str(sites), "--from", DAY1,
                 "--at", f"{DAY2} 15:00", "--format", "xlsx", "--output", str(output)]) == 0
    book = load_workbook(output)
    first = {str(row[0]) for sheet in book.worksheets
             for row in sheet.iter_rows(min_row=5, values_only=True)}
    assert {"（未填）（长安街道，东城区）", "（未填）", "和平社区", "长安街道（东城区）",
            "未登记站点", "合计"} <= first
    assert "" not in first and "None" not in first
