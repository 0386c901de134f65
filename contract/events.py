"""Each contract event's `data`, as a typed dataclass: what `events.schema.json` says, in
Python, so a misspelt field or event type is a mypy error at the desk rather than a
quarantined message at central. `tests/test_contract.py` checks every class against the
schema (field names, required fields, types), so the two cannot drift apart.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, cast, get_args

EventType = Literal["tube.opened", "tube.released", "sample.registered", "sample.cancelled",
                    "tube.sealed", "tube.voided", "box.closed", "device.fault",
                    "device.recovered"]
IdType = Literal["resident", "hmt_permit", "foreign", "other"]
Gender = Literal["male", "female", "unknown"]
Source = Literal["card", "qr", "manual", "form"]   # how a person reached the station
SealReason = Literal["full", "operator"]
VoidedWas = Literal["open", "sealed"]
# What can fault: the station's devices and its own storage.
Device = Literal["card_reader", "scanner", "printer", "lights", "storage"]

ID_TYPES: tuple[IdType, ...] = get_args(IdType)
GENDERS: tuple[Gender, ...] = get_args(Gender)
DEVICES: tuple[Device, ...] = get_args(Device)


@dataclass(frozen=True, slots=True)
class Person:
    """A person as recorded in `sample.registered.data.person`: personal data."""

    id_type: IdType
    id_number: str
    name: str
    gender: Gender
    birth: str  # ISO date, "" when unknown

    def to_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Person:
        return cls(id_type=data["id_type"], id_number=data["id_number"], name=data["name"],
                   gender=data["gender"], birth=data["birth"])


class _Data:
    """What every event's data has: its type, and its JSON form."""

    __slots__ = ()
    type: ClassVar[EventType]

    @property
    def data(self) -> dict[str, Any]:
        fields: dict[str, Any] = dataclasses.asdict(cast(Any, self))
        return fields


@dataclass(frozen=True, slots=True)
class TubeOpened(_Data):
    type: ClassVar[EventType] = "tube.opened"
    tube: str
    pool_size: int


@dataclass(frozen=True, slots=True)
class TubeReleased(_Data):
    """An empty open tube was put back unused; it may be opened again."""

    type: ClassVar[EventType] = "tube.released"
    tube: str


@dataclass(frozen=True, slots=True)
class SampleRegistered(_Data):
    type: ClassVar[EventType] = "sample.registered"
    tube: str
    position: int
    source: Source
    person: Person
    repeat_today: bool
    form: str = ""   # 1.2: a paper information card's serial, with source "form"

    @property
    def data(self) -> dict[str, Any]:
        fields: dict[str, Any] = dataclasses.asdict(self)
        if not self.form:
            del fields["form"]   # only a form registration carries it
        return fields


@dataclass(frozen=True, slots=True)
class SampleCancelled(_Data):
    type: ClassVar[EventType] = "sample.cancelled"
    tube: str
    position: int


@dataclass(frozen=True, slots=True)
class TubeSealed(_Data):
    type: ClassVar[EventType] = "tube.sealed"
    tube: str
    count: int
    reason: SealReason


@dataclass(frozen=True, slots=True)
class TubeVoided(_Data):
    type: ClassVar[EventType] = "tube.voided"
    tube: str
    count: int
    was: VoidedWas


@dataclass(frozen=True, slots=True)
class BoxClosed(_Data):
    type: ClassVar[EventType] = "box.closed"
    box: str
    tubes: tuple[str, ...]
    tube_count: int
    sample_count: int

    @property
    def data(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "tubes": list(self.tubes)}


@dataclass(frozen=True, slots=True)
class DeviceFault(_Data):
    type: ClassVar[EventType] = "device.fault"
    device: Device
    reason: str


@dataclass(frozen=True, slots=True)
class DeviceRecovery(_Data):
    type: ClassVar[EventType] = "device.recovered"
    device: Device


EventData = (TubeOpened | TubeReleased | SampleRegistered | SampleCancelled | TubeSealed
             | TubeVoided | BoxClosed | DeviceFault | DeviceRecovery)
EVENT_DATA: dict[EventType, type[EventData]] = {
    cls.type: cls for cls in (TubeOpened, TubeReleased, SampleRegistered, SampleCancelled,
                              TubeSealed, TubeVoided, BoxClosed, DeviceFault, DeviceRecovery)}
