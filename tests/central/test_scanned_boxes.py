"""A box's tubes scanned out of it at the lab's desk (`receive --scanned`), held against
what its lane packed: custody names the tube missing, the tube extra and the one that
arrived in another box; the box's manifest for the lab, printed without a key, holds
nothing personal (#40). The lane day is tests/central/test_recall.py's: B1 holds P1 and
N1 (lane a), B2 holds I1 and S2 (lane b)."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest

from central.store.open import open_store
from contract.sealed import read_keys
from station.sealing import Sealer
from tests.central.test_lab_files import BOX, POOL, ZEROED, digits_day
from tests.central.test_recall import TODAY, csv_rows, day, run
from tests.central.test_sheets import pdf_text
from tests.central_keys import key_pair
from tests.conftest import personal_data_in
from tests.lane_days import Lane, person, shanghai
from tests.office import workbook

__all__ = ["day", "digits_day"]   # the lane days' fixtures, used by name
AT = ("--at", f"{TODAY} 12:00")


def scans(tmp_path: Path, name: str, *lines: str) -> str:
    path = tmp_path / name
    path.write_bytes("".join(f"{line}\r\n" for line in lines).encode())   # as a scanner types
    return str(path)


def custody(db: str, capsys: pytest.CaptureFixture[str]) -> dict[tuple[str, str], dict[
        str, str]]:
    rows = csv_rows(run("report", "custody", "--day", TODAY, "--columns", "en", "--db", db,
                        "--at", f"{TODAY} 20:00", capsys=capsys)[1])
    return {(r["kind"], r["id"] if r["kind"] != "tube" else f"{r['id']}@{r['packed_in']}>"
             f"{r['arrived_in']}"): r for r in rows}


def test_custody_names_the_tube_missing_and_the_one_from_another_box(
        day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """B1 arrives with P1 and S2 (N1 left behind, S2 packed in B2); B2 with I1 alone."""
    status, out, err = run("receive", "B1", "--lab", "市一院", *AT, "--db", day, "--scanned",
                           scans(tmp_path, "b1.txt", "P1", "", "S2", "P1", "B1"),
                           capsys=capsys)
    assert (status, out) == (0, "1 receipt stored\n")
    assert err.splitlines() == [
        f"receive: {tmp_path}/b1.txt:4: tube P1 scanned again (line 1): counted once",
        f"receive: {tmp_path}/b1.txt:5: the box's own label B1, passed over",
        "receive: WARNING: box B1: tube N1 was packed in it and not scanned out of it",
        "receive: WARNING: box B1: tube S2 scanned out of it was packed in box B2"]
    stdin = io.StringIO("I1\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", stdin)
        status, _, err = run("receive", "B2", "--lab", "市一院", *AT, "--db", day,
                             "--scanned", "-", capsys=capsys)
    assert status == 0 and "the slip says 2 tubes, the desk counted 1" in err
    found = custody(day, capsys)
    b1, b2 = found["box", "B1"], found["box", "B2"]
    assert (b1["problems"], b1["scanned_tubes"], b1["received_tubes"]) == (
        "missing; wrong_box", "2", "2")
    assert (b2["problems"], b2["scanned_tubes"]) == ("count; wrong_box", "1")
    tubes = {key[1]: row["problems"] for key, row in found.items() if key[0] == "tube"
             and row["problems"] != "not_dispatched"}
    assert tubes == {"N1@B1>": "missing",          # packed in B1, scanned out of no box
                     "S2@B2>B1": "wrong_box"}       # on B1's rows, and on B2's
    assert [r["station"] for k, r in found.items() if k == ("tube", "S2@B2>B1")] == ["b"]
    zh = csv_rows(run("report", "custody", "--day", TODAY, "--db", day, "--at",
                      f"{TODAY} 20:00", capsys=capsys)[1])
    assert {r["问题"] for r in zh if r["编号"] in ("N1", "S2")} == {
        "缺管：装箱而未扫到", "错箱：装箱与到达箱不同"}


def test_a_scan_and_a_count_must_agree_and_a_later_scan_completes_a_counted_box(
        day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run("receive", "B1", "--lab", "市一院", "--db", day, capsys=capsys)
    assert status == 2 and "give --tubes N (the tubes counted), or --scanned FILE" in err
    b1 = scans(tmp_path, "b1.txt", "P1", "N1")
    status, out, err = run("receive", "B1", "--lab", "市一院", "--tubes", "3", "--scanned", b1,
                           "--db", day, capsys=capsys)
    assert (status, out) == (1, "")
    assert f"--tubes 3, but 2 tubes scanned in {b1}: count the box, or scan it, again" in err
    assert run("receive", "B1", "--lab", "市一院", "--tubes", "2", "--db", day,
               capsys=capsys)[:2] == (0, "1 receipt stored\n")
    assert run("receive", "B1", "--lab", "市一院", "--scanned", b1, "--db", day,
               capsys=capsys)[:2] == (0, "1 receipt stored\n")   # the scan, added
    assert run("receive", "B1", "--lab", "市一院", "--scanned", b1, "--db", day,
               capsys=capsys)[:2] == (0, "0 receipt stored, 1 already stored\n")
    status, _, err = run("receive", "B1", "--lab", "市一院", "--scanned",
                         scans(tmp_path, "again.txt", "P1", "S2"), "--db", day, capsys=capsys)
    assert status == 1 and ("box B1 was scanned already, and this scan differs from it: "
                            "not in it now: N1; new in it: S2") in err
    store = open_store(day)
    assert store.received_tubes(["B1"]) == {"B1": ({"P1", "N1"}, True)}
    store.close()


def test_a_scan_after_a_wrong_count_is_kept_and_custody_names_the_missing_tube(
        day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """B1 counted 2 at 12:00, then scanned: P1 alone. The scan is what arrived."""
    assert run("receive", "B1", "--lab", "市一院", "--tubes", "2", *AT, "--db", day,
               capsys=capsys)[:2] == (0, "1 receipt stored\n")
    status, _, err = run("receive", "B1", "--lab", "市二院", "--scanned",
                         scans(tmp_path, "b1.txt", "P1"), "--db", day, capsys=capsys)
    assert status == 1 and "box B1 was received already: 市一院, 2 tubes" in err
    status, out, err = run("receive", "B1", "--lab", "市一院", "--scanned",
                           scans(tmp_path, "b1.txt", "P1"), "--at", f"{TODAY} 15:00",
                           "--db", day, capsys=capsys)
    assert (status, out) == (0, "1 receipt stored\n")
    assert ("receive: WARNING: box B1: the count differs: counted 2 tubes at "
            "2026-12-04T04:00:00.000Z, 1 scanned now; the scan is kept") in err.splitlines()
    found = custody(day, capsys)
    assert found["box", "B1"]["problems"] == "missing"
    assert found["tube", "N1@B1>"]["problems"] == "missing"
    store = open_store(day)   # P1 waits from its receipt at 12:00, not from the scan
    assert store.results_waiting(shanghai(TODAY, 0), shanghai(TODAY, 23)) == [
        ("市一院", 1, "2026-12-04T04:00:00.000Z")]
    store.close()


def test_a_desks_workbook_with_a_tube_id_excel_turned_into_a_number_is_refused(
        digits_day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Scanned into Excel: POOL kept as a number has every digit and the register has it;
    ZEROED as a number lost its zero; nothing of the receipt is stored."""
    book = workbook(tmp_path / "desk.xlsx", [["条码号"], [int(POOL)], [int(ZEROED)]])
    status, out, err = run("receive", BOX, "--lab", "市一院", "--scanned", str(book), "--db",
                           digits_day, capsys=capsys)
    assert (status, out) == (1, "")
    assert (f"{book}:3: tube 107000001 was a number in the spreadsheet and no station "
            "registered a tube of exactly those digits") in err
    assert ":2:" not in err
    text = scans(tmp_path, "desk.csv", "1.10101E+12")
    status, _, err = run("receive", BOX, "--lab", "市一院", "--scanned", text, "--db",
                         digits_day, capsys=capsys)
    assert status == 1 and (f"{text}:1: tube '1.10101E+12' is a number Excel wrote in "
                            "scientific notation: the id's last 7 digits are lost") in err
    store = open_store(digits_day)
    assert (store.count("receipts"), store.count("receipt_tubes")) == (0, 0)
    store.close()


def test_the_manifest_lists_a_boxs_tubes_and_holds_nothing_personal(
        day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run("report", "manifest", "--box", "B1", "--columns", "en", "--db", day,
                         capsys=capsys)
    assert status == 0
    rows = csv_rows(out)
    assert [(r["tube"], r["samples"], r["box_tubes"], r["box_samples"], r["courier"])
            for r in rows] == [("P1", "4", "2", "7", "C01"), ("N1", "3", "2", "7", "C01")]
    first = rows[0]
    assert (first["site"], first["station"], first["sealed_at"], first["closed"],
            first["dispatched"]) == ("s1", "a", "2026-12-04T00:06:00.000Z",
                                     "2026-12-04T02:00:00.000Z", "2026-12-04T02:05:00.000Z")
    book = tmp_path / "manifest.xlsx"
    assert run("report", "manifest", "--box", "B1", "--db", day, "--format", "xlsx",
               "--output", str(book), capsys=capsys)[0] == 0
    zh = run("report", "manifest", "--box", "B1", "--db", day, capsys=capsys)[1]
    assert "转运箱交接清单" not in zh and zh.splitlines()[0].lstrip("\ufeff").startswith(
        "采样点,采样台,转运箱,试管编号,管内样本数,封管时间")
    with zipfile.ZipFile(book) as sheets:
        inside = b"".join(sheets.read(name) for name in sheets.namelist())
    printed = b""
    if shutil.which("soffice") and shutil.which("pdftotext"):   # the slip as printed
        pdf = tmp_path / "manifest.pdf"
        assert run("report", "manifest", "--box", "B1", "--db", day, "--format", "pdf",
                   "--output", str(pdf), capsys=capsys)[0] == 0
        printed = pdf_text(pdf).encode()
        assert "转运箱交接清单" in printed.decode() and "C01" in printed.decode()
    for written in (out.encode(), zh.encode(), inside, printed):
        assert personal_data_in(written.decode()) == []
        for n in range(1, 17):   # every person of the day: no byte of them
            someone = person(n)
            for field in (someone.id_number, someone.name, someone.phone, someone.address,
                          someone.card_address):
                assert field.encode() not in written, (n, field)


def test_the_manifest_of_a_sealed_day_needs_no_key(
        central_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    store = open_store(central_db)
    lane = Lane("s1", "a", sealer=Sealer(read_keys(key_pair()[1], private=False)[0]))
    at = lane.tube("P1", [person(n) for n in range(1, 4)], shanghai(TODAY, 8))
    lane.box("B1", {"P1": 3}, at, courier="C01")
    lane.deliver(store, shanghai(TODAY, 12))
    store.close()
    status, out, err = run("report", "manifest", "--box", "B1", "--columns", "en", "--day",
                           TODAY, "--db", central_db, capsys=capsys)   # its day: no matter
    assert status == 0, err
    assert [(r["tube"], r["samples"]) for r in csv_rows(out)] == [("P1", "3")]
    status, _, err = run("report", "manifest", "--box", "B9", "--db", central_db,
                         capsys=capsys)
    assert status == 1 and "box B9: no station has closed such a box (yet)" in err
    status, _, err = run("report", "manifest", "--db", central_db, capsys=capsys)
    assert status == 2 and "report manifest: which box? --box BOX" in err
