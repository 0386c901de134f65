"""What flows into the workflow (past-tense events) and out of it (imperative effects).

Drivers produce events; the workflow turns them into effects; the runner performs the
effects. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from contract.events import Device, EventData, Person
from drivers.lights.patterns import PatternName

# --- events: what happened -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodeScanned:
    text: str


@dataclass(frozen=True, slots=True)
class CardRead:
    person: Person


@dataclass(frozen=True, slots=True)
class CardFailed:
    """A card was on the reader but could not be read: the operator must try again."""

    reason: str


@dataclass(frozen=True, slots=True)
class DeviceFaulted:
    device: Device
    reason: str


@dataclass(frozen=True, slots=True)
class DeviceRecovered:
    device: Device


Event = CodeScanned | CardRead | CardFailed | DeviceFaulted | DeviceRecovered

# Why the station refused something: every refusal names one, so the operator can be
# told which (a light and a message today; a spoken prompt builds on it).
Refusal = Literal[
    "no_tube_open",        # a person, but no tube is open
    "already_in_tube",     # the same person twice in one tube
    "sampled_today",       # already sampled today, and the site refuses repeats
    "bad_id_number",       # wrong check character, impossible birth date, …
    "tube_closed",         # the tube was sealed or voided: never reopened
    "tube_busy",           # another tube with samples is open
    "nothing_to_do",       # SEAL, UNDO, VOID or BOX with nothing to act on
    "not_in_print_mode",   # NEWTUBE on a station with preprinted tubes
    "unrecognised_code",   # garbage, an unknown command, a malformed person code
    "card_not_read",       # a card was on the reader but could not be read
]
REFUSALS: tuple[Refusal, ...] = get_args(Refusal)

# --- effects: what to do -----------------------------------------------------------


# One event of the MQTT contract, before the store gives it seq, id and ts.
Fact = EventData


@dataclass(frozen=True, slots=True)
class Mark:
    """One change to a set the state keeps all day (closed tubes, people sampled today).

    The workflow says what it changed, so the store writes that row and never has to
    compare whole sets of thousands at every registration.
    """

    set: str        # "closed_tubes" | "sampled_today"
    value: str
    present: bool


@dataclass(frozen=True, slots=True)
class Record:
    """Commit these facts (and the new state) atomically before anything else."""

    facts: tuple[Fact, ...]
    marks: tuple[Mark, ...] = ()


@dataclass(frozen=True, slots=True)
class Signal:
    pattern: PatternName
    message: str  # safe to log: personal data already masked
    reason: Refusal | None = None  # why, for every refusal


@dataclass(frozen=True, slots=True)
class TubeLabel:
    tube: str
    pool_size: int
    person: str = ""  # masked name and number, single sampling only


@dataclass(frozen=True, slots=True)
class HandoverSlip:
    box: str
    tubes: tuple[str, ...]
    sample_count: int


@dataclass(frozen=True, slots=True)
class PrintLabel:
    label: TubeLabel | HandoverSlip


Effect = Record | Signal | PrintLabel

