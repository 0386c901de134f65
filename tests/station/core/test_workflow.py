"""Table tests of the workflow: each case is a list of (scanned, expected patterns, facts)."""

import datetime as dt
import json
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from msgspec.structs import replace

from contract.events import BoxClosed, Person
from drivers.lights.patterns import PATTERN_NAMES
from station.config import ConfigError
from station.core.codes import PERSON_DECODERS, Classifier, TubeCode
from station.core.identity import synthetic_id
from station.core.messages import (
    REFUSALS,
    CardFailed,
    CardRead,
    CodeScanned,
    DeviceFaulted,
    DeviceRecovered,
    Event,
    NumberTyped,
    PrintLabel,
    Record,
    Refusal,
    Signal,
)
from station.core.parts import FaultKind
from station.core.state import Rules, State
from station.core.workflow import Workflow
from station.runner import rules_for
from tests.central_keys import parse
from tests.people import LI, WANG, ZHANG, ZHAO

NOW = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)


def rules(**overrides: object) -> Rules:
    base = Rules(
        station_id="L1", pool_size=3, tubes="preprinted", duplicate_today="warn",
        classifier=Classifier(re.compile(r"[A-Z]{0,4}[0-9]{6,14}"),
                              list(PERSON_DECODERS.values())),
        timezone=ZoneInfo("Asia/Shanghai"),
    )
    return replace(base, **overrides)


def run(codes: list[str], state: State | None = None,
        **overrides: Any) -> tuple[State, list[tuple[list[str], list[str], list[str]]]]:
    """Feed codes; return (final state, [(pattern, fact types, printed)] per code)."""
    flow = Workflow(rules(**overrides))
    state = state or State()
    trail: list[tuple[list[str], list[str], list[str]]] = []
    for code in codes:
        state, effects = flow.step(state, CodeScanned(code), NOW)
        patterns: list[str] = [e.pattern for e in effects if isinstance(e, Signal)]
        facts: list[str] = [f.type for e in effects if isinstance(e, Record) for f in e.facts]
        printed = [type(e.label).__name__ for e in effects if isinstance(e, PrintLabel)]
        trail.append((patterns, facts, printed))
    return state, trail


CASES = {
    "tube then people, one left, sealed when full": (
        ["T000001", ZHANG, LI, WANG],
        [(["tube_open"], ["tube.opened"], []),
         (["accepted"], ["sample.registered"], []),
         (["one_left"], ["sample.registered"], []),
         (["sealed"], ["sample.registered", "tube.sealed"], [])],
    ),
    "person with no open tube is refused": (
        [ZHANG], [(["refused"], [], [])],
    ),
    "same person twice in one tube is refused": (
        ["T000001", ZHANG, ZHANG],
        [(["tube_open"], ["tube.opened"], []), (["accepted"], ["sample.registered"], []),
         (["refused"], [], [])],
    ),
    "wrong check character is refused": (
        ["T000001", ZHANG[:17] + ("0" if ZHANG[17] != "0" else "1")],
        [(["tube_open"], ["tube.opened"], []), (["refused"], [], [])],
    ),
    "impossible birth date is refused": (
        ["T000001", "11010519491331" + "0021"],
        [(["tube_open"], ["tube.opened"], []), (["refused"], [], [])],
    ),
    "garbage code is refused": (
        ["@@@garbage"], [(["refused"], [], [])],
    ),
    "unknown command is refused": (
        ["CMD:EXPLODE"], [(["refused"], [], [])],
    ),
    "a different tube while a non-empty one is open is refused": (
        ["T000001", ZHANG, "T000002"],
        [(["tube_open"], ["tube.opened"], []), (["accepted"], ["sample.registered"], []),
         (["refused"], [], [])],
    ),
    "an empty open tube is replaced": (
        ["T000001", "T000002"],
        [(["tube_open"], ["tube.opened"], []),
         (["tube_open"], ["tube.released", "tube.opened"], [])],
    ),
    "rescanning the open tube records nothing": (
        ["T000001", "T000001"],
        [(["tube_open"], ["tube.opened"], []), (["tube_open"], [], [])],
    ),
    "a sealed tube cannot be reopened": (
        ["T000001", ZHANG, "CMD:SEAL", "T000001"],
        [(["tube_open"], ["tube.opened"], []), (["accepted"], ["sample.registered"], []),
         (["sealed"], ["tube.sealed"], []), (["refused"], [], [])],
    ),
    "seal with nobody in the tube is refused": (
        ["T000001", "CMD:SEAL"],
        [(["tube_open"], ["tube.opened"], []), (["refused"], [], [])],
    ),
    "undo cancels the last person": (
        ["T000001", ZHANG, "CMD:UNDO", ZHANG],
        [(["tube_open"], ["tube.opened"], []), (["accepted"], ["sample.registered"], []),
         (["done"], ["sample.cancelled"], []), (["accepted"], ["sample.registered"], [])],
    ),
    "undo with nobody to cancel is refused": (
        ["CMD:UNDO"], [(["refused"], [], [])],
    ),
    "void the open tube": (
        ["T000001", ZHANG, "CMD:VOID", "T000001"],
        [(["tube_open"], ["tube.opened"], []), (["accepted"], ["sample.registered"], []),
         (["done"], ["tube.voided"], []), (["refused"], [], [])],
    ),
    "void the last sealed tube, which leaves the box": (
        ["T000001", ZHANG, "CMD:SEAL", "CMD:VOID", "CMD:BOX"],
        [(["tube_open"], ["tube.opened"], []), (["accepted"], ["sample.registered"], []),
         (["sealed"], ["tube.sealed"], []), (["done"], ["tube.voided"], []),
         (["refused"], [], [])],
    ),
    "void with nothing to void is refused": (
        ["CMD:VOID"], [(["refused"], [], [])],
    ),
    "box closes sealed tubes and prints a slip": (
        ["T000001", ZHANG, "CMD:SEAL", "CMD:BOX"],
        [(["tube_open"], ["tube.opened"], []), (["accepted"], ["sample.registered"], []),
         (["sealed"], ["tube.sealed"], []), (["done"], ["box.closed"], ["HandoverSlip"])],
    ),
    "box with an open non-empty tube is refused": (
        ["T000001", ZHANG, "CMD:BOX"],
        [(["tube_open"], ["tube.opened"], []), (["accepted"], ["sample.registered"], []),
         (["refused"], [], [])],
    ),
    "newtube is refused with preprinted tubes": (
        ["CMD:NEWTUBE"], [(["refused"], [], [])],
    ),
    "a person sampled earlier today is accepted with a warning": (
        ["T000001", ZHANG, "CMD:SEAL", "T000002", ZHANG],
        [(["tube_open"], ["tube.opened"], []), (["accepted"], ["sample.registered"], []),
         (["sealed"], ["tube.sealed"], []), (["tube_open"], ["tube.opened"], []),
         (["duplicate"], ["sample.registered"], [])],
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_table(name: str) -> None:
    codes, expected = CASES[name]
    _, trail = run(codes)
    assert trail == expected
    assert {p for patterns, _, _ in trail for p in patterns} <= set(PATTERN_NAMES)


BAD_CHECK = ZHANG[:-1] + ("0" if ZHANG[-1] != "0" else "1")

FUTURE = synthetic_id("110105", "20991231", 1)   # checks, but born in 2099
PRINTER_OUT = DeviceFaulted("printer", "out of paper")

# Every refusal says why: the last code (or event) of each row is refused for this reason.
REFUSED_BECAUSE: dict[Refusal, tuple[list[str | Event], dict[str, Any]]] = {
    "no_tube_open": ([ZHANG], {}),
    "already_in_tube": (["T000001", ZHANG, ZHANG], {}),
    "sampled_today": (["T000001", ZHANG, "CMD:SEAL", "T000002", ZHANG],
                      {"duplicate_today": "refuse"}),
    "bad_check_character": (["T000001", BAD_CHECK], {}),
    "impossible_birth_date": (["T000001", FUTURE], {}),
    "bad_id_number": (["T000001", json.dumps({"id": "11010519491231", "name": "张三"})], {}),
    "printer_fault": ([PRINTER_OUT, "CMD:NEWTUBE"], {"tubes": "print"}),
    "tube_closed": (["T000001", ZHANG, "CMD:SEAL", "T000001"], {}),
    "tube_busy": (["T000001", ZHANG, "T000002"], {}),
    "nothing_to_do": (["CMD:UNDO"], {}),
    "not_in_print_mode": (["CMD:NEWTUBE"], {}),
    "unrecognised_code": (["hello?"], {}),
    "not_signed_in": (["T000001", ZHANG], {"staff_required": True}),
    "bad_phone": (["T000001", json.dumps({"id": ZHANG, "name": "张三", "phone": "call me"})],
                  {}),
    "phone_wanted": (["T000001", CardRead(Person("resident", ZHANG, "张三丰", "male", "")),
                      "CMD:SEAL"], {"phone": "require"}),
    "phone_without_card": (["T000001", NumberTyped("13900000001")], {"phone": "ask"}),
    "bad_passport": (["T000001", json.dumps({"id": "e12345678", "name": "SMITH JOHN",
                                             "id_type": "passport"})], {}),
    "bad_permit": (["T000001", "证件类型:港澳通行证;证件号码:H1234567;姓名:陈大文"], {}),
    "bad_document": (["T000001", f"监护人证件号码:{ZHANG};监护人证件类型:居民身份证"], {}),
    "choose_document": (["T000001", NumberTyped("E12345678")], {}),
    "already_dispatched": (["T000001", ZHANG, "CMD:SEAL", "CMD:BOX", "S0001", "S0001"],
                           {"classifier": Classifier(
                               re.compile(r"T[0-9]{6}"), list(PERSON_DECODERS.values()),
                               staff_pattern=re.compile(r"S[0-9]{4}"))}),
}


@pytest.mark.parametrize("reason", REFUSALS)
def test_every_refusal_names_its_reason(reason: Refusal) -> None:
    if reason == "card_not_read":
        _, effects = Workflow(rules()).step(State(), CardFailed("card read failed"), NOW)
    else:
        codes, overrides = REFUSED_BECAUSE[reason]
        flow, state = Workflow(rules(**overrides)), State()
        for code in codes:
            event = CodeScanned(code) if isinstance(code, str) else code
            state, effects = flow.step(state, event, NOW)
    (signal,) = effects
    assert isinstance(signal, Signal) and signal.pattern == "refused"
    assert signal.reason == reason


def test_duplicate_today_refused_when_configured() -> None:
    _, trail = run(["T000001", ZHANG, "CMD:SEAL", "T000002", ZHANG], duplicate_today="refuse")
    assert trail[-1] == (["refused"], [], [])


def test_duplicate_warning_survives_the_seal_it_triggers() -> None:
    _, trail = run(["T000001", ZHANG, "CMD:SEAL", "T000002", LI, WANG, ZHANG])
    patterns, facts, _ = trail[-1]
    assert facts == ["sample.registered", "tube.sealed"]
    assert "duplicate" in patterns and patterns[-1] == "sealed"


def test_undo_forgets_the_day_mark_so_no_false_duplicate() -> None:
    _, trail = run(["T000001", ZHANG, "CMD:UNDO", "CMD:VOID", "T000002", ZHANG])
    assert trail[-1] == (["accepted"], ["sample.registered"], [])


def test_voided_people_can_be_sampled_again_without_warning() -> None:
    _, trail = run(["T000001", ZHANG, LI, "CMD:VOID", "T000002", ZHANG, LI])
    assert [t[0] for t in trail[-2:]] == [["accepted"], ["one_left"]]


def test_the_day_mark_resets_at_local_midnight() -> None:
    flow = Workflow(rules())
    state, _ = flow.step(State(), CodeScanned("T000001"), NOW)
    state, _ = flow.step(state, CodeScanned(ZHANG), NOW)
    state, _ = flow.step(state, CodeScanned("CMD:SEAL"), NOW)
    state, _ = flow.step(state, CodeScanned("T000002"), NOW)
    tomorrow = dt.datetime(2026, 11, 22, 16, 30, tzinfo=dt.UTC)  # 00:30 in Shanghai
    _, effects = flow.step(state, CodeScanned(ZHANG), tomorrow)
    assert [e.pattern for e in effects if isinstance(e, Signal)] == ["accepted"]


def test_registration_payload() -> None:
    flow = Workflow(rules())
    state, _ = flow.step(State(), CodeScanned("T000001"), NOW)
    qr = json.dumps({"id": LI, "name": "李四"}, ensure_ascii=False)
    state, effects = flow.step(state, CodeScanned(qr), NOW)
    (fact,) = [f for e in effects if isinstance(e, Record) for f in e.facts]
    assert fact.data == {
        "tube": "T000001", "position": 1, "source": "qr", "repeat_today": False,
        "person": {"id_type": "resident", "id_number": LI, "name": "李四",
                   "gender": "female", "birth": "1949-12-31"},
    }


def test_card_reads_register_with_source_card() -> None:
    flow = Workflow(rules())
    person = Person("resident", WANG, "王五", "male", "1980-01-01")
    state, _ = flow.step(State(), CodeScanned("T000001"), NOW)
    _, effects = flow.step(state, CardRead(person), NOW)
    (fact,) = [f for e in effects if isinstance(e, Record) for f in e.facts]
    assert fact.data["source"] == "card" and fact.data["person"]["name"] == "王五"


def test_refusals_never_reveal_the_full_name_or_number() -> None:
    flow = Workflow(rules())
    qr = json.dumps({"id": ZHAO, "name": "赵六六"}, ensure_ascii=False)
    _, effects = flow.step(State(), CodeScanned(qr), NOW)
    (signal,) = effects
    assert isinstance(signal, Signal) and signal.pattern == "refused"
    assert ZHAO not in signal.message and "赵六六" not in signal.message
    assert "赵*六" in signal.message


def test_single_sampling_mints_labels_and_seals_per_person() -> None:
    state, trail = run([ZHANG, LI], pool_size=1, tubes="print")
    assert trail == [
        (["sealed"], ["tube.opened", "sample.registered", "tube.sealed"], ["TubeLabel"]),
    ] * 2
    assert state.minted == 2 and state.tube is None and len(state.box) == 2


def test_single_sampling_refusal_mints_nothing() -> None:
    state, trail = run([ZHANG, ZHANG], pool_size=1, tubes="print", duplicate_today="refuse")
    assert trail[-1] == (["refused"], [], [])
    assert state.minted == 1


def test_print_mode_newtube_mints_and_prints() -> None:
    state, trail = run(["CMD:NEWTUBE", ZHANG], tubes="print", tube_prefix="110101")
    assert trail[0] == (["tube_open"], ["tube.opened"], ["TubeLabel"])
    assert state.tube is not None and state.tube.tube == "110101000001"  # prefix, counter


def test_box_ids_carry_the_prefix_or_else_the_station_id() -> None:
    codes = ["T000001", ZHANG, "CMD:SEAL", "CMD:BOX", "T000002", LI, "CMD:SEAL", "CMD:BOX"]
    for prefix, first, second in (("110101", "110101B00001", "110101B00002"),
                                  ("", "L1B00001", "L1B00002")):
        flow, state = Workflow(rules(tube_prefix=prefix)), State()
        boxes = []
        for code in codes:
            state, effects = flow.step(state, CodeScanned(code), NOW)
            boxes += [f.box for e in effects if isinstance(e, Record) for f in e.facts
                      if isinstance(f, BoxClosed)]
        assert boxes == [first, second]


def test_device_fault_is_recorded_and_signalled() -> None:
    flow = Workflow(rules())
    _, effects = flow.step(State(), DeviceFaulted("printer", "paper out"), NOW)
    assert [type(e).__name__ for e in effects] == ["Record", "Signal"]
    assert isinstance(effects[1], Signal) and effects[1].pattern == "fault"


def test_two_lanes_of_the_same_name_at_two_sites_mint_different_tubes() -> None:
    """Every site has a lane-01: the district's prefixes keep their tubes apart, and each
    lane can scan its own minted tubes back."""
    minted = []
    for site, prefix in (("site-a", "110101"), ("site-b", "110201")):
        config = parse(f'[station]\nid = "lane-01"\nsite = "{site}"\ntubes = "print"\n'
                       f'tube_prefix = "{prefix}"\n', f"{site}.toml")
        flow = Workflow(rules_for(config))
        state, _ = flow.step(State(), CodeScanned("CMD:NEWTUBE"), NOW)
        assert state.tube is not None
        tube = state.tube.tube
        assert isinstance(flow.rules.classifier.classify(tube, NOW.date()), TubeCode)
        minted.append(tube)
    assert minted == ["110101000001", "110201000001"]


def test_print_mode_without_a_prefix_is_refused_by_check_config() -> None:
    with pytest.raises(ConfigError) as caught:
        parse('[station]\nid = "lane-01"\nsite = "s"\ntubes = "print"\n', "x.toml")
    assert caught.value.problems == [
        "x.toml: [station] tube_prefix: is required with tubes = 'print': digits the district "
        "assigns to this lane, so minted tube ids are unique in the city"]


def test_faults_are_state_until_the_last_part_recovers() -> None:
    flow = Workflow(rules())
    state, _ = flow.step(State(), DeviceFaulted("printer", "out of paper", "paper_out"), NOW)
    state, _ = flow.step(state, DeviceFaulted("voice", "no sound card"), NOW)
    for code in ("T000001", ZHANG):                  # work goes on, the faults stay
        state, _ = flow.step(state, CodeScanned(code), NOW)
    assert state.faults == (("printer", "printer_paper"), ("voice", "voice_fault"))
    state, effects = flow.step(state, DeviceRecovered("printer"), NOW)
    assert state.faulted == {"voice"}
    (signal,) = [e for e in effects if isinstance(e, Signal)]
    assert signal.cue == "device_back" and "voice still faulted" in signal.message
    state, effects = flow.step(state, DeviceRecovered("voice"), NOW)
    assert state.faults == ()
    assert not [e for e in effects if isinstance(e, Record)]   # central never hears of voice


def test_a_fault_is_told_by_its_kind_not_by_the_words_of_its_reason() -> None:
    flow = Workflow(rules())
    # A jam's words mention paper, a silent Zebra's mention "paper out": neither is one.
    cases: list[tuple[str, FaultKind, str]] = [("paper jam", "paper_jam", "printer_jam"),
                              ("no status answer (paper out, head open?)", "no_answer",
                               "printer_no_answer"),
                              ("out of paper", "other", "printer_fault_other")]
    for reason, kind, cue in cases:
        _, effects = flow.step(State(), DeviceFaulted("printer", reason, kind), NOW)
        assert [e.cue for e in effects if isinstance(e, Signal)] == [cue], reason


def test_single_sampling_refuses_a_person_whose_label_could_not_print() -> None:
    flow = Workflow(rules(pool_size=1, tubes="print", tube_prefix="0107"))
    state, _ = flow.step(State(), DeviceFaulted("printer", "head open"), NOW)
    after, effects = flow.step(state, CodeScanned(ZHANG), NOW)
    assert [e.reason for e in effects if isinstance(e, Signal)] == ["printer_fault"]
    assert after == state                            # nothing minted, nothing recorded
    state, _ = flow.step(state, DeviceRecovered("printer"), NOW)
    _, effects = flow.step(state, CodeScanned(ZHANG), NOW)
    assert [type(e.label).__name__ for e in effects if isinstance(e, PrintLabel)] == ["TubeLabel"]


def test_signals_carry_the_place_and_the_pool() -> None:
    flow = Workflow(rules(pool_size=3))
    state, effects = flow.step(State(), CodeScanned("T000001"), NOW)
    signals = []
    for code in (ZHANG, LI, WANG):
        state, effects = flow.step(state, CodeScanned(code), NOW)
        signals += [e for e in effects if isinstance(e, Signal)]
    assert [(s.cue, s.position, s.pool_size, s.count) for s in signals] == [
        ("accepted", 1, 3, None), ("one_left", 2, 3, None), ("sealed_full", None, 3, 3)]
    assert signals[0].who == "- 1101**********0011"   # a bare number: no name to mask
