"""Everything the station publishes matches the contract files, on a real broker."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import jsonschema
import msgspec
import pytest
from paho.mqtt import publish

import contract
from central.ingest.validation import Validators
from central.reports.opening import Opener
from contract.events import (
    ADDRESS_MAX,
    BADGE,
    EVENT_DATA,
    NAME_MAX,
    PHONE,
    Device,
    EventType,
    OperatorSignedOut,
    Person,
    SampleRegistered,
    SampleRegisteredEncryptedEvent,
    TubeSealed,
    TubeVoided,
    decode_event,
    encode_event,
)
from drivers.sam.text import CardText
from station.config import load
from station.core.messages import DeviceFaulted, DeviceRecovered, NumberTyped
from station.runner import Station
from tests.central_keys import key_pair
from tests.conftest import write_config
from tests.contract_tools import ajv_invalid, asyncapi_invalid, needs_node
from tests.people import LI, WANG, ZHANG, ZHAO
from tools.broker import LocalBroker
from tools.watch import Watcher, delivery_problems, kind_of

CONTRACT = Path(__file__).parents[2] / "contract"


def schema(name: str) -> jsonschema.Draft7Validator:
    document = json.loads((CONTRACT / name).read_text())
    jsonschema.Draft7Validator.check_schema(document)
    return jsonschema.Draft7Validator(
        document, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


EVENTS, STATUS = schema("events.schema.json"), schema("status.schema.json")
REPLY = schema("reply-replay.schema.json")


@pytest.fixture
def station(tmp_path: Path, broker: LocalBroker) -> Iterator[Station]:
    path = write_config(tmp_path, broker.url, pool_size=3)
    path.write_text(path.read_text() + '[staff]\npattern = "S[0-9]{7}"\n')
    config = load(path)
    running = Station(config)
    stop = threading.Event()
    core = threading.Thread(target=running.run, args=(stop,))
    core.start()
    assert running.ready.wait(10) and running.devices.scanner.opened.wait(10)
    yield running
    stop.set()
    core.join(10)


def act(station: Station, *inputs: Any) -> None:
    """Scan or present each input and wait until the station has signalled it."""
    lights, sim = station.devices.lights, station.devices.scanner_sim
    assert sim is not None
    for item in inputs:
        before = lights.shown
        if isinstance(item, CardText):
            assert station.devices.card_sim is not None
            station.devices.card_sim.present(item)
        elif isinstance(item, str):
            sim.scan(item)
        else:
            station.events.put(item)
        deadline = time.monotonic() + 10
        while lights.shown == before:
            assert time.monotonic() < deadline, f"no signal for {item!r}"
            time.sleep(0.005)


def publish_every_kind(station: Station, watcher: Watcher, broker: LocalBroker) -> None:
    """A session that makes the station publish every event type, status and a reply."""
    card = CardText("resident", ZHAO, "赵敏", "female", "2001-02-28",
                    address="北京市东城区某胡同1号")
    act(station,
        "S0107001",                                 # operator.signed_in
        "T000001", "T000002",                       # tube.opened, tube.released
        card, json.dumps({"id": LI, "name": "李四", "phone": "13800138000",
                          "address": "北京市朝阳区某路2号"}),
        NumberTyped(ZHANG + "+13900139000"),        # full: tube.sealed (full)
        "S0107002",                                 # operator.signed_out (handover), in
        "T000003", WANG, "CMD:UNDO",                # sample.cancelled
        WANG, "CMD:SEAL",                           # tube.sealed (operator)
        "T000004", LI, "CMD:VOID",                  # tube.voided
        "CMD:BOX", "S0100009",                      # box.closed, box.dispatched
        DeviceFaulted("printer", "paper out"), DeviceRecovered("printer"))
    last = station.store.last_seq
    assert watcher.wait_for(lambda w: w.has_seqs_up_to(last))
    root = contract.station_root(station.config.station.site, station.config.station.id)
    for command in ({"v": 1, "request_id": "r-1", "from_seq": 1, "to_seq": 2},
                    {"from_seq": 2, "to_seq": 1}):
        publish.single(f"{root}/cmd/replay", json.dumps(command), qos=1,
                       hostname="127.0.0.1", port=broker.port)
    assert watcher.wait_for(lambda w: len(replies(w)) == 2)


def replies(watcher: Watcher) -> list[dict[str, Any]]:
    return [m.body for m in watcher.messages if m.topic.endswith("/reply/replay")]


def published(watcher: Watcher, count: int) -> list[bytes]:
    """The first `count` events' payloads, byte for byte as the station published them."""
    return [m.payload for m in watcher.messages if kind_of(m.topic) == "events"][:count]


def test_every_event_and_status_matches_the_schemas(station: Station,
                                                     broker: LocalBroker) -> None:
    watcher = Watcher(broker.url).start()
    publish_every_kind(station, watcher, broker)
    events = watcher.events()[:station.store.last_seq]   # the replayed ones come after
    types = {e["type"] for e in events}
    # A lane seals every person (the default): sample.registered only from a lab bench.
    assert types == {"tube.opened", "tube.released", "sample.registered.encrypted",
                     "sample.cancelled", "tube.sealed", "tube.voided", "box.closed",
                     "device.fault", "device.recovered", "operator.signed_in",
                     "operator.signed_out", "box.dispatched"} == set(EVENT_DATA) - {
                         "sample.registered"}
    opener = Opener([key_pair()[0]])
    people = [msgspec.to_builtins(opener.open(sealed).data.person) for e in events
              if isinstance(sealed := decode_event(json.dumps(e)), SampleRegisteredEncryptedEvent)]
    assert {k for p in people for k in p} >= {"phone", "address", "card_address"}
    assert {e.get("operator") for e in events} == {"S0107001", "S0107002"}
    compiled = Validators()  # the collector's, on the same real payloads
    for event in events:
        EVENTS.validate(event)
        compiled.event(event)
    statuses = watcher.statuses()
    assert statuses and statuses[0]["state"] == "online"
    assert statuses[-1]["sam_id"] == "05010000000000001234567800000001"  # the emulator's
    for status in statuses:
        STATUS.validate(status)
        compiled.status(status)
    assert delivery_problems(events) == []
    # Built with the contract's records: each payload is, byte for byte, the contract's
    # encoding of what the contract's decoder reads from it.
    for payload in published(watcher, station.store.last_seq):
        assert encode_event(decode_event(payload)) == payload
    answered, refused = replies(watcher)
    for reply in (answered, refused):
        REPLY.validate(reply)
        compiled.reply(reply)
    assert answered["request_id"] == "r-1" and answered["republished"] == 2
    assert refused["error"].startswith("malformed")
    watcher.stop()


@needs_node
def test_the_outside_checkers_accept_every_payload_the_station_publishes(
        station: Station, broker: LocalBroker, tmp_path: Path) -> None:
    watcher = Watcher(broker.url).start()
    publish_every_kind(station, watcher, broker)
    events = watcher.events()[:station.store.last_seq]
    assert len({e["type"] for e in events}) == len(EVENT_DATA) - 1   # sealed, not plain
    assert ajv_invalid("events.schema.json", [(f"seq {e['seq']}", e) for e in events],
                       tmp_path) == []
    # Each event under its own message in asyncapi.yaml, as the official parser reads it.
    assert asyncapi_invalid([(e["type"], e) for e in events], tmp_path) == []
    assert ajv_invalid("status.schema.json",
                       [(s["state"], s) for s in watcher.statuses()], tmp_path) == []
    assert ajv_invalid("reply-replay.schema.json",
                       [(str(n), r) for n, r in enumerate(replies(watcher))], tmp_path) == []
    watcher.stop()


def test_the_schema_rejects_a_payload_off_contract() -> None:
    good: dict[str, Any] = {"v": 1, "id": "x", "site": "s", "station": "l", "seq": 1, "session": 1,
            "ts": "2026-11-22T08:00:00.000Z", "clock_synced": True, "type": "tube.sealed",
            "data": {"tube": "T000001", "count": 3, "reason": "full"}}
    EVENTS.validate(good)
    for broken in ({**good, "seq": 0}, {**good, "data": {"tube": "T1", "count": 3}},
                   {**good, "data": {**good["data"], "reason": "tired"}},
                   {**good, "type": "tube.lost"}):
        with pytest.raises(jsonschema.ValidationError):
            EVENTS.validate(broken)


def test_delivery_check_catches_gaps_reorders_and_changed_duplicates() -> None:
    def ev(seq: int, id_: str, data: str = "") -> dict[str, Any]:
        return {"id": id_, "seq": seq, "data": data}
    assert delivery_problems([ev(1, "a"), ev(2, "b"), ev(1, "a")]) == []
    assert delivery_problems([ev(1, "a"), ev(3, "c")]) != []
    assert delivery_problems([ev(2, "b"), ev(1, "a")]) != []
    assert delivery_problems([ev(1, "a"), ev(1, "a", "changed")]) != []


# --- each event's typed data against events.schema.json ------------------------------

DEFS = json.loads((CONTRACT / "events.schema.json").read_text())["definitions"]
JSON_TYPES = {str: "string", int: "integer", bool: "boolean"}


def schema_type(definition: dict[str, Any]) -> str:
    """The JSON type a property's schema allows: followed through $ref, from enums too."""
    if "$ref" in definition:
        return schema_type(DEFS[definition["$ref"].rsplit("/", 1)[1]])
    if "enum" in definition:
        (kind,) = {JSON_TYPES[type(v)] for v in definition["enum"]}
        return kind
    return str(definition["type"])


def python_type(hint: Any) -> str:
    """The JSON type a record field's annotation produces."""
    if get_origin(hint) is Literal:
        (kind,) = {JSON_TYPES[type(v)] for v in get_args(hint)}
        return kind
    if get_origin(hint) is tuple:
        return "array"
    if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
        return "object"
    return JSON_TYPES[hint]


def fields_of(cls: type) -> dict[str, tuple[str, bool]]:
    """field → (JSON type, required) of a contract record."""
    return {f.name: (python_type(f.type), f.required) for f in msgspec.structs.fields(cls)}


def fields_in_schema(definition: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    return {name: (schema_type(prop), name in definition.get("required", ()))
            for name, prop in definition["properties"].items()}


@pytest.mark.parametrize("event_type", sorted(EVENT_DATA))
def test_each_event_dataclass_is_its_schema(event_type: str) -> None:
    """Field names, required fields and types: the dataclass and the schema agree."""
    cls = EVENT_DATA[event_type]  # type: ignore[index]
    assert cls.type == event_type
    definition = DEFS[event_type]
    assert definition["additionalProperties"] is False
    assert fields_of(cls) == fields_in_schema(definition)


def test_the_person_dataclass_is_its_schema() -> None:
    assert fields_of(Person) == fields_in_schema(DEFS["person"])
    assert set(get_args(get_type_hints(Person)["id_type"])) == \
        set(DEFS["person"]["properties"]["id_type"]["enum"])
    assert set(get_args(get_type_hints(Person)["gender"])) == \
        set(DEFS["person"]["properties"]["gender"]["enum"])


def test_literal_sets_match_the_schema_enums() -> None:
    assert set(get_args(EventType)) == set(DEFS["envelope"]["properties"]["type"]["enum"])
    assert set(get_args(Device)) == set(DEFS["device"]["enum"])
    registered = DEFS["sample.registered"]["properties"]
    assert set(get_args(get_type_hints(SampleRegistered)["source"])) == \
        set(registered["source"]["enum"])
    assert set(get_args(get_type_hints(TubeSealed)["reason"])) == \
        set(DEFS["tube.sealed"]["properties"]["reason"]["enum"])
    assert set(get_args(get_type_hints(TubeVoided)["was"])) == \
        set(DEFS["tube.voided"]["properties"]["was"]["enum"])
    assert set(get_args(get_type_hints(OperatorSignedOut)["reason"])) == \
        set(DEFS["operator.signed_out"]["properties"]["reason"]["enum"])


def test_a_schema_drift_is_seen() -> None:
    """The comparison fails when a field is missing or typed otherwise."""
    sealed = DEFS["tube.sealed"]
    drifted = {**sealed, "properties": {**sealed["properties"], "count": {"type": "string"}}}
    assert fields_of(TubeSealed) != fields_in_schema(drifted)
    fewer = {**sealed, "required": ["tube", "count"]}
    assert fields_of(TubeSealed) != fields_in_schema(fewer)


def test_what_the_lane_checks_is_what_the_schema_allows() -> None:
    """A badge, phone, name or address the lane accepted and the schema refused would
    be quarantined at central after the operator was told it was recorded."""
    person = DEFS["person"]["properties"]
    assert DEFS["envelope"]["properties"]["operator"]["pattern"] == f"^{BADGE.pattern}$"
    assert DEFS["box.dispatched"]["properties"]["courier"]["pattern"] == f"^{BADGE.pattern}$"
    assert person["phone"]["pattern"] == f"^{PHONE.pattern}$"
    assert person["name"]["maxLength"] == NAME_MAX
    assert person["address"]["maxLength"] == person["card_address"]["maxLength"] == ADDRESS_MAX


def test_each_event_type_is_named_once_by_its_record_and_every_list_follows_it() -> None:
    """The record's `type` is the envelope's tag and the registry's key; the type list,
    the data union and the envelope union hold the same thirteen, no more, no fewer."""
    from typing import get_args, get_type_hints  # noqa: PLC0415

    from contract import events  # noqa: PLC0415

    envelopes = get_args(events.Event)
    records = [get_type_hints(cls)["data"] for cls in envelopes]
    assert [cls.__struct_config__.tag for cls in envelopes] == [r.type for r in records]
    assert set(records) == set(get_args(events.EventData)) == set(events.EVENT_DATA.values())
    assert sorted(events.EVENT_DATA) == sorted(get_args(events.EventType))
    assert len(records) == len(set(records)) == len(get_args(events.EventType))
