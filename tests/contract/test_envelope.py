"""The envelope around each event's data, as the contract declares it (contract/events.py)
and as a lane encodes it: every type in its own envelope, valid against the schema, and
read by central in the order lanes wrote before #37 as in the contract's own."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import get_type_hints

import jsonschema
import msgspec

import contract
from central.ingest.validation import Validators
from central.store.event_store import Arrived, Batch
from central.store.open import open_store
from contract.events import (
    ENVELOPES,
    EVENT_DATA,
    BoxClosed,
    BoxDispatched,
    DeviceFault,
    DeviceRecovery,
    Event,
    EventData,
    OperatorSignedIn,
    OperatorSignedOut,
    Person,
    SampleCancelled,
    SampleRegistered,
    SampleRegisteredEncrypted,
    TubeOpened,
    TubeReleased,
    TubeSealed,
    TubeVoided,
    decode_event,
    encode_event,
)
from contract.sealed import read_keys
from station.sealing import Sealer
from tests.central_keys import key_pair
from tests.people import ZHANG

EVENTS = jsonschema.Draft7Validator(contract.schema("events.schema.json"),
                                   format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


def test_each_type_has_the_envelope_of_its_record() -> None:
    """ENVELOPES, by which a lane puts a record in its envelope, pairs every type with
    the envelope whose `data` is that type's record."""
    assert {t: get_type_hints(cls)["data"] for t, cls in ENVELOPES.items()} == EVENT_DATA


def every_record() -> list[EventData]:
    """One record of each of the contract's event types, persons with every field."""
    person = Person("resident", ZHANG, "张三丰", "male", "1949-12-31", phone="13800138000",
                    address="北京市朝阳区某路2号", card_address="北京市东城区某胡同1号")
    registered = SampleRegistered("T000001", 1, "card", person, False)
    sealer = Sealer(read_keys(key_pair()[1], private=False)[0])
    return [TubeOpened("T000001", 10), TubeReleased("T000001"), registered,
            SampleRegistered("F0001", 2, "form", Person("other", "F0001", "", "unknown", ""),
                             False, form="F0001"),
            SampleCancelled("T000001", 1), TubeSealed("T000001", 3, "full"),
            TubeVoided("T000001", 0, "open"), BoxClosed("L1B00001", ("T000001",), 1, 3),
            DeviceFault("printer", "paper out"), DeviceRecovery("printer"),
            OperatorSignedIn("S0107001"), OperatorSignedOut("S0107001", "handover"),
            BoxDispatched("L1B00001", "S0100009", 1, 3),
            SampleRegisteredEncrypted.of(registered, sealer.seal("x", person))]


def test_typed_data_validates_in_an_envelope() -> None:
    samples = every_record()
    assert {s.type for s in samples} == set(EVENT_DATA)
    for data in samples:
        EVENTS.validate({"v": contract.VERSION, "id": "x", "site": "s", "station": "l",
                         "seq": 1, "session": 1, "ts": "2026-11-22T08:00:00.000Z",
                         "clock_synced": True, "type": data.type,
                         "data": json.loads(json.dumps(data.data))})


def before_37(event: Event) -> bytes:
    """An event as a lane encoded it before #37, from a dict it built by hand: the
    envelope's fields, `type`, `data`, then `operator` when one was signed in."""
    body = msgspec.to_builtins(event)
    order = ("v", "id", "site", "station", "seq", "session", "ts", "clock_synced", "type",
             "data", "operator")
    return json.dumps({k: body[k] for k in order if k in body}, ensure_ascii=False,
                      separators=(",", ":")).encode()


def test_central_reads_the_order_lanes_wrote_before_37_as_the_contracts_own(
        tmp_path: Path) -> None:
    """Lanes' outboxes and central's databases hold events in the order lanes wrote them
    before #37; a lane now writes the contract's encoding (`type` first). The contract
    says nothing of the order: both pass the schema and decode to the same record, also
    read back from central's store."""
    events = [ENVELOPES[data.type](
        v=contract.VERSION, id=f"e{n}", site="s", station="l", seq=n, session=1,
        ts="2026-11-22T08:00:00.000Z", clock_synced=True, operator="S0107001" if n % 2 else "",
        data=data) for n, data in enumerate(every_record(), 1)]  # type: ignore[arg-type]
    old, new = [before_37(e) for e in events], [encode_event(e) for e in events]
    assert all(o != n and json.loads(o) == json.loads(n) for o, n in zip(old, new, strict=True))
    assert all(n.startswith(b'{"type":') for n in new)
    compiled = Validators()
    for payload in (*old, *new):
        EVENTS.validate(json.loads(payload))
        compiled.event(json.loads(payload))
    assert [decode_event(o) for o in old] == [decode_event(n) for n in new] == events
    for name, payloads in (("old", old), ("new", new)):
        store = open_store(str(tmp_path / f"{name}.db"))
        texts = [p.decode() for p in payloads]
        store.write(Batch(events=[
            Arrived(json.loads(text), text, contract.event_topic("s", "l", event.data.type))
            for text, event in zip(texts, events, strict=True)]), NOW)
        assert list(store.iter_events()) == events
        store.close()
