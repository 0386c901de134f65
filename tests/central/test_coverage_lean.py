"""The roster read lean (coverage_roster.people: each row's cells picked at once, the
places interned) reads what the roster's table says cell by cell (Table.value), however
ragged its rows; and the document index's digest is keyed BLAKE2b of the number under
the derived key, as OpenSSL computes it."""

from __future__ import annotations

import subprocess
from pathlib import Path

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


def test_the_digest_is_keyed_blake2b_of_the_number_as_openssl_computes_it() -> None:
    """HKDF-SHA256 (no salt, INFO) of the secret, then BLAKE2b-MAC of the upper-cased
    number, 16 bytes: OpenSSL's KDF and MAC, not this code's libraries."""
    secret = b"central's private keys, joined"
    key = DocumentKey(secret)
    derived = openssl("kdf", "-keylen", "32", "-kdfopt", "digest:SHA256", "-kdfopt",
                      f"hexkey:{secret.hex()}", "-kdfopt", f"hexinfo:{INFO.hex()}", "HKDF")
    numbers = [nth_person(n) for n in range(1, 6)] + ["g12345678", ""]
    for number in numbers * 2:   # each twice: nothing of one number stays for the next
        mac = openssl("mac", "-macopt", f"hexkey:{derived.replace(':', '').strip()}",
                      "-macopt", f"size:{DIGEST_BYTES}", "-in", "/dev/stdin", "BLAKE2BMAC",
                      data=number.upper().encode())
        assert key.digest(number).hex() == mac.strip().lower()
    assert key.check != DocumentKey(secret + b"!").check   # another key, another check


def openssl(*args: str, data: bytes = b"") -> str:
    return subprocess.run(["openssl", *args], input=data, capture_output=True,
                          check=True).stdout.decode()
