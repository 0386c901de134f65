"""A card-holder's phone typed after the read ([station] phone, station.core.phone_flow):
recorded with the registration in one event, or not at all."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contract.events import Person, SampleRegistered
from station.core.messages import (
    CardRead,
    CodeScanned,
    DeviceFaulted,
    DeviceRecovered,
    Event,
    NumberTyped,
    Record,
    Signal,
)
from station.core.state import State
from station.core.state_codec import snapshot
from station.core.workflow import Workflow
from tests.people import LI, WANG, ZHANG
from tests.station.core.test_workflow import NOW, rules

PHONE = "13912345678"
CARD = CardRead(Person("resident", ZHANG, "张三丰", "male", "1949-12-31",
                       card_address="户籍街1号"))


Trail = list[tuple[list[str], list[Any]]]


def steps(events: list[str | Event], **overrides: Any) -> tuple[State, Trail]:
    """Feed events (a str is a scan); per event the cues told and the facts recorded."""
    flow, state = Workflow(rules(**overrides)), State()
    trail: Trail = []
    for event in events:
        state, effects = flow.step(state, CodeScanned(event) if isinstance(event, str)
                                   else event, NOW)
        trail.append(([str(e.cue) for e in effects if isinstance(e, Signal)],
                      [f for e in effects if isinstance(e, Record) for f in e.facts]))
    return state, trail


def registered(trail: Trail) -> list[SampleRegistered]:
    return [f for _, facts in trail for f in facts if isinstance(f, SampleRegistered)]


def test_off_records_a_card_at_once_and_an_eleven_digit_entry_is_no_id_number() -> None:
    state, trail = steps(["T000001", CARD, NumberTyped(PHONE)])
    assert trail[1][0] == ["accepted"]
    assert [fact.type for fact in trail[1][1]] == ["sample.registered"]
    assert trail[2] == (["bad_id_number"], [])
    assert registered(trail)[0].person.phone == "" and state.held is None


@pytest.mark.parametrize("policy", ["ask", "require"])
def test_a_phone_typed_after_the_card_is_recorded_with_it(policy: str) -> None:
    state, trail = steps(["T000001", CARD, NumberTyped(PHONE)], phone=policy)
    assert trail[1] == ([f"phone_{'asked' if policy == 'ask' else 'required'}"], [])
    (fact,) = registered(trail)
    assert trail[2][0] == ["accepted"]
    assert (fact.source, fact.position, fact.person.phone) == ("card", 1, PHONE)
    assert fact.person.card_address == "户籍街1号" and state.held is None


def test_ask_records_without_a_phone_on_enter_alone_require_does_not() -> None:
    _, asked = steps(["T000001", CARD, NumberTyped("")], phone="ask")
    assert asked[2][0] == ["accepted"] and registered(asked)[0].person.phone == ""
    state, required = steps(["T000001", CARD, NumberTyped("")], phone="require")
    assert required[2] == (["phone_wanted"], []) and state.held is not None


def test_a_ten_digit_phone_is_refused_with_its_reason_and_the_card_still_waits() -> None:
    flow = Workflow(rules(phone="require"))
    state, _ = flow.step(State(), CodeScanned("T000001"), NOW)
    state, _ = flow.step(state, CARD, NOW)
    state, effects = flow.step(state, NumberTyped(PHONE[:10]), NOW)
    (signal,) = effects
    assert isinstance(signal, Signal)
    assert signal.cue == "bad_phone" and signal.pattern == "refused"
    assert "10 characters" in signal.message and "11 digits" in signal.message
    assert state.held is not None
    _, effects = flow.step(state, NumberTyped(PHONE), NOW)
    assert [f.person.phone for e in effects if isinstance(e, Record) for f in e.facts
            if isinstance(f, SampleRegistered)] == [PHONE]


def test_nothing_moves_around_a_waiting_card_but_undo_drops_it() -> None:
    other = CardRead(Person("resident", LI, "李四", "female", ""))
    state, trail = steps(["T000001", CARD, other, "CMD:SEAL", "T000002", "CMD:BOX",
                          NumberTyped(LI), "CMD:UNDO", other], phone="require")
    assert [cues for cues, _ in trail[2:7]] == [["phone_wanted"]] * 4 + [["bad_phone"]]
    assert trail[7] == (["card_dropped"], [])
    assert trail[8] == (["phone_required"], [])   # the next card, asked for in turn
    assert registered(trail) == [] and state.tube is not None and state.tube.count == 0


def test_the_tube_fills_only_when_the_phone_comes() -> None:
    person = Person("resident", WANG, "王五", "male", "1980-01-01")
    state, trail = steps(["T000001", ZHANG, LI, CardRead(person), NumberTyped(PHONE)],
                         phone="ask")
    assert trail[3] == (["phone_asked"], [])
    assert trail[4][0] == ["sealed_full"]
    assert [f.type for f in trail[4][1]] == ["sample.registered", "tube.sealed"]
    assert state.tube is None and state.closed_tubes == {"T000001"}


def test_the_persons_own_code_gives_the_phone_another_persons_is_refused() -> None:
    mine = json.dumps({"id": ZHANG, "name": "张三丰", "phone": PHONE, "address": "幸福路1号"},
                      ensure_ascii=False)
    theirs = json.dumps({"id": LI, "name": "李四", "phone": PHONE}, ensure_ascii=False)
    _, trail = steps(["T000001", CARD, theirs, mine], phone="require")
    assert trail[2] == (["phone_wanted"], [])
    (fact,) = registered(trail)
    assert (fact.source, fact.person.phone, fact.person.address, fact.person.name) == (
        "card", PHONE, "幸福路1号", "张三丰")


def test_a_person_the_lane_would_refuse_is_refused_before_the_phone_is_asked() -> None:
    state, trail = steps([CARD, "T000001", ZHANG, CARD], phone="require")
    assert trail[0] == (["no_tube_open"], []) and trail[3] == (["already_in_tube"], [])
    assert state.held is None


def test_a_phone_typed_with_no_card_is_said_to_come_after_it() -> None:
    state, trail = steps(["T000001", NumberTyped(PHONE), NumberTyped("")], phone="ask")
    assert trail[1:] == [(["phone_without_card"], []), ([], [])]
    assert state.held is None


def test_the_waiting_card_is_never_in_the_snapshot_nor_in_a_logged_line() -> None:
    flow = Workflow(rules(phone="ask"))
    state, _ = flow.step(State(), CodeScanned("T000001"), NOW)
    state, asked = flow.step(state, CARD, NOW)
    _, refused = flow.step(state, NumberTyped(PHONE[:10]), NOW)
    assert state.held is not None
    written = json.dumps(snapshot(state), ensure_ascii=False)
    said = " ".join(e.message for e in (*asked, *refused) if isinstance(e, Signal))
    for value in (ZHANG, "张三丰", "1949", "户籍街", PHONE[:10]):
        assert value not in written and value not in said


def test_a_registration_refused_when_the_phone_comes_keeps_the_card_waiting() -> None:
    """A printer fault arrives while the card waits on a single-sampling lane: the phone
    is refused with the fault's reason, and the card still waits (not silently gone)."""
    state, trail = steps([CARD, DeviceFaulted("printer", "paper out", "paper_out"),
                          NumberTyped(PHONE), DeviceRecovered("printer"), NumberTyped(PHONE)],
                         phone="require", pool_size=1, tubes="print")
    assert trail[0] == (["phone_required"], []) and trail[2] == (["printer_fault"], [])
    (fact,) = registered(trail)
    assert trail[4][0] == ["sealed_full"]   # single sampling: recorded, labelled, sealed
    assert (fact.person.id_number, fact.person.phone) == (ZHANG, PHONE)
    assert state.held is None


def test_the_tower_holds_asking_while_a_card_waits_even_after_a_refusal() -> None:
    flow = Workflow(rules(phone="ask"))
    state, _ = flow.step(State(), CodeScanned("T000001"), NOW)
    state, _ = flow.step(state, CARD, NOW)
    for refused in (NumberTyped("123"), CARD, CodeScanned("CMD:SEAL")):
        state, effects = flow.step(state, refused, NOW)
        (signal,) = effects
        assert isinstance(signal, Signal) and signal.pattern == "refused"
        assert signal.hold == "asking"
    state, effects = flow.step(state, NumberTyped(PHONE), NOW)
    assert [e.hold for e in effects if isinstance(e, Signal)] == [None]   # accepted's own
