"""A city's roster read in workers, whole or in parts (coverage_apart.py), counts as the
roster read here and counted person by person (tests/central/coverage_folded.py over
coverage_roster.people): the same rows, with and without central's key, the same rows
flagged on standard error, the same refusal wherever the parts are cut; through `report
coverage`, a roster refused in a worker leaves the document index unwritten; a worker
killed is said, not waited for."""

from __future__ import annotations

from pathlib import Path

import pytest

from central.cli import main
from central.errors import CentralError
from central.reports import coverage_apart
from central.reports.coverage_apart import RosterApart
from central.reports.coverage_columns import communities
from central.reports.coverage_roster import UNPLACED, people
from central.reports.document_key import DocumentKey
from central.reports.opening import Persons
from central.reports.roster_file import RosterRefused
from central.reports.sampled import Found
from central.reports.sites import Sites, read_sites
from central.store.open import open_store
from tests.central import round_days
from tests.central.coverage_folded import counted
from tests.central.round_days import DAY1, ROSTER
from tests.central_keys import key_pair
from tests.people import nth_person

PRIVATE = key_pair()[0]


def a_roster(path: Path) -> Path:
    """Households of two buildings, groups in one cell (a group of one household from
    two people given different groups), a ragged row, a lost number."""
    n = [nth_person(i) for i in range(1, 7)]
    path.write_text("社区,楼栋,户号,身份证号,人群分类\n"
                    f"光明社区,3栋,301,{n[0]},老年人、重点行业\n"
                    f"光明社区,3栋,301,{n[1]},老年人\n"
                    f"光明社区,3栋,302,{n[2]}\n"
                    f"光明社区,4栋,401,{n[3]},重点行业、老年人\n"
                    "光明社区,4栋,401,1.10101E+17,儿童\n"
                    f"和平社区,1栋,,{n[4]},老年人\n"
                    f"和平社区,1栋,101,{n[5]},\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("parts", [1, 2, 3])
@pytest.mark.parametrize("keyed", [True, False])
def test_the_workers_rows_are_the_rows_read_here(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, keyed: bool, parts: int) -> None:
    """Read whole by one worker, or cut in two or three parts (a household, a building,
    a community across a cut), with the sites file placing one community and not the
    other: the rows, and what is said, once."""
    roster = a_roster(tmp_path / "名单.csv")
    sites = tmp_path / "sites.csv"
    sites.write_text("站点,社区,街道,区\nS1,光明社区,东街道,南区\n", encoding="utf-8")
    placed = read_sites(sites)
    key = DocumentKey.of_files([PRIVATE]) if keyed else None
    found = Found(Persons(), key)
    found.found = {found.of(nth_person(i)) for i in (1, 3, 5, 30)}
    here = counted(people(roster, "", placed), found)
    said_here = [(r.levelno, r.getMessage()) for r in caplog.records]
    caplog.clear()
    with RosterApart(roster, "", placed, [PRIVATE] if keyed else None,
                     parts=parts) as apart:
        assert apart.counted(found) == here
        assert len(apart.readers) == parts
    assert "1 row whose ID number is not valid (row 6)" in said_here[0][1]
    assert "1 community of the roster not in" in said_here[1][1]   # 和平社区
    # said once, in this process, as the read here says it
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == said_here
    # The brief's: its workers read each person's community alone
    with RosterApart(roster, "", placed, [PRIVATE] if keyed else None, parts=parts,
                     shape=communities) as apart:
        assert apart.by_community(found) == {("南区", "东街道", "光明社区"): (5, 2),
                                             (UNPLACED, UNPLACED, "和平社区"): (2, 1)}


@pytest.mark.parametrize("parts", [1, 2, 3])
@pytest.mark.parametrize(("again", "lines"), [
    ({2: 1}, "lines 3 and 4"),           # in the first part
    ({7: 0}, "lines 2 and 9"),           # the first part's number again in the last
    ({8: 6}, "lines 8 and 10"),          # both in the last part
    ({7: 1, 9: 8}, "lines 3 and 9")])    # in two parts, then again within the last
def test_a_roster_refused_in_the_workers_is_refused_as_here(
        tmp_path: Path, parts: int, again: dict[int, int], lines: str) -> None:
    """A number given twice, wherever the cuts fall: the refusal a read in one gives,
    naming the first number given again (a lost number twice is not refused)."""
    numbers = [nth_person(i) for i in range(1, 9)]
    numbers[4:4] = ["1.10101E+17", "1.10101E+17"]   # lines 6 and 7
    for at, of in again.items():
        numbers[at] = numbers[of]
    roster = tmp_path / "名单.csv"
    roster.write_text("社区,楼栋,户号,身份证号\n" + "".join(
        f"光明社区,{i // 3}栋,{i},{n}\n" for i, n in enumerate(numbers)), encoding="utf-8")
    with pytest.raises(RosterRefused) as here:
        people(roster)
    assert lines in str(here.value)
    with RosterApart(roster, "", Sites(), [PRIVATE], parts=parts) as apart, \
            pytest.raises(RosterRefused) as apart_:
        apart.checked()
    assert str(apart_.value) == str(here.value)


def test_a_roster_with_a_quote_is_read_whole_by_one_of_the_workers(tmp_path: Path) -> None:
    """A quoted cell may hold a line end, so such a roster is not cut: the first worker
    reads it all (the row with the line end counted as one person)."""
    roster = a_roster(tmp_path / "名单.csv")
    text = roster.read_text(encoding="utf-8").replace("光明社区,4栋,401,", '光明社区,"4\n栋",401,')
    roster.write_text(text, encoding="utf-8")
    found = Found(Persons(), None)
    found.found = {nth_person(4)}
    with RosterApart(roster, "", Sites(), None, parts=3) as apart:
        assert len(apart.readers) == 1   # no second worker to find nothing to read
        assert apart.counted(found) == counted(people(roster), found)
        assert apart.checked().buildings[-2:] == [("（未填）", "（未填）", "光明社区", "4\n栋"),
                                                  ("（未填）", "（未填）", "和平社区", "1栋")]


def test_a_refused_city_roster_writes_nothing_to_the_index(
        central_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Every roster read in the worker (as a city's is); a cold report with a number
    given twice: refused by its line, and the index was never made. Without the key the
    roster's refusal still comes first, as when the roster is read before the events."""
    db = round_days.played(central_db)
    monkeypatch.setattr(coverage_apart, "APART_BYTES", 0)
    numbers = [r.id_number for r in ROSTER]
    roster = tmp_path / "名单.csv"
    roster.write_text("社区,楼栋,户号,身份证号\n" + "".join(
        f"幸福社区,1栋,101,{n}\n" for n in [*numbers, numbers[0]]), encoding="utf-8")
    out = tmp_path / "coverage.csv"
    assert main(["report", "coverage", "--db", db, "--day", DAY1, "--roster", str(roster),
                 "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"lines 2 and {len(numbers) + 2}" in err and "--private-key" not in err
    assert main(["report", "coverage", "--db", db, "--private-key", str(PRIVATE),
                 "--day", DAY1, "--roster", str(roster), "--output", str(out)]) == 1
    assert f"lines 2 and {len(numbers) + 2}" in capsys.readouterr().err
    assert not out.exists()
    store = open_store(db)
    try:
        assert store.indexed_under() == ""
    finally:
        store.close()


def test_a_reader_killed_midway_is_said_not_waited_for(tmp_path: Path) -> None:
    """The worker killed (as the kernel kills one out of memory): the report ends saying
    so, instead of waiting for an answer that never comes."""
    roster = a_roster(tmp_path / "名单.csv")
    with RosterApart(roster, "", Sites(), [PRIVATE]) as apart:
        apart.readers[0].process.kill()
        with pytest.raises(CentralError, match=r"the roster's reader stopped without an "
                                               r"answer \(exit code -9\)"):
            apart.checked()


def test_a_roster_the_worker_cannot_read_is_said_as_if_read_here(
        central_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """An OSError in the worker (a folder given for the roster) is raised here, naming
    the path, as a roster read here says it."""
    monkeypatch.setattr(coverage_apart, "APART_BYTES", 0)
    db = round_days.played(central_db)
    folder = tmp_path / "名单.csv"
    folder.mkdir()
    assert main(["report", "coverage", "--db", db, "--private-key", str(PRIVATE), "--day",
                 DAY1, "--roster", str(folder), "--output", str(tmp_path / "c.csv")]) == 1
    err = capsys.readouterr().err
    assert "Is a directory" in err and str(folder) in err, err


@pytest.mark.parametrize("parts", [1, 2])
def test_a_number_twice_before_another_refusal_is_the_one_said(tmp_path: Path,
                                                               parts: int) -> None:
    """The workers read without the duplicates' dict: a number given twice (lines 2 and
    3) before a community the sites file puts under two streets (line 5) is still the
    refusal said, as a read in one says it, wherever the roster is cut."""
    n = [nth_person(i) for i in range(1, 5)]
    roster = tmp_path / "名单.csv"
    roster.write_text("社区,楼栋,户号,身份证号\n"
                      f"和平社区,1栋,101,{n[0]}\n和平社区,1栋,101,{n[0]}\n"
                      f"和平社区,1栋,102,{n[1]}\n光明社区,2栋,201,{n[2]}\n"
                      f"光明社区,2栋,202,{n[3]}\n", encoding="utf-8")
    sites = tmp_path / "sites.csv"
    sites.write_text("站点,社区,街道,区\nS1,光明社区,东街道,南区\nS2,光明社区,西街道,南区\n",
                     encoding="utf-8")
    placed = read_sites(sites)
    with pytest.raises(RosterRefused) as here:
        people(roster, "", placed)
    assert "lines 2 and 3" in str(here.value)
    with RosterApart(roster, "", placed, [PRIVATE], parts=parts) as apart, \
            pytest.raises(RosterRefused) as apart_:
        apart.checked()
    assert str(apart_.value) == str(here.value)
