"""The collected events folded into what reports read: registrations with their status
(registered, cancelled, voided), boxes, sealing times, open tubes, and tube or box ids
that arrived from more than one station. Station by station: a station's events never
touch another's register.

The fold opens nothing: it reads the events after the report's opening stage
(opening_pool.unsealed), every registration with its person opened, counted or shown
as not opened, and the paper cards' typed data. A sealed registration here is a report
that skipped the stage, and is refused rather than passed over."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby
from operator import attrgetter
from typing import Any, Literal, NamedTuple

from contract.events import (
    BoxClosed,
    BoxClosedEvent,
    BoxDispatched,
    BoxDispatchedEvent,
    Event,
    SampleCancelledEvent,
    SampleRegistered,
    SampleRegisteredEncryptedEvent,
    SampleRegisteredEvent,
    TubeOpenedEvent,
    TubeReleasedEvent,
    TubeSealedEvent,
    TubeVoidedEvent,
)
from contract.id_numbers import InvalidIdNumber, validate_id_number

log = logging.getLogger("central.reports")

TimeSource = Literal["station", "central"]
# Where a registration's phone came from, as the call lists say it (电话来源): recorded at
# the lane (a code's, or typed after the card), typed from the paper card, filled from
# the roster's row of the person's document (roster_fill.py), or the guardian's: a child
# under its guardian's document has no phone of its own, so whatever phone reaches it
# (the lane's, the card's, the roster's row of that document) reaches the guardian.
PhoneSource = Literal["lane", "form", "roster", "guardian", ""]


def phone_source(id_type: str, came: PhoneSource) -> PhoneSource:
    """Where a person's phone came from: a child's is the guardian's, wherever it came."""
    return "guardian" if id_type == "guardian" and came else came


Who = tuple[str, ...]   # who a registration is, as reports link one to another (`who`)


class TypedCard(NamedTuple):
    """A paper card's data as imported (central.intake.forms): its document's number, the
    name, the type the card named ("" or "other": the number's own, as before 1.5), and
    the phone written on it."""

    id_number: str
    name: str
    id_type: str = ""
    phone: str = ""


@dataclass
class Registration:
    site: str
    station: str
    box: str
    tube: str
    position: int
    time: str
    id_type: str
    id_number: str
    name: str
    gender: str
    source: str  # card | qr | manual | form: how the person reached the station
    status: str  # registered | cancelled | voided
    form: str = ""        # a paper card's serial
    operator: str = ""    # 1.3: the badge signed in at the lane (登记人); "" when none
    typed: bool = True    # False: a card whose data has not been imported yet
    # Whose clock `time` is: the station's, or (its clock unset) central's, on receipt.
    # Every report that prints the time prints this beside it (时间来源).
    time_source: TimeSource = "station"
    phone: str = ""          # 1.3: how to reach the person (a code's, the keypad's, a card's)
    phone_source: PhoneSource = ""   # where `phone` came from (电话来源)
    address: str = ""        # 1.3: where they live now (现居住地)
    card_address: str = ""   # 1.3: the ID card's registered address (户籍地址)

    def row(self) -> dict[str, Any]:
        """Its fields as a report's row: all plain values, so a copy of them, not
        dataclasses.asdict's deep one (a third of a second in a follow-up of 10,000)."""
        return dict(vars(self))


def who(reg: Registration) -> Who | None:
    """Who a registration is, as one report links it to another (a retest to its pool, a
    later swab to a lost one): its document's type and number; for a child under its
    guardian's document also its name, as the lane's same-day check keys it, since the
    guardian's number is each of its children's. None: no number to link by."""
    if not reg.id_number:
        return None
    if reg.id_type == "guardian":
        return reg.id_type, reg.id_number, reg.name
    return reg.id_type, reg.id_number


@dataclass
class Projection:
    registrations: list[Registration]
    boxes: list[dict[str, Any]]           # box.closed data with site, station, ts, and
                                          # courier and dispatched (ts) once handed over
    # (site, station, tube) → when it was sealed; not a tube voided since (CMD:VOID of the
    # last sealed tube): it never goes to the lab, so is neither counted nor awaited.
    sealed: dict[tuple[str, str, str], str]
    open_tubes: list[tuple[str, str, str]]
    gaps: list[tuple[str, str, int, int]]
    collisions: list[tuple[str, str, list[tuple[str, str]]]]  # (tube|box, id, stations)
    # Which times a report counts (its period); `sealed` also holds times after it.
    counts: Callable[[str], bool] = lambda ts: True


class Projector:
    """Folds a station's events, in seq order, into the register and its boxes."""

    def __init__(self, forms: dict[str, TypedCard] | None = None,
                 used: dict[tuple[str, str], set[tuple[str, str]]] | None = None) -> None:
        self.forms = forms or {}   # serial → (id_number, name) typed from the card
        self.regs: list[Registration] = []
        self.current: dict[tuple[str, str, str, int], Registration] = {}
        self.by_tube: dict[tuple[str, str, str], list[Registration]] = defaultdict(list)
        self.boxes: list[dict[str, Any]] = []
        self.sealed: dict[tuple[str, str, str], str] = {}
        self.opened: set[tuple[str, str, str]] = set()
        # Which stations used each id: more than one is a collision the lab must hear of.
        self.used: dict[tuple[str, str], set[tuple[str, str]]] = (
            used if used is not None else defaultdict(set))

    def apply(self, event: Event) -> None:
        """One event, by its type; types a register does not need are passed over."""
        key = (event.site, event.station)
        match event:
            case SampleRegisteredEvent(data=data):
                self._registered(event, data)
            case SampleRegisteredEncryptedEvent():
                raise TypeError(f"{event.id}: a sealed registration reached the fold; a "
                                "report opens its persons first (opening_pool.unsealed)")
            case SampleCancelledEvent(data=data):
                if (reg := self.current.get((*key, data.tube, data.position))) is not None:
                    reg.status = "cancelled"
            case TubeVoidedEvent(data=data):
                for reg in self.by_tube[(*key, data.tube)]:
                    if reg.status == "registered":
                        reg.status = "voided"
                self.opened.discard((*key, data.tube))
                self.sealed.pop((*key, data.tube), None)
            case TubeOpenedEvent(data=data):
                self.opened.add((*key, data.tube))
                self.used[("tube", data.tube)].add(key)
            case TubeReleasedEvent(data=data):
                self.opened.discard((*key, data.tube))
            case TubeSealedEvent(data=data):
                self.opened.discard((*key, data.tube))
                self.sealed[(*key, data.tube)] = event.ts
            case BoxClosedEvent(data=data):
                self._boxed(event, data)
            case BoxDispatchedEvent(data=data):
                self._dispatched(event, data)

    def _registered(self, event: Event, data: SampleRegistered) -> None:
        person = data.person
        reg = Registration(event.site, event.station, "", data.tube, data.position, event.ts,
                           person.id_type, person.id_number, person.name, person.gender,
                           data.source, "registered", form=data.form,
                           operator=event.operator,
                           time_source="station" if event.clock_synced else "central",
                           phone=person.phone, phone_source="lane" if person.phone else "",
                           address=person.address, card_address=person.card_address)
        if reg.form:
            self._complete(reg)
        reg.phone_source = phone_source(reg.id_type, reg.phone_source)
        tube = (event.site, event.station, data.tube)
        self.regs.append(reg)
        self.current[(*tube, data.position)] = reg
        self.by_tube[tube].append(reg)

    def _complete(self, reg: Registration) -> None:
        """A paper card: the person as typed from it, once imported."""
        typed = self.forms.get(reg.form)
        if typed is None:
            reg.typed = False
            return
        reg.name = typed.name
        if typed.phone:   # the card's, over a placeholder's (which has none)
            reg.phone, reg.phone_source = typed.phone, "form"
        reg.id_type, reg.id_number, gender = card_document(typed, reg.id_type)
        reg.gender = gender or reg.gender

    def _dispatched(self, event: Event, data: BoxDispatched) -> None:
        for box in self.boxes:
            if box["box"] == data.box:
                box.update(courier=data.courier, dispatched=event.ts)

    def _boxed(self, event: Event, data: BoxClosed) -> None:
        site, station = event.site, event.station
        self.boxes.append({"site": site, "station": station, **data.data, "ts": event.ts})
        self.used[("box", data.box)].add((site, station))
        for name in data.tubes:
            for reg in self.by_tube[(site, station, name)]:
                reg.box = data.box


def card_document(typed: TypedCard, own_type: str) -> tuple[str, str, str]:
    """The document a typed paper card gives its registration: (type, number, gender,
    "" to keep the registration's)."""
    if typed.id_type not in ("", "other", "resident", "hmt_permit"):
        return typed.id_type, typed.id_number, ""   # a document the number cannot name
    try:
        facts = validate_id_number(typed.id_number)
    except InvalidIdNumber:
        # checked when imported: a number typed before that check stays as is
        return own_type, typed.id_number, ""
    return facts.id_type, facts.number, facts.gender


def project(events: Iterable[Event],
            gaps: list[tuple[str, str, int, int]] | None = None,
            forms: dict[str, TypedCard] | None = None) -> Projection:
    projector = Projector(forms)
    for event in events:
        projector.apply(event)
    return Projection(projector.regs, projector.boxes, projector.sealed,
                      sorted(projector.opened), gaps or [], collisions(projector.used))


def collisions(used: dict[tuple[str, str], set[tuple[str, str]]]) -> list[
        tuple[str, str, list[tuple[str, str]]]]:
    found = [(kind, name, sorted(stations)) for (kind, name), stations in sorted(used.items())
             if len(stations) > 1]
    for kind, name, stations in found:
        log.warning("%s id %s arrived from %d stations: %s", kind, name, len(stations),
                    ", ".join(f"{site}/{station}" for site, station in stations))
    return found


Station = tuple[str, str]


def by_station(events: Iterable[Event], forms: dict[str, TypedCard],
               used: dict[tuple[str, str], set[tuple[str, str]]]) -> Iterator[
                   tuple[Station, Projection]]:
    """Each station's projection in turn, from events ordered by station, then seq: a
    station's events never touch another's register, so only one station's is held at a
    time (a city's day folded at once held 10 GB). `used` gathers every station's tube
    and box ids, for the collisions."""
    for key, group in groupby(events, key=attrgetter("site", "station")):
        projector = Projector(forms, used)
        for event in group:
            projector.apply(event)
        yield key, Projection(projector.regs, projector.boxes, projector.sealed,
                              sorted(projector.opened), [], [])


def per_station(stations: Iterable[tuple[Station, Projection]],
                report: Callable[[Projection], list[Any]]) -> list[Any]:
    """A report made station by station, in the order of the stations' keys."""
    chunks = {key: report(p) for key, p in stations}
    return [row for key in sorted(chunks) for row in chunks[key]]
