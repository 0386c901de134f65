"""Each contract event's `data`, as a typed frozen record (a msgspec Struct): what
`events.schema.json` says, in Python, so a misspelt field or event type is a mypy error
at the desk rather than a quarantined message at central. `tests/contract/test_contract.py`
checks every class against the schema (field names, required fields, types), so the two
cannot drift apart.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, ClassVar, Literal, get_args

import msgspec

EventType = Literal["tube.opened", "tube.released", "sample.registered", "sample.cancelled",
                    "tube.sealed", "tube.voided", "box.closed", "device.fault",
                    "device.recovered", "operator.signed_in", "operator.signed_out",
                    "box.dispatched", "sample.registered.encrypted"]
# The documents a person is registered by. resident, hmt_permit (the 81/82/83 residence
# permit) and foreign (the permanent resident card) come from the card reader or an
# 18-character number; 1.5 adds the travel documents, typed or from a code: a passport,
# the 港澳居民来往内地通行证 (hk_macao_pass) and the 台湾居民来往大陆通行证 (taiwan_pass).
DocumentType = Literal["resident", "hmt_permit", "foreign", "passport", "hk_macao_pass",
                       "taiwan_pass"]
# guardian (1.5): a child with no document of its own, registered under its guardian's
# (the number is the guardian's, its type in `guardian_id_type`); other: a paper card's
# placeholder (the number is the card's serial).
IdType = Literal["resident", "hmt_permit", "foreign", "passport", "hk_macao_pass",
                 "taiwan_pass", "guardian", "other"]
Gender = Literal["male", "female", "unknown"]
Source = Literal["card", "qr", "manual", "form"]   # how a person reached the station
SealReason = Literal["full", "operator"]
VoidedWas = Literal["open", "sealed"]
SignOutReason = Literal["operator", "handover"]   # the badge again or CMD:SIGNOUT; another
# What can fault: the station's devices and its own storage.
Device = Literal["card_reader", "scanner", "printer", "lights", "storage"]

# What the schema lets a badge, a phone, a name and an address be: the station refuses
# what does not fit at the lane, where it is said, rather than have central quarantine
# an event it already told the operator was recorded. tests/contract/test_contract.py compares.
BADGE = re.compile(r"[A-Za-z0-9_-]{1,32}")
PHONE = re.compile(r"\+?[0-9][0-9 -]{4,19}")
# A mainland mobile number: what the lane takes typed after a card (station.core.phone_flow)
# and central from a paper card (central.intake.forms), where a digit dropped is common.
MOBILE = re.compile(r"1[3-9][0-9]{9}")
NAME_MAX, ADDRESS_MAX = 120, 200

ID_TYPES: tuple[IdType, ...] = get_args(IdType)
DOCUMENT_TYPES: tuple[DocumentType, ...] = get_args(DocumentType)
GENDERS: tuple[Gender, ...] = get_args(Gender)
DEVICES: tuple[Device, ...] = get_args(Device)


class Person(msgspec.Struct, frozen=True, omit_defaults=True):
    """A person as recorded in `sample.registered.data.person`: personal data, all of it
    here and nowhere else in an event (so it can be sealed as one). The ways to reach the
    person (1.3) are left out of the JSON when unknown, as a 1.2 consumer expects."""

    id_type: IdType
    id_number: str
    name: str
    gender: Gender
    birth: str  # ISO date, "" when unknown
    phone: str = ""          # 1.3: from a pre-registration code or the keypad
    address: str = ""        # 1.3: where the person lives now (现居住地), from a code
    card_address: str = ""   # 1.3: the ID card's registered address (住址)
    # 1.5: with id_type "guardian", the type of the guardian's document in id_number.
    guardian_id_type: Literal[DocumentType, ""] = ""

    def to_json(self) -> dict[str, str]:
        fields: dict[str, str] = msgspec.to_builtins(self)
        return fields

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Person:
        return msgspec.convert(data, cls)


class _Data:
    """What every event's data has: its type, and its JSON form."""

    __slots__ = ()
    type: ClassVar[EventType]

    @property
    def data(self) -> dict[str, Any]:
        fields: dict[str, Any] = msgspec.to_builtins(self)
        return fields


class TubeOpened(_Data, msgspec.Struct, frozen=True):
    type: ClassVar[EventType] = "tube.opened"
    tube: str
    pool_size: int


class TubeReleased(_Data, msgspec.Struct, frozen=True):
    """An empty open tube was put back unused; it may be opened again."""

    type: ClassVar[EventType] = "tube.released"
    tube: str


class SampleRegistered(_Data, msgspec.Struct, frozen=True, omit_defaults=True):
    type: ClassVar[EventType] = "sample.registered"
    tube: str
    position: int
    source: Source
    person: Person
    repeat_today: bool
    form: str = ""   # 1.2: a paper information card's serial, with source "form"; else left out


class SampleRegisteredEncrypted(_Data, msgspec.Struct, frozen=True, omit_defaults=True):
    """1.4: a registration whose person is sealed to central's key (contract/sealed.py):
    the same facts as sample.registered, `person_jwe` in place of `person`."""

    type: ClassVar[EventType] = "sample.registered.encrypted"
    tube: str
    position: int
    source: Source
    person_jwe: str
    repeat_today: bool
    form: str = ""

    @classmethod
    def of(cls, registered: SampleRegistered, person_jwe: str) -> SampleRegisteredEncrypted:
        return cls(registered.tube, registered.position, registered.source, person_jwe,
                   registered.repeat_today, registered.form)

    def opened(self, person: Person) -> SampleRegistered:
        return SampleRegistered(self.tube, self.position, self.source, person,
                                self.repeat_today, self.form)


class SampleCancelled(_Data, msgspec.Struct, frozen=True):
    type: ClassVar[EventType] = "sample.cancelled"
    tube: str
    position: int


class TubeSealed(_Data, msgspec.Struct, frozen=True):
    type: ClassVar[EventType] = "tube.sealed"
    tube: str
    count: int
    reason: SealReason


class TubeVoided(_Data, msgspec.Struct, frozen=True):
    type: ClassVar[EventType] = "tube.voided"
    tube: str
    count: int
    was: VoidedWas


class BoxClosed(_Data, msgspec.Struct, frozen=True):
    type: ClassVar[EventType] = "box.closed"
    box: str
    tubes: tuple[str, ...]
    tube_count: int
    sample_count: int

    @property
    def data(self) -> dict[str, Any]:
        return {**msgspec.structs.asdict(self), "tubes": list(self.tubes)}


class DeviceFault(_Data, msgspec.Struct, frozen=True):
    type: ClassVar[EventType] = "device.fault"
    device: Device
    reason: str


class DeviceRecovery(_Data, msgspec.Struct, frozen=True):
    type: ClassVar[EventType] = "device.recovered"
    device: Device


class OperatorSignedIn(_Data, msgspec.Struct, frozen=True):
    """1.3: a staff badge scanned at the lane; this operator registers from now on."""

    type: ClassVar[EventType] = "operator.signed_in"
    operator: str


class OperatorSignedOut(_Data, msgspec.Struct, frozen=True):
    type: ClassVar[EventType] = "operator.signed_out"
    operator: str
    reason: SignOutReason


class BoxDispatched(_Data, msgspec.Struct, frozen=True):
    """1.3: a closed box left with its courier (the badge scanned)."""

    type: ClassVar[EventType] = "box.dispatched"
    box: str
    courier: str
    tube_count: int
    sample_count: int


EventData = (TubeOpened | TubeReleased | SampleRegistered | SampleCancelled | TubeSealed
             | TubeVoided | BoxClosed | DeviceFault | DeviceRecovery | OperatorSignedIn
             | OperatorSignedOut | BoxDispatched | SampleRegisteredEncrypted)
EVENT_DATA: dict[EventType, type[EventData]] = {cls.type: cls for cls in get_args(EventData)}


# --- the envelope: an event as published, typed by its `type` -----------------------


class Envelope(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True,
               tag_field="type"):
    """What every event carries around its data; one subclass per type, tagged by the
    envelope's own `type`, so a decoded event's `data` is the record of that type."""

    v: int
    id: str
    site: str
    station: str
    seq: int
    session: int
    ts: str
    clock_synced: bool
    operator: str = ""   # 1.3: the badge signed in at the lane; "" when none (or older)


class TubeOpenedEvent(Envelope, frozen=True, kw_only=True, tag=TubeOpened.type):
    data: TubeOpened


class TubeReleasedEvent(Envelope, frozen=True, kw_only=True, tag=TubeReleased.type):
    data: TubeReleased


class SampleRegisteredEvent(Envelope, frozen=True, kw_only=True, tag=SampleRegistered.type):
    data: SampleRegistered


class SampleRegisteredEncryptedEvent(Envelope, frozen=True, kw_only=True,
                                     tag=SampleRegisteredEncrypted.type):
    data: SampleRegisteredEncrypted


class SampleCancelledEvent(Envelope, frozen=True, kw_only=True, tag=SampleCancelled.type):
    data: SampleCancelled


class TubeSealedEvent(Envelope, frozen=True, kw_only=True, tag=TubeSealed.type):
    data: TubeSealed


class TubeVoidedEvent(Envelope, frozen=True, kw_only=True, tag=TubeVoided.type):
    data: TubeVoided


class BoxClosedEvent(Envelope, frozen=True, kw_only=True, tag=BoxClosed.type):
    data: BoxClosed


class DeviceFaultEvent(Envelope, frozen=True, kw_only=True, tag=DeviceFault.type):
    data: DeviceFault


class DeviceRecoveredEvent(Envelope, frozen=True, kw_only=True, tag=DeviceRecovery.type):
    data: DeviceRecovery


class OperatorSignedInEvent(Envelope, frozen=True, kw_only=True, tag=OperatorSignedIn.type):
    data: OperatorSignedIn


class OperatorSignedOutEvent(Envelope, frozen=True, kw_only=True, tag=OperatorSignedOut.type):
    data: OperatorSignedOut


class BoxDispatchedEvent(Envelope, frozen=True, kw_only=True, tag=BoxDispatched.type):
    data: BoxDispatched


Event = (TubeOpenedEvent | TubeReleasedEvent | SampleRegisteredEvent | SampleCancelledEvent
         | TubeSealedEvent | TubeVoidedEvent | BoxClosedEvent | DeviceFaultEvent
         | DeviceRecoveredEvent | OperatorSignedInEvent | OperatorSignedOutEvent
         | BoxDispatchedEvent | SampleRegisteredEncryptedEvent)
# Each type's envelope, by its record's type: how a lane puts a record in its envelope.
ENVELOPES: dict[str, type[Event]] = {str(cls.__struct_config__.tag): cls
                                     for cls in get_args(Event)}
# Not strict: the schema's "integer" takes 7.0 for 7, and so does this.
_EVENT_DECODER = msgspec.json.Decoder(Event, strict=False)
_EVENT_ENCODER = msgspec.json.Encoder()


def encode_event(event: Event) -> bytes:
    """An event's JSON as a lane stores and publishes it: compact UTF-8, `type` first,
    then the envelope's fields as declared, then `data`; a field at its default (no
    operator, a registration's empty form) left out, as the schema asks. The contract
    says nothing of the order of fields: a consumer reads them by name (decode_event
    reads the order lanes wrote before #37 too)."""
    return _EVENT_ENCODER.encode(event)


def decode_event(payload: bytes | str) -> Event:
    """An event's JSON as its typed record, for what has passed the schema (central's
    stored events). It checks types, not every rule of the schema (patterns, bounds):
    the collector validates with the schema itself (central/validation.py, which says
    why). tests/central/test_validation.py proves it reads every message the schema accepts."""
    try:
        return _EVENT_DECODER.decode(payload)
    except msgspec.ValidationError:
        # The schema's "integer" takes any integral number, 9007199254740994.0 too,
        # which the fast path will not turn into an int: read such numbers exactly.
        loaded = json.loads(payload, parse_float=_integral_or_float)
        event: Event = msgspec.convert(loaded, Event, strict=False)
        return event


def _integral_or_float(text: str) -> int | float:
    exact = Decimal(text)
    return int(exact) if exact == exact.to_integral_value() else float(text)
