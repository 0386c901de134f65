"""Paper cards and children reach the call lists (#38), on SQLite and a real PostgreSQL:
a paper card (信息卡) completed by `import-forms` with a phone, one with no number at all
(无证人员: its name and phone), and children under a guardian's document, at the lane and
typed from a card, in a positive pool and a voided tube. `report positives`, `results`,
`resample` and `followup` give each a phone and say where it came from (电话来源: the
lane, the card, the roster, or the guardian's); a child's phone is the guardian's, and
the roster's row of the guardian's document gives a child the guardian's phone, marked
so, never the guardian's name, address, building or household."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import msgspec
import pytest

from central.cli import main
from central.store.open import open_store
from contract.events import Person, SampleRegistered, TubeOpened, TubeSealed, TubeVoided
from contract.sealed import read_keys
from station.sealing import Sealer
from tests.central_keys import key_pair
from tests.lane_days import Lane, lab_results, person, shanghai
from tests.people import nth_person

TODAY = "2026-12-04"
GUARDIAN, OTHER_GUARDIAN = nth_person(31), nth_person(32)
# The lane's and the cards' phones; then the roster's, which only the roster holds.
LANE_CHILD_PHONE, CARD_PHONE, NO_NUMBER_PHONE, CARD_CHILD_PHONE, VOIDED_CARD_PHONE = (
    "13822220005", "13822220003", "13822220004", "13822220007", "13822220009")
ROSTER_PHONE = {nth_person(2): "13866660002", nth_person(3): "13866660003",
                GUARDIAN: "13866660031", OTHER_GUARDIAN: "13866660032"}
GUARDIANS_ADDRESS = "和平小区32号楼"


def child(guardian: str, name: str, phone: str = "") -> Person:
    """A child with no document of its own, registered under its guardian's card."""
    return Person("guardian", guardian, name, "unknown", "2025-05-01", phone=phone,
                  guardian_id_type="resident")


def card(serial: str) -> Person:
    """A paper card's placeholder as the lane records it: its serial, no one yet."""
    return Person("other", serial, "", "unknown", "")


def without_phone(someone: Person, name: str = "") -> Person:
    """As an ID card reads a person: no phone, no current address."""
    return msgspec.structs.replace(someone, phone="", address="", name=name or someone.name)


# Tube P1 (positive), position by position, and who each is once the cards are typed.
P1 = [person(1), without_phone(person(2)), card("FORM-000001"), card("FORM-000002"),
      child(GUARDIAN, "小宝", LANE_CHILD_PHONE), child(OTHER_GUARDIAN, "小贝"),
      card("FORM-000003"),
      without_phone(Person("resident", OTHER_GUARDIAN, "李大", "male", "1990-01-01"))]
CARDS = ("serial,id_type,guardian_id_type,id_number,name,phone\n"
         f"FORM-000001,,,{nth_person(3)},卡上三,{CARD_PHONE}\n"
         f"FORM-000002,,,,无证人,{NO_NUMBER_PHONE}\n"
         f"FORM-000003,监护人,身份证,{GUARDIAN},小明,{CARD_CHILD_PHONE}\n"
         f"FORM-000004,,,,作废管无证人,{VOIDED_CARD_PHONE}\n")


@pytest.fixture(params=["--seal-to", "--plain"])
def day(request: pytest.FixtureRequest, central_db: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> str:
    """Lane a (sealing, as lanes do): P1 positive; V1 (a paper card) sealed, then voided.
    The cards typed and imported sealed, or plain (a test database's)."""
    store = open_store(central_db)
    lane = Lane("s1", "a", sealer=Sealer(read_keys(key_pair()[1], private=False)[0]))
    at = shanghai(TODAY, 8)
    for tube, people in (("P1", P1), ("V1", [card("FORM-000004")])):
        lane.add(TubeOpened(tube, 10), at)
        for position, someone in enumerate(people, 1):
            paper = someone.id_type == "other"
            lane.add(SampleRegistered(tube, position, "form" if paper else "card", someone,
                                      False, form=someone.id_number if paper else ""),
                     at + dt.timedelta(minutes=position))
        at += dt.timedelta(minutes=10)
        lane.add(TubeSealed(tube, len(people), "operator"), at)
    lane.add(TubeVoided("V1", 1, "sealed"), at)
    lane.deliver(store, shanghai(TODAY, 12))
    store.close()
    cards = tmp_path / "cards.csv"
    cards.write_text(CARDS, encoding="utf-8")
    how = [request.param] + ([str(key_pair()[1])] if request.param == "--seal-to" else [])
    assert main(["import-forms", str(cards), "--db", central_db, *how]) == 0
    lab_results(central_db, tmp_path, "P1,阳性,市一院,2026-12-04 14:00")
    capsys.readouterr()
    return central_db


def roster(path: Path) -> Path:
    """The community's list, GBK as Excel saves it: person 2, person 3 (whose card's phone
    is kept), and the two guardians, each with an address, building and household."""
    rows = [["序号", "姓名", "证件类型", "身份证号码", "联系电话", "现住址", "楼栋", "户"],
            ["1", "测试2", "居民身份证", nth_person(2), ROSTER_PHONE[nth_person(2)],
             "幸福路2号", "2栋", "201"],
            ["2", "测试3", "居民身份证", nth_person(3), ROSTER_PHONE[nth_person(3)], "", "3栋",
             "301"],
            ["3", "王大", "居民身份证", GUARDIAN, ROSTER_PHONE[GUARDIAN], "和平小区31号楼",
             "31栋", "3101"],
            ["4", "李大", "居民身份证", OTHER_GUARDIAN, ROSTER_PHONE[OTHER_GUARDIAN],
             GUARDIANS_ADDRESS, "32栋", "3201"]]
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    path.write_bytes(text.getvalue().encode("gbk"))
    return path


def report(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, str]]:
    capsys.readouterr()
    assert main(["report", *args, "--day", TODAY, "--no-mark", "--private-key",
                 str(key_pair()[0])]) == 0, capsys.readouterr().err
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))


# Each of P1 as the call lists give them without a roster: (id_type, id_number, name,
# phone, phone_source).
WITHOUT_ROSTER = [
    ("resident", nth_person(1), "测试1", person(1).phone, "lane"),
    ("resident", nth_person(2), "测试2", "", ""),
    ("resident", nth_person(3), "卡上三", CARD_PHONE, "form"),
    ("other", "FORM-000002", "无证人", NO_NUMBER_PHONE, "form"),
    ("guardian", GUARDIAN, "小宝", LANE_CHILD_PHONE, "guardian"),
    ("guardian", OTHER_GUARDIAN, "小贝", "", ""),
    ("guardian", GUARDIAN, "小明", CARD_CHILD_PHONE, "guardian"),
    ("resident", OTHER_GUARDIAN, "李大", "", "")]
# With the roster: (name, phone, phone_source, filled, address, building, household).
WITH_ROSTER = [
    ("测试1", person(1).phone, "lane", "", person(1).address, "", ""),
    ("测试2", ROSTER_PHONE[nth_person(2)], "roster", "phone address", "幸福路2号", "2栋",
     "201"),
    ("卡上三", CARD_PHONE, "form", "", "", "3栋", "301"),   # the card's phone, not the roster's
    ("无证人", NO_NUMBER_PHONE, "form", "", "", "", ""),
    # The children: the lane's or the card's phone kept; the guardian's row gives the
    # one without a phone the guardian's, and nothing else of the guardian's row.
    ("小宝", LANE_CHILD_PHONE, "guardian", "", "", "", ""),
    ("小贝", ROSTER_PHONE[OTHER_GUARDIAN], "guardian", "phone", "", "", ""),
    ("小明", CARD_CHILD_PHONE, "guardian", "", "", "", ""),
    ("李大", ROSTER_PHONE[OTHER_GUARDIAN], "roster", "phone address", GUARDIANS_ADDRESS,
     "32栋", "3201")]


def test_cards_and_children_reach_the_call_lists_with_where_each_phone_came_from(
        day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("positives", "results", "followup"):
        rows = [r for r in report(capsys, name, "--db", day, "--columns", "en")
                if r.get("tube", r.get("pool_tube")) == "P1"]
        assert [(r["id_type"], r["id_number"], r["name"], r["phone"], r["phone_source"])
                for r in rows] == WITHOUT_ROSTER, name
    listed = roster(tmp_path / "名单.csv")
    for name in ("positives", "results", "followup"):
        rows = [r for r in report(capsys, name, "--db", day, "--columns", "en", "--roster",
                                  str(listed)) if r.get("tube", r.get("pool_tube")) == "P1"]
        assert [(r["name"], r["phone"], r["phone_source"], r["filled"], r["address"],
                 r["building"], r["household"]) for r in rows] == WITH_ROSTER, name
    zh = report(capsys, "positives", "--db", day, "--roster", str(listed))
    assert [(r["电话来源"], r["名单补充"]) for r in zh] == [
        ("采样台登记", ""), ("社区名单", "电话、现居住地"), ("纸质信息卡", ""),
        ("纸质信息卡", ""), ("监护人电话", ""), ("监护人电话", "电话"), ("监护人电话", ""),
        ("社区名单", "电话、现居住地")]


def test_a_voided_tubes_paper_card_is_to_be_sampled_again_with_its_phone(
        day: str, capsys: pytest.CaptureFixture[str]) -> None:
    (again,) = report(capsys, "resample", "--db", day, "--columns", "en")
    assert (again["reason"], again["tube"], again["id_number"], again["name"],
            again["phone"], again["phone_source"]) == (
        "voided", "V1", "FORM-000004", "作废管无证人", VOIDED_CARD_PHONE, "form")


def test_a_childs_sibling_under_the_same_guardian_is_never_taken_for_the_child(
        central_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two children under one guardian's card share its number: 小贝 of the voided tube
    stays to be sampled again though 小宝 was sampled again after, and in a positive pool
    小宝's single negative clears 小宝 alone."""
    store = open_store(central_db)
    lane = Lane("s1", "a")
    older, younger = child(GUARDIAN, "小宝", LANE_CHILD_PHONE), child(GUARDIAN, "小贝")
    at = lane.tube("P1", [older, younger, person(2)], shanghai(TODAY, 8))
    at = lane.tube("V1", [older, younger], at, void=True)
    at = lane.tube("N1", [older, person(1)], at)   # 小宝 again, in a tube that stands
    lane.tube("R1", [older], at + dt.timedelta(hours=7))   # 小宝's single tube
    lane.deliver(store, shanghai(TODAY, 23))
    store.close()
    lab_results(central_db, tmp_path, "N1,阴性,市一院,2026-12-04 14:00",
                "P1,阳性,市一院,2026-12-04 14:00", "R1,阴性,市一院,2026-12-04 22:00")
    again = report(capsys, "resample", "--db", central_db, "--columns", "en")
    assert [(r["tube"], r["name"], r["phone_source"]) for r in again] == [
        ("V1", "小贝", "")]
    followed = report(capsys, "followup", "--db", central_db, "--columns", "en", "--at",
                      f"{TODAY} 23:00")
    assert {r["name"]: r["followup"] for r in followed} == {
        "小宝": "cleared", "小贝": "to_resample", "测试2": "to_resample"}


def test_a_child_sampled_under_its_guardians_card_does_not_count_the_guardian_as_sampled(
        central_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The roster's row of the guardian's number is the guardian: their child sampled
    under it leaves the guardian on 待补采, and the guardian sampled takes them off."""
    store = open_store(central_db)
    lane = Lane("s1", "a")
    lane.tube("T1", [child(GUARDIAN, "小宝"), child(OTHER_GUARDIAN, "小贝"),
                     without_phone(Person("resident", OTHER_GUARDIAN, "李大", "male",
                                          "1990-01-01"))], shanghai(TODAY, 8))
    lane.deliver(store)
    store.close()
    missing = report(capsys, "missing", "--db", central_db, "--roster",
                     str(roster(tmp_path / "名单.csv")))
    assert [r["姓名"] for r in missing] == ["测试2", "测试3", "王大"]


def test_import_forms_refuses_each_bad_card_naming_its_line_and_why(
        central_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A mobile with a digit dropped (10 left), a guardian's document type on a card that
    is not a child's, a passport in lowercase: each refused by its line and serial,
    quoting no number, name or phone, and not stored; the good cards beside them are
    (a mobile with spaces, a fixed line with its area code)."""
    open_store(central_db).close()
    cards = tmp_path / "cards.csv"
    cards.write_text("serial,id_type,guardian_id_type,id_number,name,phone\n"
                     f"FORM-000001,,,{nth_person(3)},卡上三,1382222000\n"
                     f"FORM-000002,,身份证,{nth_person(4)},错填,13822220004\n"
                     "FORM-000003,passport,,e12345678,LOW CASE,13822220005\n"
                     "FORM-000004,,,,无证人,138 2222 0006\n"
                     "FORM-000005,,,,无证人二,0371-6222-0007\n"
                     "FORM-000006,,,,无证人三,1382222000\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["import-forms", str(cards), "--db", central_db, "--plain"]) == 1
    out, err = capsys.readouterr()
    assert "imported 2 cards; 4 refused" in out
    for line, serial, why in (
            (2, "FORM-000001", "a phone of 10 digits: a mobile has 11 (1[3-9]…)"),
            (3, "FORM-000002", "guardian_id_type is for a child under its guardian's "
                               "document: give id_type guardian (监护人)"),
            (4, "FORM-000003", "a passport number is 5 to 17 uppercase letters and digits "
                               "(9 characters, lowercase among them)"),
            (7, "FORM-000006", "a phone of 10 digits")):
        assert f"{cards}:{line}: {serial}: {why}" in err, err
    for secret in ("1382222000", nth_person(3), nth_person(4), "e12345678", "卡上三", "错填"):
        assert secret not in err, secret
    store = open_store(central_db)
    try:
        assert sorted(store.form_data()) == ["FORM-000004", "FORM-000005"]
    finally:
        store.close()
