"""`report totals` (central/reports/totals.py) over a round of two days at two
communities (tests/central/round_days.py), on SQLite and PostgreSQL: a tube voided after
sealing is never counted sealed; each day summed at every level with its running total;
a total line; and every figure what the register and reconcile say of the same events
and what the round's plan says, computed here from the plan."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import pytest
from openpyxl import load_workbook

from central.cli import main
from central.reports.sites import UNKNOWN
from tests.central import round_days
from tests.central.round_days import DAY1, DAY2, DAYS, SITES, UNREGISTERED
from tests.central_keys import key_pair

ROUND = ["--from", DAY1, "--to", DAY2]
CHAIN = {s.id: (s.community, s.street, s.district) for s in SITES} | {
    UNREGISTERED: (UNKNOWN, UNKNOWN, UNKNOWN)}


@pytest.fixture
def round_db(central_db: str) -> str:
    return round_days.played(central_db)


def rows_of(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, str]]:
    assert main(["report", *args]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))


def figures(row: dict[str, str], running: bool = False) -> tuple[int, int, int]:
    keys = ("people", "tubes", "boxes")
    return tuple(int(row[f"{k}_to_date" if running else k]) for k in keys)  # type: ignore[return-value]


def expected(days: tuple[str, ...], member: str = "", level: int = -1) -> tuple[int, int, int]:
    """What the plan says of `days` for the sites whose chain holds `member` at `level`
    (0 community, 1 street, 2 district; -1: the site itself; "" every site)."""
    chosen = [s for s in CHAIN if not member
              or (s if level < 0 else CHAIN[s][level]) == member]
    return (sum(round_days.registered(days).get(s, 0) for s in chosen),
            sum(round_days.sealed(days).get(s, 0) for s in chosen),
            sum(round_days.boxed(days).get(s, 0) for s in chosen))


def test_a_round_summed_at_every_level_with_running_totals(
        round_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    sites = round_days.write_sites(tmp_path / "sites.csv")
    rows = rows_of(capsys, "totals", "--db", round_db, *ROUND, "--sites", str(sites),
                   "--columns", "en")
    assert f"1 site not in {sites}, summed as {UNKNOWN}: {UNREGISTERED}" in caplog.text
    levels = {"site": -1, "community": 0, "street": 1, "district": 2}
    for n, day in enumerate(DAYS):
        so_far = DAYS[:n + 1]
        for level, at in levels.items():
            found = {r[level]: r for r in rows if r["level"] == level and r["day"] == day}
            names = {s if at < 0 else CHAIN[s][at] for s in CHAIN}
            assert set(found) == names, (level, day)   # every unit, every day
            for name, row in found.items():
                assert figures(row) == expected((day,), name, at), (level, name, day)
                assert figures(row, True) == expected(so_far, name, at), (level, name, day)
        (total,) = [r for r in rows if r["level"] == "day" and r["day"] == day]
        assert figures(total) == expected((day,)) and figures(total, True) == expected(so_far)
        hours = [r for r in rows if r["level"] == "hour" and r["day"] == day]
        assert tuple(sum(int(r[k]) for r in hours) for k in ("people", "tubes", "boxes")) \
            == expected((day,))
    assert rows[-1]["level"] == "total" and figures(rows[-1]) == expected(DAYS) == (19, 10, 9)
    # The unregistered site's chain is said, never dropped; S01/b sealed R1T03 and voided it.
    assert {r["community"] for r in rows if r["site"] == UNREGISTERED} == {UNKNOWN}
    (s01b,) = [r for r in rows if r["level"] == "hour" and r["station"] == "b"
               and r["hour"].startswith("2026-12-03T01")]
    assert figures(s01b) == (1, 1, 0)   # R1T04 only: R1T03 was voided after sealing


def test_each_figure_is_the_register_s_and_reconcile_s(
        round_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    key = ["--private-key", str(key_pair()[0])]
    for days in (["--day", DAY1], ["--day", DAY2], ROUND):
        totals = rows_of(capsys, "totals", "--db", round_db, *days, "--columns", "en")
        register = rows_of(capsys, "register", "--db", round_db, *days, *key,
                           "--columns", "en")
        found = rows_of(capsys, "reconcile", "--db", round_db, *days, "--columns", "en")
        boxes = [r for r in found if r["what"].startswith("box ")]
        valid = [r for r in register if r["status"] == "registered"]
        total = totals[-1]
        assert int(total["people"]) == len(valid) == sum(int(b["register_samples"])
                                                         for b in boxes)
        assert int(total["tubes"]) == len({(r["station"], r["tube"]) for r in valid}) \
            == sum(int(b["tubes"]) for b in boxes)
        assert int(total["boxes"]) == len(boxes)
        by_site: Counter[str] = Counter()
        for row in totals:
            if row["level"] == "site":
                by_site[row["site"]] += int(row["people"])
        assert +by_site == Counter(r["site"] for r in valid)


def test_the_printed_totals_in_chinese(round_db: str, tmp_path: Path) -> None:
    sites = round_days.write_sites(tmp_path / "sites.toml")
    book = tmp_path / "totals.xlsx"
    assert main(["report", "totals", "--db", round_db, *ROUND, "--sites", str(sites),
                 "--format", "xlsx", "--output", str(book)]) == 0
    cells = list(load_workbook(book).worksheets[0].iter_rows(values_only=True))
    header = cells[3]
    assert header[:3] == ("层级", "日期", "采样点") and "累计采样人数" in header
    shown = [dict(zip(header, row, strict=True)) for row in cells[4:] if row[0]]
    assert shown[-1]["层级"] == "合计" and shown[-1]["采样人数"] == 19
    districts = {r["区"]: r["累计采样人数"] for r in shown
                 if r["层级"] == "区" and r["日期"] == DAY2}
    assert districts == {"东城区": 16, "西城区": 2, UNKNOWN: 1}


def test_without_a_sites_file_the_levels_above_the_site_stay_off_the_page(
        round_db: str, tmp_path: Path) -> None:
    book = tmp_path / "totals.xlsx"
    assert main(["report", "totals", "--db", round_db, "--day", DAY1, "--format", "xlsx",
                 "--output", str(book)]) == 0
    sheet = load_workbook(book).worksheets[0]
    header = [c.value for c in sheet[4]]
    hidden = {name for n, name in enumerate(header)
              if sheet.column_dimensions[chr(ord("A") + n)].hidden}
    assert hidden == {"社区", "街道", "区"}
