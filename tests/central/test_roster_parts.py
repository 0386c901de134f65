"""A roster cut in parts (roster_file.split_rows, for coverage's readers at once): the
parts' rows, in order, are the rows read in one, each numbered as the whole numbers it,
whatever its line ends (Excel's \r\n, \n, an old \r, mixed), title rows above the header,
blank rows, a last row with no line end, more parts than rows; a roster with a quote is
never cut, nor an xlsx."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from central.reports.roster_file import read

cells = st.lists(st.text(st.sampled_from("光明社区1栋0X 9"), max_size=6), min_size=0,
                 max_size=4)
ends = st.sampled_from(["\n", "\r\n", "\r"])


def rows_of(path: Path, part: tuple[int, int] = (0, 1)) -> list[tuple[int, list[str]]]:
    return list(read(path, "", part).rows)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(cells, ends), max_size=30),
       st.tuples(st.integers(0, 2), st.integers(1, 5), ends, st.booleans()))
def test_the_parts_rows_are_the_rows_read_in_one(
        tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[list[str], str]],
        layout: tuple[int, int, str, bool]) -> None:
    """`layout`: title rows, parts, the header's line end, whether the last row has one."""
    titles, parts, header_end, last_ended = layout
    folder = tmp_path_factory.mktemp("parts")
    text = "".join(f"名单{t}{header_end}" for t in range(titles)) + "社区,身份证号" + header_end
    text += "".join(",".join(row) + end for row, end in rows)
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
