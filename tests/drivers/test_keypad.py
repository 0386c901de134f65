"""The keypad for people without a card or a code: real evdev.InputEvent sequences into
the decoder (no /dev/uinput here), then typed numbers through the workflow."""

from __future__ import annotations

import re

import pytest

evdev = pytest.importorskip("evdev")
from evdev import InputEvent, ecodes  # noqa: E402

from drivers.keypad.evdev_keypad import KeypadDecoder  # noqa: E402
from station.config import ConfigError  # noqa: E402
from station.core.codes import PERSON_DECODERS, Classifier  # noqa: E402
from station.core.messages import CodeScanned, EntryCleared, NumberTyped, Record, Signal  # noqa: E402
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
    return [number for number in found if number is not None]


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
    noise = press(ecodes.KEY_KPPLUS) + press(ecodes.KEY_A) + press(ecodes.KEY_NUMLOCK)
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


# --- typed numbers through the workflow ------------------------------------------------

def typed(text: str) -> tuple[State, list[Signal], list[Record]]:
    flow = Workflow(rules())
    state, _ = flow.step(State(), CodeScanned("T000001"), NOW)
    state, effects = flow.step(state, NumberTyped(text), NOW)
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
    ("T000001", "bad_id_number"),         # a tube id typed is not a tube: only people here
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
