"""The keypad for people without a card or a code: real evdev.InputEvent sequences into
the decoder (no /dev/uinput here), then typed numbers through the workflow."""

from __future__ import annotations

import re

import pytest

evdev = pytest.importorskip("evdev")
from evdev import InputEvent, ecodes  # noqa: E402

from drivers.keypad.evdev_keypad import Entry, KeypadDecoder  # noqa: E402
from station.config import ConfigError  # noqa: E402
from station.core.codes import PERSON_DECODERS, Classifier  # noqa: E402
from station.core.messages import (  # noqa: E402
    CodeScanned,
    EntryCleared,
    NumberTyped,
    Record,
    Signal,
    TypedDocument,
)
from station.core.prompts import Prompts, screen_line  # noqa: E402
from station.core.state import State  # noqa: E402
from station.core.workflow import Workflow  # noqa: E402
from tests.central_keys import parse  # noqa: E402
from tests.people import ZHANG, id_number  # noqa: E402
from tests.station.core.test_workflow import NOW, rules  # noqa: E402

TOP_ROW = {str(n): getattr(ecodes, f"KEY_{n}") for n in range(10)}
KEYPAD = {str(n): getattr(ecodes, f"KEY_KP{n}") for n in range(10)}


def press(code: int) -> list[InputEvent]:
    """What a USB keypad sends for one key: scan code, down, sync, up, sync."""
    return [InputEvent(0, 0, ecodes.EV_MSC, ecodes.MSC_SCAN, 458840),
            InputEvent(0, 0, ecodes.EV_KEY, code, 1),
            InputEvent(0, 0, ecodes.EV_SYN, ecodes.SYN_REPORT, 0),
            InputEvent(0, 0, ecodes.EV_KEY, code, 0),
            InputEvent(0, 0, ecodes.EV_SYN, ecodes.SYN_REPORT, 0)]


def keys(text: str, keys: dict[str, int] = KEYPAD) -> list[InputEvent]:
    """Digits on the keypad; X as the keypad's * (it has no X)."""
    out: list[InputEvent] = []
    for char in text:
        out += press(ecodes.KEY_KPASTERISK if char == "X" else keys[char])
    return out


def feed(decoder: KeypadDecoder, events: list[InputEvent], now: float = 0.0) -> list[str]:
    found = (decoder.feed(ev.type, ev.code, ev.value, now) for ev in events)
    return [entry.text for entry in found if entry is not None]


def test_digits_and_enter_on_the_keypad_and_on_the_top_row() -> None:
    decoder = KeypadDecoder(timeout_s=20)
    assert feed(decoder, keys(ZHANG) + press(ecodes.KEY_KPENTER)) == [ZHANG]
    assert feed(decoder, keys(ZHANG, TOP_ROW) + press(ecodes.KEY_ENTER)) == [ZHANG]
    assert decoder.typed == ""


def test_x_comes_from_star_dot_or_the_x_key() -> None:
    decoder = KeypadDecoder(timeout_s=20)
    for x_key in (ecodes.KEY_KPASTERISK, ecodes.KEY_KPDOT, ecodes.KEY_X):
        events = keys("11010519491231002") + press(x_key) + press(ecodes.KEY_KPENTER)
        assert feed(decoder, events) == ["11010519491231002X"]


def test_backspace_takes_back_and_escape_clears() -> None:
    decoder = KeypadDecoder(timeout_s=20)
    typo = keys(ZHANG[:10]) + keys("7") + press(ecodes.KEY_BACKSPACE) + keys(ZHANG[10:])
    assert feed(decoder, typo + press(ecodes.KEY_KPENTER)) == [ZHANG]
    # Cleared, then Enter alone: the empty entry a card waiting for its phone takes as
    # "no phone" (station.core.phone_flow); with no card waiting it does nothing.
    assert feed(decoder, keys("1234") + press(ecodes.KEY_ESC) + press(ecodes.KEY_KPENTER)) == [""]
    assert feed(decoder, press(ecodes.KEY_BACKSPACE) + press(ecodes.KEY_KPENTER)) == [""]


def test_an_entry_stops_at_eighteen_characters_and_other_keys_do_nothing() -> None:
    decoder = KeypadDecoder(timeout_s=20)
    # "+" before any digit has nothing to follow: ignored, as the other keys.
    noise = press(ecodes.KEY_KPPLUS) + press(ecodes.KEY_TAB) + press(ecodes.KEY_NUMLOCK)
    events = noise + keys(ZHANG) + keys("99") + press(ecodes.KEY_KPENTER)
    assert feed(decoder, events) == [ZHANG]


def test_a_phone_number_follows_the_id_number_after_plus() -> None:
    decoder = KeypadDecoder(timeout_s=20)
    plus = press(ecodes.KEY_KPPLUS)
    events = keys(ZHANG) + plus + keys("13800138000") + plus + press(ecodes.KEY_KPDOT) \
        + keys("1" * 10) + press(ecodes.KEY_KPENTER)   # a second "+", an X, 21 digits
    assert feed(decoder, events) == [ZHANG + "+13800138000" + "1111"]   # 15 at most


def test_an_unfinished_entry_is_cleared_once_after_the_timeout() -> None:
    decoder = KeypadDecoder(timeout_s=20)
    feed(decoder, keys("110105"), now=100.0)
    assert not decoder.expired(119.9) and decoder.typed == "110105"
    assert decoder.expired(120.0) and decoder.typed == ""
    assert not decoder.expired(500.0)                     # said once, not again
    assert feed(decoder, keys(ZHANG) + press(ecodes.KEY_KPENTER), now=501.0) == [ZHANG]


# --- a full keyboard: passports and travel permits -----------------------------------

def typing(text: str) -> list[InputEvent]:
    """What a full keyboard sends for text: letters, top-row digits, punctuation."""
    named = {"-": ecodes.KEY_MINUS, ".": ecodes.KEY_DOT, " ": ecodes.KEY_SPACE}
    return [ev for char in text for ev in press(
        TOP_ROW[char] if char.isdigit() else named.get(char) or
        getattr(ecodes, f"KEY_{char.upper()}"))]


def entries(decoder: KeypadDecoder, events: list[InputEvent]) -> list[Entry]:
    found = (decoder.feed(ev.type, ev.code, ev.value, 0.0) for ev in events)
    return [entry for entry in found if entry is not None]


def test_letters_type_uppercase_and_a_function_key_chooses_the_document() -> None:
    decoder, enter = KeypadDecoder(timeout_s=20), press(ecodes.KEY_ENTER)
    assert entries(decoder, typing("e12345678") + enter) == [Entry("E12345678", "")]
    assert entries(decoder, press(ecodes.KEY_F3) + typing("12345678") + enter) == [
        Entry("12345678", "taiwan_pass")]
    # Chosen while typing, changed, then cleared with the entry by Escape.
    assert entries(decoder, typing("H1") + press(ecodes.KEY_F1) + press(ecodes.KEY_F2)
                   + typing("2345678") + enter) == [Entry("H12345678", "hk_macao_pass")]
    assert entries(decoder, press(ecodes.KEY_F1) + typing("M1") + press(ecodes.KEY_ESC)
                   + typing("M12345678") + enter) == [Entry("M12345678", "")]
    # Punctuation is passed on (to be refused with its reason), not dropped.
    assert entries(decoder, typing("E1234-5678") + enter) == [Entry("E1234-5678", "")]


def test_a_chosen_document_is_cleared_by_the_timeout() -> None:
    decoder = KeypadDecoder(timeout_s=20)
    decoder.feed(ecodes.EV_KEY, ecodes.KEY_F1, 1, 100.0)
    assert decoder.expired(120.0) and decoder.document == ""


def test_the_numeric_keypad_types_as_it_did() -> None:
    decoder = KeypadDecoder(timeout_s=20)
    assert entries(decoder, keys(ZHANG) + press(ecodes.KEY_KPENTER)) == [Entry(ZHANG, "")]


@pytest.mark.parametrize(("text", "chosen", "kind"), [
    ("E12345678", "", "passport"),
    ("H12345678", "", "hk_macao_pass"),          # a letter-led entry of the permit's form
    ("M12345678", "passport", "passport"),       # F1: a (Korean) passport of that form
    ("12345678", "taiwan_pass", "taiwan_pass"),
    ("E12345678+13800138000", "", "passport"),
])
def test_a_typed_document_registers_without_a_guessed_birth_or_gender(
        text: str, chosen: TypedDocument, kind: str) -> None:
    _, (signal,), (record,) = typed(text, chosen, NARROW)
    (fact,) = record.facts
    number, _, phone = text.partition("+")
    assert fact.data["source"] == "manual" and signal.cue == "accepted"
    assert fact.data["person"] == {"id_type": kind, "id_number": number, "name": "",
                                   "gender": "unknown", "birth": ""} | (
        {"phone": phone} if phone else {})
    assert number not in signal.message


@pytest.mark.parametrize(("text", "chosen", "reason"), [
    ("E1234-5678", "", "bad_passport"),            # punctuation
    ("E123", "", "bad_passport"),                  # too short
    ("E" + "1" * 17, "", "bad_passport"),          # 18: too long
    ("H1234567", "hk_macao_pass", "bad_permit"),   # 7 digits after H
    ("X12345678", "hk_macao_pass", "bad_permit"),  # neither H nor M
    ("1234567", "taiwan_pass", "bad_permit"),
    ("T1234567", "taiwan_pass", "bad_permit"),
])
def test_a_typed_document_of_the_wrong_form_is_refused(text: str, chosen: TypedDocument,
                                                       reason: str) -> None:
    state, (signal,), records = typed(text, chosen, NARROW)
    assert signal.reason == reason and records == [] and state.tube is not None
    assert state.tube.count == 0 and text not in signal.message
    assert screen_line(signal) and Prompts.with_overrides({}).speech(signal)


def test_a_passport_of_the_lanes_tube_form_wants_its_key() -> None:
    """A tube whose barcode would not scan, typed, must not become a passport holder."""
    _, (signal,), records = typed("E12345678")   # the broad pattern takes it for a tube
    assert signal.reason == "choose_document" and records == []
    assert "F1" in screen_line(signal)
    _, (signal,), (record,) = typed("E12345678", "passport")
    assert record.facts[0].data["person"]["id_type"] == "passport"


# --- typed numbers through the workflow ------------------------------------------------

NARROW = Classifier(re.compile(r"T[0-9]{6}"), list(PERSON_DECODERS.values()))


def typed(text: str, chosen: TypedDocument = "", tubes: Classifier | None = None
          ) -> tuple[State, list[Signal], list[Record]]:
    """`tubes`: the lane's (default: the tests' broad pattern, a letter and digits)."""
    flow = Workflow(rules(classifier=tubes) if tubes else rules())
    state, _ = flow.step(State(), CodeScanned("T000001"), NOW)
    state, effects = flow.step(state, NumberTyped(text, chosen), NOW)
    return (state, [e for e in effects if isinstance(e, Signal)],
            [e for e in effects if isinstance(e, Record)])


def test_a_typed_number_registers_with_source_manual() -> None:
    state, (signal,), (record,) = typed(ZHANG)
    (fact,) = record.facts
    assert fact.data["source"] == "manual" and fact.data["person"]["id_number"] == ZHANG
    assert signal.cue == "accepted" and state.tube is not None and state.tube.count == 1


def test_a_typed_phone_number_goes_with_the_person() -> None:
    _, (signal,), (record,) = typed(ZHANG + "+13800138000")
    (fact,) = record.facts
    assert fact.data["person"]["phone"] == "13800138000" and signal.cue == "accepted"
    assert "13800138000" not in signal.message


@pytest.mark.parametrize(("text", "reason"), [
    (ZHANG[:-1] + ("0" if ZHANG[-1] != "0" else "1"), "bad_check_character"),
    (ZHANG[:10], "bad_id_number"),
    (id_number("110105", "20990101", 3), "impossible_birth_date"),
    ("T000001", "choose_document"),       # a tube id typed is not a tube: only people here
    (ZHANG + "+123", "bad_phone"),        # too short to be a phone number
])
def test_a_wrong_number_is_refused_with_its_own_reason(text: str, reason: str) -> None:
    _, (signal,), records = typed(text)
    assert signal.reason == reason and records == []
    assert ZHANG not in signal.message


def test_a_cleared_entry_is_told_to_the_operator() -> None:
    state, effects = Workflow(rules()).step(State(), EntryCleared(), NOW)
    (signal,) = effects
    assert isinstance(signal, Signal) and signal.cue == "entry_cleared"
    assert signal.pattern == "refused" and state.tube is None and state.faults == ()
    assert Prompts.with_overrides({}).speech(signal) == "输入超时，请重输"
    assert "重新输入" in screen_line(signal)


def test_the_keypad_section_is_checked() -> None:
    base = '[station]\nid = "L1"\nsite = "S"\n[mqtt]\nurl = "mqtt://127.0.0.1:1883"\n'
    config = parse(base + '[keypad]\ndriver = "evdev"\ndevice = "/dev/input/event3"\n'
                   'timeout_s = 30\n', "station.toml")
    assert (config.keypad.driver, config.keypad.timeout_s) == ("evdev", 30)
    assert parse(base, "station.toml").keypad.driver == "none"
    with pytest.raises(ConfigError) as refused:
        parse(base + '[keypad]\ndriver = "evdev"\ntimeout_s = 1\n', "station.toml")
    text = "\n".join(refused.value.problems)
    assert "[keypad] device" in text and "[keypad] timeout_s" in text


# --- a paper information card scanned at the lane ---------------------------------------

def test_a_form_card_registers_a_placeholder_and_is_not_taken_twice() -> None:
    flow = Workflow(rules(classifier=Classifier(re.compile(r"T[0-9]{6}"),
                                                list(PERSON_DECODERS.values()),
                                                re.compile(r"FORM-[0-9]{6}"))))
    state, _ = flow.step(State(), CodeScanned("T000001"), NOW)
    state, effects = flow.step(state, CodeScanned("FORM-000123"), NOW)
    (record,) = [e for e in effects if isinstance(e, Record)]
    (fact,) = record.facts
    assert fact.data["source"] == "form" and fact.data["form"] == "FORM-000123"
    assert fact.data["person"] == {"id_type": "other", "id_number": "FORM-000123", "name": "",
                                   "gender": "unknown", "birth": ""}
    _, effects = flow.step(state, CodeScanned("FORM-000123"), NOW)
    (signal,) = [e for e in effects if isinstance(e, Signal)]
    assert signal.reason == "already_in_tube"
    # A station without a form pattern does not know such a code.
    _, effects = Workflow(rules()).step(state, CodeScanned("FORM-000124"), NOW)
    (signal,) = [e for e in effects if isinstance(e, Signal)]
    assert signal.reason == "unrecognised_code"
