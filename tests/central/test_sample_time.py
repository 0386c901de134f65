"""One time per sample: a station whose clock was never set (fake-hwclock left it at 20
November) has its samples timed by when central received them, and every report that
prints a sample's time prints that same time and says whose clock it is (时间来源,
`time_source`). On SQLite and on a real PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest

from central.cli import main
from central.reports.catalogue import REPORTS
from central.store.open import open_store
from contract.events import SampleRegistered, TubeOpened, TubeSealed
from tests.lane_days import Lane, person, shanghai

TODAY = "2026-12-04"
RECEIVED = shanghai(TODAY, 10)
STATION_CLOCK = dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.UTC)   # the unset clock
CARDS = {"FORM-3": person(3).id_number}
OWN_TIMES = ("manifest",)   # times of its own, with their source
TIMED = ("register", "forms", "positives", "followup", "results", "resample")   # with a sample time


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Lane a (clock set) sampled person 1 at 08:01; lane c (clock unset) sampled person 2
    in tube F1 and took person 3's paper card (data not typed yet) in F2, received at
    10:00. Tubes A1 and F1 tested positive today."""
    target = (str(tmp_path / "central.db") if request.param == "sqlite"
              else str(request.getfixturevalue("pg_db")))
    store = open_store(target)
    a, c = Lane("s1", "a"), Lane("s1", "c", clock_synced=False)
    a.tube("A1", [person(1)], shanghai(TODAY, 8))
    at = c.tube("F1", [person(2)], STATION_CLOCK)
    c.add(TubeOpened("F2", 1), at)
    c.add(SampleRegistered("F2", 1, "form", person(3), False, form="FORM-3"), at)
    c.add(TubeSealed("F2", 1, "full"), at)
    a.deliver(store, shanghai(TODAY, 9))
    c.deliver(store, RECEIVED)
    store.close()
    lis = tmp_path / "lis.csv"
    lis.write_text("tube,result,lab,tested_at\nA1,阳性,市一院,2026-12-04 14:00\n"
                   "F1,阳性,市一院,2026-12-04 14:00\n", encoding="utf-8")
    assert main(["import-results", str(lis), "--db", target]) == 0
    return target


def rows_of(db: str, name: str, columns: str, capsys: pytest.CaptureFixture[str]) -> list[
        dict[str, str]]:
    capsys.readouterr()
    assert main(["report", name, "--db", db, "--day", TODAY, "--columns", columns,
                 "--no-mark"]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))


def test_every_report_that_prints_a_sample_time_declares_its_source() -> None:
    for name, report in REPORTS.items():
        keys = [key for key, _ in report.columns]
        # The manifest prints a box's own times (sealed, closed, handed over), not a
        # sample's: it says whose clock they are without a sample time.
        assert ("time" in keys) is ("time_source" in keys) or name in OWN_TIMES, name
        assert "time_source" in keys or name not in OWN_TIMES, name
        assert ("time" in report.keys) is ("time_source" in report.keys) or \
            name in OWN_TIMES, name
    assert {name for name, r in REPORTS.items() if "time" in r.keys} == set(TIMED)


def test_every_report_gives_a_sample_one_time_and_its_source(
        db: str, capsys: pytest.CaptureFixture[str]) -> None:
    seen: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for name in TIMED:
        for columns, (who, time, source) in (("en", ("id_number", "time", "time_source")),
                                             ("zh", ("证件号码", "采样时间", "时间来源"))):
            for row in rows_of(db, name, columns, capsys):
                # forms names the card, not the person
                number = row.get(who) or CARDS[row.get("form") or row["信息卡编号"]]
                seen.setdefault((columns, number), set()).add((row[time], row[source]))
    local = {person(1).id_number: ("2026-12-04 08:01:00", "采样台时钟"),
             person(2).id_number: ("2026-12-04 10:00:00", "中心接收（台钟未校准）"),
             person(3).id_number: ("2026-12-04 10:00:00", "中心接收（台钟未校准）")}
    for number, shown in local.items():
        assert seen[("zh", number)] == {shown}, number
    unset = seen[("en", person(2).id_number)]
    assert len(unset) == 1 and next(iter(unset))[1] == "central"
    assert seen[("en", person(1).id_number)] == {("2026-12-04T00:01:00.000Z", "station")}


def test_the_manifest_gives_each_time_the_source_of_its_own_event(
        central_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Lane c sealed U1 before its clock was set, K1 after; then closed and handed over
    box B1: U1's sealing is central's time, the rest the station's."""
    store = open_store(central_db)
    c = Lane("s1", "c", clock_synced=False)
    c.tube("U1", [person(1)], STATION_CLOCK)
    c.clock_synced = True
    at = c.tube("K1", [person(2)], shanghai(TODAY, 9))
    c.box("B1", {"U1": 1, "K1": 1}, at, courier="C01")
    c.deliver(store, RECEIVED)
    store.close()
    capsys.readouterr()
    assert main(["report", "manifest", "--box", "B1", "--db", central_db, "--columns",
                 "en"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))
    assert [(r["tube"], r["sealed_at"], r["sealed_source"], r["time_source"],
             r["dispatched_source"]) for r in rows] == [
        ("U1", "2026-12-04T02:00:00.000Z", "central", "station", "station"),
        ("K1", "2026-12-04T01:02:00.000Z", "station", "station", "station")]
    assert main(["report", "manifest", "--box", "B1", "--db", central_db]) == 0
    zh = list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))
    assert [(r["封管时间来源"], r["装箱时间来源"], r["交接时间来源"]) for r in zh] == [
        ("中心接收（台钟未校准）", "采样台时钟", "采样台时钟"),
        ("采样台时钟", "采样台时钟", "采样台时钟")]
