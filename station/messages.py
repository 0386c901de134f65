"""What flows into the workflow (past-tense events) and out of it (imperative effects).

Drivers produce events; the workflow turns them into effects; the runner performs the
effects. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from station.identity import Person

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
    device: str  # "card_reader", "scanner", "printer", "lights", "storage"
    reason: str


@dataclass(frozen=True, slots=True)
class DeviceRecovered:
    device: str


Event = CodeScanned | CardRead | CardFailed | DeviceFaulted | DeviceRecovered

# --- effects: what to do -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fact:
    """One event of the MQTT contract, before the store gives it seq, id and ts."""

    type: str
    data: dict[str, Any]


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


# Patterns the operator sees and hears; the lights driver maps each to lamps + buzzer.
PATTERNS = (
    "ready",       # idle, no open tube: scan a tube
    "tube_open",   # a tube is open and has room
    "accepted",    # a person joined the tube
    "one_left",    # accepted, and one place is left
    "sealed",      # the tube sealed itself (full) or by the operator
    "duplicate",   # accepted, but the person was already sampled today
    "refused",     # nothing recorded: read the log / printed reason
    "done",        # a box closed, a void or undo succeeded
    "fault",       # a device or the storage needs attention
)


@dataclass(frozen=True, slots=True)
class Signal:
    pattern: str
    message: str  # safe to log: personal data already masked


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

