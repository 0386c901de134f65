"""A card-holder's phone, typed after the card is read ([station] phone = "ask" or
"require"): the card is held in the state, unrecorded, until its phone comes.

Why held rather than recorded at once with the phone sent after it: a registration is
one event, sealed whole, so central never holds a person whose phone is still to come
and the contract needs no event to join later; a power cut while a card waits loses
nothing the operator was told was recorded (the lane said 请输入电话, never 第N位).
Why after the card rather than before it: a phone typed ahead waits for whichever card
comes next, and the wrong person's phone on a recall list is worse than none. While a
card waits, everything but its phone (typed, Enter alone where the site allows, or the
person's own code holding one) and CMD:UNDO is refused and said, so the tube cannot
fill, seal or take the next card around a person not yet recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from msgspec.structs import replace

from contract.events import MOBILE, Person, Source
from station.core.codes import BadCode, CommandCode, PersonCode
from station.core.identity import mask_name, masked
from station.core.messages import CardRead, CodeScanned, Cue, NumberTyped, Record, Signal
from station.core.state import Result, Rules, State

# What a phone typed on the keypad is: a mainland mobile number (contract.events.MOBILE).
# Eleven digits cannot be an ID number (18 characters, or 15 digits), so the keypad's two
# meanings never meet.

Register = Callable[[State, Person, Source], Result]


def _wanted(state: State, message: str) -> Result:
    who = masked(state.held) if state.held is not None else ""
    return state, (Signal("phone_wanted", message, who=who),)


def card_read(rules: Rules, state: State, person: Person, register: Register) -> Result:
    """A card: recorded at once where the site takes no phones; else held and asked for,
    unless the lane would refuse the person anyway (then that is said now, not after
    the operator typed eleven digits)."""
    if rules.phone == "off" or person.phone:
        return register(state, person, "card")
    trial = register(state, person, "card")
    if not any(isinstance(effect, Record) for effect in trial[1]):
        return trial
    tube = state.tube
    cue: Cue = "phone_asked" if rules.phone == "ask" else "phone_required"
    return replace(state, held=person), (Signal(
        cue, f"{mask_name(person.name)}: card read, waiting for the phone",
        tube.count + 1 if tube is not None else 1, rules.pool_size, masked(person)),)


def typed_alone(rules: Rules, state: State, text: str) -> Result | None:
    """A keypad entry with no card waiting: Enter alone does nothing; a phone is said to
    come after the card (on a lane that asks for phones). None: an ID number's to judge."""
    if not text:
        return state, ()
    if rules.phone != "off" and MOBILE.fullmatch(text):
        return state, (Signal("phone_without_card", "a phone typed with no card read"),)
    return None


def _record(state: State, person: Person, register: Register) -> Result:
    """The waiting card recorded with its phone; refused now (a printer fault came on a
    single-sampling lane, the sign-in lapsed), the card still waits, phone untaken, with
    the refusal said: dropped, it would be gone with only the refusal's reason told."""
    after, effects = register(replace(state, held=None), person, "card")
    if any(isinstance(effect, Record) for effect in effects):
        return after, effects
    return replace(after, held=state.held), effects


def while_held(rules: Rules, state: State, event: CardRead | CodeScanned | NumberTyped,
               today: dt.date, register: Register) -> Result:
    """A card waits for its phone: only the phone, Enter alone (where allowed) or
    CMD:UNDO move the lane on."""
    held = state.held
    assert held is not None
    match event:
        case NumberTyped(text=""):
            if rules.phone == "require":
                return _wanted(state, "a phone is required: type it, or CMD:UNDO")
            return _record(state, held, register)
        case NumberTyped(text=text) if MOBILE.fullmatch(text):
            return _record(state, replace(held, phone=text), register)
        case NumberTyped(text=text):
            return state, (Signal("bad_phone", f"typed phone has {len(text)} characters: "
                                  "a mobile number has 11 digits, 1[3-9]…", who=masked(held)),)
        case CodeScanned(text=text):
            return _scanned(rules, state, text, today, register)
    return _wanted(state, "another card while one waits for its phone")


def _scanned(rules: Rules, state: State, text: str, today: dt.date,
             register: Register) -> Result:
    held = state.held
    assert held is not None
    try:
        code = rules.classifier.classify(text, today)
    except BadCode:
        return _wanted(state, "an unrecognised code while a card waits for its phone")
    free = replace(state, held=None)
    match code:
        case CommandCode(command="UNDO"):
            return free, (Signal("card_dropped", f"{mask_name(held.name)}: card dropped, "
                                 "nothing recorded", who=masked(held)),)
        case PersonCode(person=person) if person.id_number == held.id_number and person.phone:
            # The person's own code: its phone and where they live, the card's the rest.
            return _record(state, replace(held, phone=person.phone,
                                          address=held.address or person.address), register)
    return _wanted(state, "a scan while a card waits for its phone")
