"""The workflow's state and rules: what the pure core keeps between steps, and what a
site's config fixes for it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Literal, get_args
from zoneinfo import ZoneInfo

import msgspec

from contract.events import Person
from station.core.codes import Classifier
from station.core.messages import Effect
from station.core.parts import FaultCue, Part

OFFLINE_REMIND_S = 30.0   # the broker gone this long: the tower winks (said once)
FAULT_REMIND_S = 20.0     # while anything is faulted, the operator keeps hearing what


class Sample(msgspec.Struct, frozen=True):
    """What the lane keeps of a person in its tube: no more than it needs. The person
    itself leaves sealed, in the event (station.sealing)."""

    who: str            # the name masked (张*丰): the log, the screen, the snapshot
    key: str            # the ID number's digest, for "already in this tube / today"
    repeat_today: bool  # the person was already sampled today when this was accepted
    # The ID number masked (1101**********002X), for the operator on the screen only: in
    # memory, never in the snapshot or the log, where it would sit beside the digest and
    # narrow a thief's guesses (#39). A tube restored after a restart shows names only.
    number: str = ""

    @property
    def shown(self) -> str:
        return f"{self.who} {self.number}".rstrip()


class Tube(msgspec.Struct, frozen=True):
    tube: str
    samples: tuple[Sample, ...] = ()
    # The day it was opened: each sample's digest is under the key of the day it joined
    # (station.core.digests: a key a day), so a tube open past midnight checks each day
    # since this one and still knows who is in it.
    day: dt.date | None = None

    @property
    def count(self) -> int:
        return len(self.samples)

    def has(self, key: str) -> bool:
        return any(s.key == key for s in self.samples)

    def digest_of(self, number: str, today: dt.date,
                  digests: Callable[[dt.date, str], str]) -> tuple[str, bool]:
        """Today's digest of `number`, and whether the person is in this tube already:
        its samples carry the digests of the days they joined (since it was opened)."""
        key = digests(today, number)
        day = self.day if self.day is not None and self.day < today else today
        days = (day + dt.timedelta(days=n) for n in range(min((today - day).days, 31)))
        return key, self.has(key) or any(self.has(digests(d, number)) for d in days)

    def forgotten(self) -> Tube:
        """Its samples' digests blanked: under a key that is gone (another day's, a lost
        secret's), they could never match again, and need not stay on the card."""
        return msgspec.structs.replace(self, samples=tuple(
            msgspec.structs.replace(s, key="") for s in self.samples))


class BoxedTube(msgspec.Struct, frozen=True):
    tube: str
    count: int


class WaitingBox(msgspec.Struct, frozen=True):
    """A closed box still at the lane, waiting for its courier."""

    box: str
    tubes: tuple[str, ...]
    sample_count: int
    closed_at: dt.datetime


class State(msgspec.Struct, frozen=True):
    day: dt.date | None = None
    tube: Tube | None = None               # the open tube
    box: tuple[BoxedTube, ...] = ()        # tubes sealed since the last box, in order
    last_sealed: Tube | None = None        # the one CMD:VOID may still void
    closed_tubes: frozenset[str] = frozenset()   # sealed or voided: never reopened
    sampled_today: frozenset[str] = frozenset()  # the digests of their ID numbers
    minted: int = 0                        # tube ids this station has minted
    boxes: int = 0                         # boxes this station has closed
    operator: str = ""                     # the badge signed in; "" when nobody is
    waiting: tuple[WaitingBox, ...] = ()   # closed boxes not yet taken by a courier
    # Parts faulted now, each with what the operator is told, oldest first. Not in the
    # snapshot: after a restart each driver finds its device again or reports anew.
    faults: tuple[tuple[Part, FaultCue], ...] = ()
    # The link and the reminders' timers (monotonic seconds from `Ticked`): not in the
    # snapshot either; a new start begins offline, with nothing due.
    online: bool = False
    offline_due: float | None = None   # when the tower next winks "offline"
    offline_said: bool = False         # "网络断开" said this outage: not again until back
    fault_due: float | None = None     # when the faults are next said again
    # Custody, not in the snapshot either: after a restart the slip is scanned again.
    courier_wanted: bool = False       # the next badge is the waiting boxes' courier
    last_courier: str = ""             # the badge that just took boxes: not twice
    box_reminded: dt.datetime | None = None   # when the waiting boxes were last said
    # A card read on a lane that asks for phones ([station] phone), waiting for its phone:
    # recorded only with it, so never half-recorded. In memory only, never in the
    # snapshot (it is a whole person, unsealed): a restart drops it, unrecorded and
    # never announced as accepted, and the card is laid again.
    held: Person | None = None

    @property
    def faulted(self) -> frozenset[Part]:
        return frozenset(part for part, _ in self.faults)


class Rules(msgspec.Struct, frozen=True):
    station_id: str
    pool_size: int
    tubes: TubeSupply
    duplicate_today: DuplicatePolicy
    classifier: Classifier
    timezone: ZoneInfo
    tube_prefix: str = ""   # digits the district assigned this lane: minted ids start so
    offline_remind_s: float = OFFLINE_REMIND_S
    fault_remind_s: float = FAULT_REMIND_S
    staff_required: bool = False    # registrations refused while nobody is signed in
    box_reminder_s: float = 30 * 60.0   # a closed box still at the lane: said this often
    phone: PhonePolicy = "off"      # after a card read: record at once, or ask for a phone

    @property
    def single_sampling(self) -> bool:
        return self.pool_size == 1 and self.tubes == "print"


Result = tuple[State, tuple[Effect, ...]]
TubeSupply = Literal["preprinted", "print"]        # tubes come barcoded, or we print them
DuplicatePolicy = Literal["warn", "refuse"]        # a person sampled earlier today
# A card-holder's phone: "off" records a card when read (the card has no phone); "ask"
# holds it for a phone typed after it, Enter alone recording it without; "require" holds
# it until a phone comes (or CMD:UNDO drops it).
PhonePolicy = Literal["off", "ask", "require"]
PHONE_POLICIES: tuple[PhonePolicy, ...] = get_args(PhonePolicy)
TUBE_SUPPLIES: tuple[TubeSupply, ...] = get_args(TubeSupply)
DUPLICATE_POLICIES: tuple[DuplicatePolicy, ...] = get_args(DuplicatePolicy)


