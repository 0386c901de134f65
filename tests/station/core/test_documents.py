"""Every document at the lane from a code (contract 1.5): passports, 港澳/台湾 travel
permits, a child under its guardian's document; what is checked, what is refused, and
what the duplicate checks key on. Typed documents: tests/drivers/test_keypad.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contract.events import Person
from station.core.digests import duplicate_key
from station.core.identity import mask_id
from station.core.messages import CodeScanned, Record, Signal
from station.core.prompts import Prompts, screen_line
from station.core.state import State
from station.core.workflow import Workflow
from tests.people import ZHANG
from tests.station.core.test_workflow import NOW, rules


def scanned(*codes: str) -> tuple[State, list[Signal], list[dict[str, Any]]]:
    """Each code after a tube is opened: the last code's signals, every person recorded."""
    flow = Workflow(rules(pool_size=10))
    state, _ = flow.step(State(), CodeScanned("T000001"), NOW)
    persons: list[dict[str, Any]] = []
    signals: list[Signal] = []
    for code in codes:
        state, effects = flow.step(state, CodeScanned(code), NOW)
        signals = [e for e in effects if isinstance(e, Signal)]
        persons += [f.data["person"] for e in effects if isinstance(e, Record)
                    for f in e.facts if f.type == "sample.registered"]
    return state, signals, persons


def test_a_passport_from_a_qr_takes_birth_and_gender_from_the_code_never_the_number() -> None:
    code = json.dumps({"id_type": "passport", "id": "E12345678", "name": "SMITH JOHN",
                       "birth": "1990-03-04", "gender": "M", "phone": "13800138000"})
    _, (signal,), (person, bare) = scanned(code, json.dumps(
        {"id_type": "护照", "id": "G19900101", "name": "DOE JANE"}))
    assert person == {"id_type": "passport", "id_number": "E12345678", "name": "SMITH JOHN",
                      "gender": "male", "birth": "1990-03-04", "phone": "13800138000"}
    assert signal.cue == "accepted"
    # Digits that read like a date are not one: no birth, no gender from a number.
    assert (bare["birth"], bare["gender"]) == ("", "unknown")


@pytest.mark.parametrize(("code", "kind", "number"), [
    ("证件类型:港澳居民来往内地通行证;证件号码:H12345678;姓名:陈大文", "hk_macao_pass",
     "H12345678"),
    ("zjlx=回乡证|id=M87654321|xm=黎小明", "hk_macao_pass", "M87654321"),
    ("https://reg.example/p?zjlx=台胞证&idcard=12345678&name=林美", "taiwan_pass", "12345678"),
])
def test_a_permit_from_a_key_value_code(code: str, kind: str, number: str) -> None:
    _, (signal,), (person,) = scanned(code)
    assert (person["id_type"], person["id_number"], person["birth"]) == (kind, number, "")
    assert signal.cue == "accepted"


def test_a_child_under_a_guardians_document_is_told_from_its_sibling_and_guardian() -> None:
    def child(name: str, birth: str = "2026-05-01") -> str:
        return json.dumps({"guardian_id": ZHANG, "guardian_id_type": "resident",
                           "name": name, "birth": birth})
    state, _, persons = scanned(ZHANG, child("张小宝"), child("张小贝"), child("张小宝"))
    assert state.tube is not None and state.tube.count == 3   # the last one: refused
    first = persons[1]
    # The guardian's number, and nothing taken from it: born 1949, male, it is not the child.
    assert first == {"id_type": "guardian", "id_number": ZHANG, "name": "张小宝",
                     "gender": "unknown", "birth": "2026-05-01",
                     "guardian_id_type": "resident"}
    _, (signal,), _ = scanned(child("张小宝"), child("张小宝"))
    assert signal.reason == "already_in_tube"


@pytest.mark.parametrize(("code", "reason"), [
    (json.dumps({"id_type": "passport", "id": "e12345678", "name": "A"}), "bad_passport"),
    (json.dumps({"id_type": "passport", "id": "E1234-5678", "name": "A"}), "bad_passport"),
    (json.dumps({"id_type": "passport", "id": "E1", "name": "A"}), "bad_passport"),
    ("证件类型:港澳通行证;证件号码:H1234567;姓名:陈", "bad_permit"),
    ("证件类型:港澳通行证;证件号码:h12345678;姓名:陈", "bad_permit"),
    ("证件类型:台湾通行证;证件号码:1234567A;姓名:林", "bad_permit"),
    ("证件类型:驾驶证;证件号码:E12345678;姓名:陈", "bad_document"),
    (json.dumps({"id_type": "passport", "id": "E12345678", "name": "A", "birth": "1990-02-30"}),
     "bad_document"),
    (json.dumps({"id_type": "passport", "id": "E12345678", "name": "A", "gender": "x"}),
     "bad_document"),
    (json.dumps({"guardian_id": "E12345678", "name": "小宝"}), "bad_document"),   # no type
    (f"监护人证件号码:{ZHANG};监护人证件类型:身份证", "bad_document"),              # no name
    (json.dumps({"guardian_id": ZHANG[:-1] + "0", "guardian_id_type": "resident",
                 "name": "小宝"}), "bad_check_character"),
])
def test_a_document_that_cannot_be_is_refused_and_nothing_recorded(code: str,
                                                                   reason: str) -> None:
    state, (signal,), persons = scanned(code)
    assert (signal.reason, signal.pattern, persons) == (reason, "refused", [])
    assert state.tube is not None and state.tube.count == 0 and state.sampled_today == set()
    assert "12345678" not in signal.message and ZHANG not in signal.message
    assert screen_line(signal) and Prompts.with_overrides({}).speech(signal)


def test_the_duplicate_checks_key_on_the_type_and_the_number() -> None:
    """A passport and a 台湾 permit of the same digits are two people; a resident's key
    stays the bare number, so the digests a lane made before the upgrade still match."""
    assert duplicate_key(Person("resident", ZHANG, "", "male", "")) == ZHANG
    _, (signal,), persons = scanned(
        "证件类型:台湾通行证;证件号码:12345678;姓名:林美",
        json.dumps({"id_type": "passport", "id": "12345678", "name": "SMITH JOHN"}))
    assert signal.cue == "accepted" and len(persons) == 2
    _, (signal,), _ = scanned("证件类型:台湾通行证;证件号码:12345678;姓名:林美",
                              "zjlx=台胞证;id=12345678;xm=林美")
    assert signal.reason == "already_in_tube"


def test_a_short_documents_mask_hides_more_than_it_shows() -> None:
    """What the screen shows of a person: an ID number as before, a passport's middle."""
    assert mask_id(ZHANG) == ZHANG[:4] + "*" * 10 + ZHANG[-4:]
    assert mask_id("E12345678") == "E1*****78"
    assert mask_id("12345678") == "********"
    _, (signal,), _ = scanned(json.dumps({"id_type": "passport", "id": "E12345678",
                                          "name": "SMITH JOHN"}))
    assert "E1*****78" in signal.who and "1234567" not in signal.who + signal.message
