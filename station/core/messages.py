"""What flows into the workflow (past-tense events) and out of it (imperative effects).

Drivers produce events; the workflow turns them into effects; the runner performs the
effects. Nothing here does I/O.
"""

from __future__ import annotations

from typing import Literal, get_args

import msgspec

from contract.events import EventData, Person
from drivers.lights.patterns import PatternName
from station.core.parts import FAULT_CUES, FaultCue, FaultKind, Part

# --- events: what happened -------------------------------------------------------


class CodeScanned(msgspec.Struct, frozen=True):
    text: str


# The document an operator chose with a key before typing (drivers.keypad: F1 passport,
# F2 港澳, F3 台湾); "" when none was: digits are then an ID number, letters a passport.
TypedDocument = Literal["", "passport", "hk_macao_pass", "taiwan_pass"]


class NumberTyped(msgspec.Struct, frozen=True):
    """An ID number or a document typed on the keypad and entered (source "manual")."""

    text: str
    document: TypedDocument = ""


class EntryCleared(msgspec.Struct, frozen=True):
    """A keypad entry left unfinished was cleared after the timeout."""


class CardRead(msgspec.Struct, frozen=True):
    person: Person


class CardFailed(msgspec.Struct, frozen=True):
    """A card was on the reader but could not be read: the operator must try again."""

    reason: str


class DeviceFaulted(msgspec.Struct, frozen=True):
    device: Part
    reason: str              # for the log: the driver's own words
    kind: FaultKind = "fault"   # for the operator: what to do about it (station.core.parts)


class DeviceRecovered(msgspec.Struct, frozen=True):
    device: Part


class Started(msgspec.Struct, frozen=True):
    """The station is up: tell the operator where things stand."""


class LinkChanged(msgspec.Struct, frozen=True):
    """The broker was reached, or lost."""

    up: bool


class Ticked(msgspec.Struct, frozen=True):
    """Time passed (a monotonic clock's seconds): reminders fall due on it."""

    at: float


Event = (CodeScanned | NumberTyped | EntryCleared | CardRead | CardFailed | DeviceFaulted
         | DeviceRecovered | Started | LinkChanged | Ticked)

# Why the station refused something: every refusal names one, so the operator is told
# which, by a spoken prompt and a screen line of its own (station.core.prompts).
Refusal = Literal[
    "no_tube_open",           # a person, but no tube is open
    "already_in_tube",        # the same person twice in one tube
    "sampled_today",          # already sampled today, and the site refuses repeats
    "bad_check_character",    # an ID number whose last character does not check
    "impossible_birth_date",  # an ID number born in the future, or on 31 February
    "bad_id_number",          # an ID number of the wrong length or characters
    "tube_closed",            # the tube was sealed or voided: never reopened
    "tube_busy",              # another tube with samples is open
    "nothing_to_do",          # SEAL, UNDO, VOID or BOX with nothing to act on
    "not_in_print_mode",      # NEWTUBE on a station with preprinted tubes
    "printer_fault",          # a tube that needs a label while the printer is faulted
    "unrecognised_code",      # garbage, an unknown command, a malformed person code
    "card_not_read",          # a card was on the reader but could not be read
    "not_signed_in",          # a registration with nobody signed in ([staff] required)
    "already_dispatched",     # the box left already (its courier scanned again, its slip)
    "bad_phone",              # a code's or the keypad's phone number is not one
    "phone_wanted",           # a card waits for its phone: anything else is refused
    "phone_without_card",     # a phone typed with no card read ([station] phone)
    "bad_passport",           # not 5-17 uppercase letters and digits
    "bad_permit",             # a 港澳 (H/M + 8 digits) or 台湾 (8 digits) permit of another form
    "bad_document",           # a code naming an unknown document, a child without a name
    "choose_document",        # typed letters of the lane's tube (or badge) form: F1-F3 first
]
REFUSALS: tuple[Refusal, ...] = get_args(Refusal)

# What the station tells the operator when it did something (or something happened);
# and of a fault, what the operator can do about it (FaultCue, by part in station.core.parts).
Done = Literal[
    "ready",             # nothing open: scan a tube
    "tube_opened",
    "tube_still_open",   # the open tube scanned again
    "accepted",          # a person at the next position
    "one_left",          # accepted, and one place is left
    "duplicate",         # accepted, but sampled earlier today (the site warns)
    "sealed_full",       # the tube filled up and sealed itself: change tubes
    "sealed_early",      # the operator sealed it
    "undone",
    "voided",
    "box_closed",
    "device_back",       # a device recovered
    "offline",           # no broker for a while: records are kept
    "entry_cleared",     # a keypad entry left unfinished was cleared: type it again
    "signed_in",         # a badge signed in at the lane
    "signed_out",        # the same badge again, or CMD:SIGNOUT
    "handed_over",       # another badge took over the lane; the open tube stays open
    "courier_wanted",    # a box waits for its courier's badge (after CMD:BOX, or its slip)
    "dispatched",        # the courier took the boxes
    "box_waiting",       # a reminder: a closed box is still at the lane
    "phone_asked",       # a card read, held for its phone (Enter alone: without one)
    "phone_required",    # a card read, held until its phone comes
    "card_dropped",      # CMD:UNDO dropped a card held for its phone: nothing recorded
]
Outcome = Done | FaultCue
OUTCOMES: tuple[Outcome, ...] = (*get_args(Done), *FAULT_CUES)
Cue = Refusal | Outcome
CUES: tuple[Cue, ...] = (*REFUSALS, *OUTCOMES)

# What each cue looks like on the tower. Refusals all show red: the prompt and the
# screen say which.
CUE_PATTERNS: dict[Cue, PatternName] = {
    **dict.fromkeys(REFUSALS, "refused"),
    **dict.fromkeys(FAULT_CUES, "fault"),
    "ready": "ready", "tube_opened": "tube_open", "tube_still_open": "tube_open",
    "accepted": "accepted", "one_left": "one_left", "duplicate": "duplicate",
    "sealed_full": "sealed", "sealed_early": "sealed", "undone": "done", "voided": "done",
    "box_closed": "done", "device_back": "done", "offline": "offline",
    "entry_cleared": "refused",
    "signed_in": "done", "signed_out": "done", "handed_over": "done",
    "courier_wanted": "done", "dispatched": "done", "box_waiting": "box_waiting",
    "phone_asked": "asking", "phone_required": "asking", "card_dropped": "done",
}

# --- effects: what to do -----------------------------------------------------------


# One event of the MQTT contract, before the store gives it seq, id and ts.
Fact = EventData


class Mark(msgspec.Struct, frozen=True):
    """One change to a set the state keeps all day (closed tubes, people sampled today).

    The workflow says what it changed, so the store writes that row and never has to
    compare whole sets of thousands at every registration.
    """

    set: str        # "closed_tubes" | "sampled_today"
    value: str
    present: bool


class Record(msgspec.Struct, frozen=True):
    """Commit these facts (and the new state) atomically before anything else."""

    facts: tuple[Fact, ...]
    marks: tuple[Mark, ...] = ()


class Signal(msgspec.Struct, frozen=True):
    """Tell the operator: a light pattern, a spoken prompt and a screen line, all by cue."""

    cue: Cue
    message: str  # safe to log: personal data already masked
    position: int | None = None   # the person's place in the tube, where one applies
    pool_size: int | None = None  # the tube's places, where a tube is concerned
    who: str = ""                 # the masked person, where one applies
    count: int | None = None      # samples sealed, to sample again, or in the box
    tubes: int | None = None      # tubes in a closed box
    again: bool = False           # a reminder: the screen keeps the last outcome
    quiet: bool = False           # lights only: said already
    hold: PatternName | None = None   # what the tower holds after the cue (the workflow's)

    @property
    def pattern(self) -> PatternName:
        return CUE_PATTERNS[self.cue]

    @property
    def reason(self) -> Refusal | None:
        """Why, for every refusal; None when nothing was refused."""
        return next((r for r in REFUSALS if r == self.cue), None)


class TubeLabel(msgspec.Struct, frozen=True):
    tube: str
    pool_size: int
    person: str = ""  # masked name and number, single sampling only


class HandoverSlip(msgspec.Struct, frozen=True):
    box: str
    tubes: tuple[str, ...]
    sample_count: int
    courier: str = ""   # the courier's badge, on the slip printed at dispatch


class PrintLabel(msgspec.Struct, frozen=True):
    label: TubeLabel | HandoverSlip


Effect = Record | Signal | PrintLabel

