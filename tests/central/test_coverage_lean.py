"""The roster read lean (coverage_roster.people: each row's cells picked at once, the
places interned) reads what the roster's table says cell by cell (Table.value), however
ragged its rows; and the document index's digest, keyed once and copied for each number,
is the plain HMAC-SHA256 of the number under the derived key."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from central.reports.coverage_roster import UNGROUPED, UNPLACED, Person, people, valid
from central.reports.document_key import DIGEST_BYTES, INFO, DocumentKey
from central.reports.roster_file import read
from tests.people import nth_person


def cell_by_cell(roster: Path) -> list[Person]:
    """The roster's people as its table gives each cell, stripped, one field at a time."""
    table = read(roster)
    out: list[Person] = []
    for _, cells in table.rows:
        if not any(c.strip() for c in cells):
            continue
        number = table.value(cells, "id_number").upper()
        place = [table.value(cells, f) for f in ("community", "building", "household")]
        text = table.value(cells, "group")
        out.append((number, (UNPLACED, UNPLACED, place[0] or UNPLACED, place[1] or UNPLACED,
                             place[2]), tuple(text.split("、")) if text else (UNGROUPED,),
                    not valid(number)))
    return out


def test_ragged_rows_read_as_their_cells_say(tmp_path: Path) -> None:
    """Rows cut short (a spreadsheet drops trailing empty cells), places spaced apart,
    a row with no number (on the roster, never tested) and a blank row (passed over)."""
    a, b, c, d = (nth_person(n) for n in (1, 2, 3, 4))
    roster = tmp_path / "名单.csv"
    roster.write_text("身份证号,社区,楼栋,户号,人群分类\n"
                      f"{a},光明社区,3栋,301,老年人、儿童\n"
                      f"{b}, 光明社区 ,3栋 ,301\n"
                      f"{c},光明社区\n"
                      f"{d}\n"
                      ",,,,\n"
                      ",光明社区,3栋,302,儿童\n", encoding="utf-8")
    lean = people(roster)
    assert lean == cell_by_cell(roster)
    assert [p[1] for p in lean[:2]] == [(UNPLACED, UNPLACED, "光明社区", "3栋", "301")] * 2
    assert lean[0][1] is lean[1][1]   # one tuple for the places however spaced
    assert lean[2][1][3:] == (UNPLACED, "") and lean[3][1][2] == UNPLACED
    assert [p[3] for p in lean] == [False, False, False, False, True]


def test_the_digest_is_the_plain_hmac_of_the_number_under_the_derived_key() -> None:
    secret = b"central's private keys, joined"
    key = DocumentKey(secret)
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(secret)
    numbers = [nth_person(n) for n in range(1, 6)] + ["g12345678", ""]
    for number in numbers * 2:   # each twice: nothing of one number stays for the next
        assert key.digest(number) == hmac.digest(
            derived, number.upper().encode(), hashlib.sha256)[:DIGEST_BYTES]
