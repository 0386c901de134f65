"""Reports by day: a campaign repeats its rounds, so a register, a 待补采 list and totals
are of a day (the sites' local day) or a period, never of all time. On SQLite and on a
real PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from central.cli import main
from central.reports.period import period
from central.reports.progress import Progress
from central.store.event_store import EventStore
from central.store.open import open_store
from tests.lane_days import Lane, person, shanghai
from tests.people import nth_person

YESTERDAY, TODAY = "2026-12-03", "2026-12-04"


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "central.db")
    return str(request.getfixturevalue("pg_db"))


@pytest.fixture
def two_days(target: str) -> Iterator[str]:
    """Yesterday lane a sampled people 1-6; a tube of lane b took person 9 at 23:59 and
    was sealed after midnight. Today lane a sampled 1, 2 and 7, lane b 8, and lane c,
    whose clock fake-hwclock left at 20 November, sampled 10, received today at 10:00."""
    store: EventStore = open_store(target)
    a, b, c = Lane("s1", "a"), Lane("s1", "b"), Lane("s1", "c", clock_synced=False)
    a.tube("Y1", [person(n) for n in range(1, 6)], shanghai(YESTERDAY, 9))
    a.tube("Y2", [person(6)], shanghai(YESTERDAY, 10))
    b.tube("Y3", [person(9)], shanghai(YESTERDAY, 23, 58))
    a.tube("D1", [person(1), person(2), person(7)], shanghai(TODAY, 8))
    b.tube("D2", [person(8)], shanghai(TODAY, 9))
    c.tube("F1", [person(10)], dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.UTC))
    for lane in (a, b):
        lane.deliver(store, shanghai(TODAY, 9, 30))
    c.deliver(store, shanghai(TODAY, 10))
    store.close()
    yield target


def report(target: str, name: str, *args: str, capsys: pytest.CaptureFixture[str]) -> list[
        dict[str, str]]:
    assert main(["report", name, "--db", target, *args]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))


def roster(tmp_path: Path) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text("id_number,name\n" + "".join(f"{nth_person(n)},测试{n}\n"
                                                 for n in range(1, 13)), encoding="utf-8")
    return path


def test_missing_lists_todays_absentees_even_those_sampled_yesterday(
        two_days: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = report(two_days, "missing", "--roster", str(roster(tmp_path)), "--day", TODAY,
                  "--columns", "en", capsys=capsys)
    assert sorted(r["name"] for r in rows) == sorted(f"测试{n}" for n in (3, 4, 5, 6, 9, 11, 12))
    rows = report(two_days, "missing", "--roster", str(roster(tmp_path)), "--day", YESTERDAY,
                  "--columns", "en", capsys=capsys)
    assert sorted(r["name"] for r in rows) == sorted(f"测试{n}" for n in (7, 8, 10, 11, 12))
    # A round of both days: whoever came on either.
    rows = report(two_days, "missing", "--roster", str(roster(tmp_path)), "--from", YESTERDAY,
                  "--to", TODAY, "--columns", "en", capsys=capsys)
    assert sorted(r["name"] for r in rows) == ["测试11", "测试12"]


def test_the_register_of_a_day_holds_that_days_people_only(
        two_days: str, capsys: pytest.CaptureFixture[str]) -> None:
    rows = report(two_days, "register", "--day", TODAY, "--columns", "en", capsys=capsys)
    assert sorted(r["name"] for r in rows) == [f"测试{n}" for n in (1, 10, 2, 7, 8)]
    rows = report(two_days, "register", "--day", YESTERDAY, "--columns", "en", capsys=capsys)
    assert sorted(r["name"] for r in rows) == sorted(f"测试{n}" for n in (1, 2, 3, 4, 5, 6, 9))
    # The tube opened before midnight and sealed after it: sealed, in yesterday's register.
    (late,) = report(two_days, "register", "--day", YESTERDAY, capsys=capsys)[-1:]
    assert late["试管编号"] == "Y3" and late["封管时间"] == "2026-12-04 00:00:00"


def test_an_event_from_an_unset_clock_is_placed_by_when_central_received_it(
        two_days: str, capsys: pytest.CaptureFixture[str]) -> None:
    rows = report(two_days, "register", "--day", TODAY, capsys=capsys)
    (unset,) = [r for r in rows if r["姓名"] == "测试10"]
    assert unset["采样时间"] == "2026-12-04 10:00:00"
    assert unset["时间来源"] == "中心接收（台钟未校准）"
    assert {r["时间来源"] for r in rows if r["姓名"] != "测试10"} == {"采样台时钟"}
    # Not on the day its clock showed.
    assert report(two_days, "register", "--day", "2026-11-21", capsys=capsys) == []


def test_totals_count_the_days_tubes_and_people(two_days: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    rows = report(two_days, "totals", "--day", TODAY, "--columns", "en", capsys=capsys)
    hours = [r for r in rows if r["level"] == "hour"]
    assert sum(int(r["people"]) for r in hours) == 5 == int(rows[-1]["people"])
    # D1, D2, F1, and Y3 sealed at 00:00
    assert sum(int(r["tubes"]) for r in hours) == 4 == int(rows[-1]["tubes"])
    rows = report(two_days, "totals", "--day", YESTERDAY, "--columns", "en", capsys=capsys)
    assert (rows[-1]["level"], rows[-1]["people"], rows[-1]["tubes"]) == ("day", "7", "2")


def test_a_wrong_day_is_named(two_days: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "register", "--db", two_days, "--day", "2026-13-01"]) == 1
    assert "--day '2026-13-01'" in capsys.readouterr().err
    assert main(["report", "register", "--db", two_days, "--from", TODAY, "--to",
                 YESTERDAY]) == 1
    assert "before --from" in capsys.readouterr().err


def test_the_default_is_the_sites_today() -> None:
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    late_utc = dt.datetime(2026, 12, 3, 17, 0, tzinfo=dt.UTC)   # 01:00 the 4th in Shanghai
    span = period(None, None, None, ZoneInfo("Asia/Shanghai"), late_utc)
    assert str(span) == TODAY and span.bounds == ("2026-12-03T16:00:00.000Z",
                                                  "2026-12-04T16:00:00.000Z")


def test_a_long_report_on_a_terminal_shows_progress_and_a_count() -> None:
    out = io.StringIO()
    progress = Progress("report register", out, live=True)
    for _ in progress.counted(range(10_000)):
        pass
    progress.done(3)
    assert out.getvalue().endswith("report register: 3 rows from 10,000 events in 0.0 s\n")
    quiet = io.StringIO()
    done = Progress("report register", quiet, live=False)
    list(done.counted(range(5)))
    done.done(5)
    assert quiet.getvalue() == "report register: 5 rows from 5 events in 0.0 s\n"


def test_a_report_read_in_blocks_counts_their_events() -> None:
    out = io.StringIO()
    progress = Progress("report coverage", out, live=True)
    progress._shown -= 5   # a second and more since the last showing
    assert list(progress.counted_blocks([[1, 2], [3], []])) == [[1, 2], [3], []]
    progress.done(7)
    shown = out.getvalue()
    assert shown.startswith("\rreport coverage: 2 events read")
    assert shown.endswith("report coverage: 7 rows from 3 events in 0.0 s\n")
