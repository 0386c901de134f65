"""A roster cut in parts (roster_file.split_rows, for coverage's readers at once): the
parts' rows, in order, are the rows read in one, each numbered as the whole numbers it,
whatever its line ends (Excel's \r\n, \n, an old \r, mixed), title rows above the header,
blank rows, a last row with no line end, more parts than rows, NULs in cells, commas or
tabs between them (Excel's "Unicode text"); a roster with a quote is never cut, nor an
xlsx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from central.reports.coverage_roster import UNGROUPED, UNPLACED, read_part
from central.reports.roster_file import RosterRefused, read
from central.reports.sites import Sites
from tests.people import nth_person

cells = st.lists(st.text(st.sampled_from("光明社区1栋0X 9\x00"), max_size=6), min_size=0,
                 max_size=4)
ends = st.sampled_from(["\n", "\r\n", "\r"])


def rows_of(path: Path, part: tuple[int, int] = (0, 1)) -> list[tuple[int, list[str]]]:
    return list(read(path, "", part).rows)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(cells, ends), max_size=30),
       st.tuples(st.integers(0, 2), st.integers(1, 5), ends, st.booleans(),
                 st.sampled_from(",\t")))
def test_the_parts_rows_are_the_rows_read_in_one(
        tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[list[str], str]],
        layout: tuple[int, int, str, bool, str]) -> None:
    """`layout`: title rows, parts, the header's line end, whether the last row has one,
    the delimiter."""
    titles, parts, header_end, last_ended, comma = layout
    folder = tmp_path_factory.mktemp("parts")
    text = "".join(f"名单{t}{header_end}" for t in range(titles))
    text += f"社区{comma}身份证号{header_end}" + "".join(
        comma.join(row) + end for row, end in rows)
    if rows and not last_ended:
        text = text.rstrip("\r\n")
    path = folder / "名单.csv"
    path.write_bytes(text.encode("utf-8"))
    whole = rows_of(path)
    cut = [rows_of(path, (k, parts)) for k in range(parts)]
    assert [row for part in cut for row in part] == whole


def test_a_city_roster_is_cut_near_its_halves(tmp_path: Path) -> None:
    path = tmp_path / "名单.csv"
    path.write_text("XX社区核酸检测人员名单\r\n社区,身份证号\r\n" + "".join(
        f"光明社区,{n:018d}\r\n" for n in range(1000)), encoding="utf-8")
    first, second = rows_of(path, (0, 2)), rows_of(path, (1, 2))
    assert (first[0][0], first[-1][0], second[0][0], second[-1][0]) == (3, 502, 503, 1002)
    assert second[0][1] == ["光明社区", f"{500:018d}"]


def test_a_roster_with_a_quote_or_an_xlsx_is_not_cut(tmp_path: Path) -> None:
    quoted = tmp_path / "名单.csv"
    quoted.write_text('社区,身份证号\n"光明\n社区",1\n' + "光明社区,2\n" * 10, encoding="utf-8")
    assert len(rows_of(quoted, (0, 2))) == 11 and rows_of(quoted, (1, 2)) == []
    assert rows_of(quoted, (0, 2))[0] == (2, ["光明\n社区", "1"])
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [["社区", "身份证号"], *(["光明社区", str(n)] for n in range(10))]:
        sheet.append(row)
    book.save(tmp_path / "名单.xlsx")
    assert len(rows_of(tmp_path / "名单.xlsx", (0, 2))) == 10
    assert rows_of(tmp_path / "名单.xlsx", (1, 2)) == []


ids = st.sampled_from([nth_person(n) for n in range(1, 9)] + [
    "1.10101E+17", "", " ", nth_person(3).lower(), nth_person(4)[:17] + "0", "A1234567"])
kinds = st.sampled_from(["", "居民身份证", "护照", " resident "])
places_ = st.sampled_from(["光明社区", "和平社区", " 光明社区 ", ""])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(ids, kinds, places_, st.sampled_from(["1栋", "2栋", ""]),
                          st.sampled_from(["101", "", "102"]),
                          st.sampled_from(["老年人", "儿童、老年人", "", " 儿童 "]),
                          st.integers(0, 6), ends), max_size=25),
       st.booleans(), st.integers(2, 4))
def test_a_roster_read_in_parts_reads_as_one(
        tmp_path_factory: pytest.TempPathFactory, drawn: list[tuple[Any, ...]],
        typed: bool, parts: int) -> None:
    """Read in parts (coverage_roster.read_part of each), a roster's people and lines
    flagged, joined, are those of a read in one, and a part's refusal is the whole's
    where it is the first part's; rows short of cells, blank, with or without a 证件类型
    column, numbers lost or given twice. Read by community alone, the same."""
    header = ["社区", "楼栋", "户号", "身份证号", "人群分类"] + (["证件类型"] if typed else [])
    text = ",".join(header) + "\n"
    for number, kind, community, building, household, group, width, end in drawn:
        cells = [community, building, household, number, group] + ([kind] if typed else [])
        text += ",".join(cells[:width] if width < len(cells) else cells) + end
    path = tmp_path_factory.mktemp("columns") / "名单.csv"
    path.write_bytes(text.encode("utf-8"))

    def outcome(part: tuple[int, int]) -> Any:
        try:
            read = read_part(path, "", Sites(), part)
        except RosterRefused as exc:
            return str(exc)
        return read.people, read.flagged, read.unplaced

    whole = outcome((0, 1))
    pieces = [outcome((k, parts)) for k in range(parts)]
    refused = [piece for piece in pieces if isinstance(piece, str)]
    if refused:   # a part's refusal is its first line's: the whole's, if in the first part
        assert isinstance(whole, str)
        assert isinstance(pieces[0], tuple) or pieces[0] == whole
        return
    people = [person for piece in pieces for person in piece[0]]
    flagged = [line for piece in pieces for line in piece[1]]
    if isinstance(whole, str):   # a number in two parts: the join looks for it
        assert len({p[0] for p in people if not p[3]}) < sum(not p[3] for p in people)
        return
    assert (people, flagged) == (whole[0], whole[1])
    # By community alone (the brief's), nothing given twice looked for (its workers look
    # among their digests): the same people, in no building, household or group.
    lean = [read_part(path, "", Sites(), (k, parts), twice=False, households=False)
            for k in range(parts)]
    assert [person for piece in lean for person in piece.people] == [
        (number, (*chain[:3], UNPLACED, ""), (UNGROUPED,), invalid)
        for number, chain, _, invalid in whole[0]]
    assert [line for piece in lean for line in piece.flagged] == whole[1]
