"""The collector's compiled validators accept and reject exactly what jsonschema does.

Seeds: a valid message of every kind (each event type, each status state, both replies);
the corpus: those seeds mutated by hypothesis (keys dropped, values replaced by any JSON
value, keys added, the event type swapped so the data no longer fits, nested too)."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import contract
from central.ingest.validation import Invalid, Validators
from contract import events as ev
from tests.people import ZHANG

FAST = Validators()
KINDS = {"event": "events.schema.json", "status": "status.schema.json",
         "reply": "reply-replay.schema.json"}
# As the collector used it before: Draft 7, no format checker.
REFERENCE = {kind: jsonschema.Draft7Validator(contract.schema(name))
             for kind, name in KINDS.items()}


def envelope(data: Any) -> dict[str, Any]:
    return {"v": contract.VERSION, "id": "0b7c8f6e-5d1a-4c2e-9a3b-1f2e3d4c5b6a", "site": "s",
            "station": "l", "seq": 7, "session": 2, "ts": "2026-12-03T08:00:00.000Z",
            "clock_synced": True, "type": data.type, "data": json.loads(json.dumps(data.data))}


PERSON = ev.Person("resident", ZHANG, "张三丰", "male", "1949-12-31")
SEEDS: list[tuple[str, dict[str, Any]]] = [
    *(("event", envelope(d)) for d in (
        ev.TubeOpened("T000001", 10), ev.TubeReleased("T000001"),
        ev.SampleRegistered("T000001", 1, "card", PERSON, False),
        ev.SampleRegistered("T000001", 2, "qr", ev.Person("other", "X1", "", "unknown", ""), True),
        ev.SampleRegistered("T000001", 3, "form", ev.Person("other", "FORM-000123", "",
                                                            "unknown", ""), False,
                            "FORM-000123"),
        ev.SampleCancelled("T000001", 1), ev.TubeSealed("T000001", 3, "full"),
        ev.TubeVoided("T000001", 0, "open"), ev.BoxClosed("L1B00001", ("T000001",), 1, 3),
        ev.DeviceFault("printer", "paper out"), ev.DeviceRecovery("printer"))),
    *(("status", {"v": 1, "state": state, "site": "s", "station": "l", "session": 2,
                  "connection": 5, "backlog": backlog, "last_seq": 40,
                  "devices": {"scanner": "ok", "printer": "fault"}, "sam_id": sam,
                  "version": "0.1.0", "ts": "2026-12-03T08:00:00.000Z", "clock_synced": False})
      for state, backlog, sam in (("online", 0, "05010000000000001234567800000001"),
                                  ("offline", 3, ""), ("lost", -1, ""))),
    ("reply", {"v": 1, "request_id": "r-1", "from_seq": 1, "to_seq": 9, "served_to": 9,
               "limit": 500, "republished": 7, "purged": 2, "not_recorded": 0,
               "cut_from": None}),
    ("reply", {"v": 1, "request_id": "", "error": "malformed: need 1 <= from_seq <= to_seq"}),
]

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False)
    | st.text(max_size=12) | st.sampled_from(["", "T000001", "online", "sample.registered",
                                              "2026-12-03T08:00:00.000Z", "2026-13-45T99:00:00Z",
                                              "resident", 0, 1, -1]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6)


# Same kind, other value: what a station with a bug would send. Strings at the edges of
# patterns, enums, lengths and formats; numbers at the edges of minimums and sizes.
NEAR: dict[type, list[Any]] = {
    str: ["", " ", "x", "T000001", "Z", "2026-12-03T08:00:00.000", "2026-13-45T99:00:00Z",
          "2026-12-03T08:00:00+08:00", "x" * 65, "x" * 300, "online", "lost", "qr", "manual",
          "full", "sealed", "fault", "sample.registered", "110101194912310016", "测试"],
    int: [0, 1, -1, 2, 10, 11, 500, 501, 2**31, 2**53, True],
    bool: [False, True, 0, 1],
    float: [0.5, 1.0],
}


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document a mutation can reach."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def mutate(doc: dict[str, Any], data: st.DataObject) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        where = paths(doc)
        if not where:
            return doc
        path = data.draw(st.sampled_from(where))
        parent: Any = doc
        for step in path[:-1]:
            parent = parent[step]
        key = path[-1]
        action = data.draw(st.sampled_from(["drop", "replace", "near", "near", "add",
                                            "retype"]))
        if action == "near":  # a value of the same JSON kind, at an edge of the schema
            parent[key] = data.draw(st.sampled_from(NEAR.get(type(parent[key]), [None])))
        elif action == "drop":
            del parent[key]
        elif action == "replace":
            parent[key] = data.draw(JSON_VALUES)
        elif action == "add" and isinstance(parent, dict):
            parent[data.draw(st.text(max_size=8))] = data.draw(JSON_VALUES)
        elif action == "retype" and "type" in doc:
            doc["type"] = data.draw(st.sampled_from([*ev.EVENT_DATA, "tube.lost"]))
    return doc


def fast_accepts(kind: str, body: Any) -> bool:
    try:
        getattr(FAST, kind)(body)
    except Invalid:
        return False
    return True


@pytest.mark.parametrize(("kind", "body"), SEEDS, ids=[f"{k}-{n}" for n, (k, _) in
                                                        enumerate(SEEDS)])
def test_every_seed_is_valid_to_both(kind: str, body: dict[str, Any]) -> None:
    assert REFERENCE[kind].is_valid(body)
    assert fast_accepts(kind, body)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.data())
def test_the_compiled_validator_agrees_with_jsonschema_on_mutated_messages(
        seed: tuple[str, dict[str, Any]], data: st.DataObject) -> None:
    kind, body = seed
    mutated = mutate(body, data)
    assert fast_accepts(kind, mutated) == REFERENCE[kind].is_valid(mutated), mutated


def neighbours(body: dict[str, Any]) -> list[Any]:
    """Every message one step from `body`: each place dropped, or given each NEAR value
    of its kind; the event type swapped for each other one."""
    found: list[Any] = []
    for path in paths(body):
        for value in [DROP, *NEAR.get(type(lookup(body, path)), [])]:
            changed = copy.deepcopy(body)
            parent = lookup(changed, path[:-1])
            if value is DROP:
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
            found.append(changed)
    if "type" in body:
        found += [{**body, "type": other} for other in ev.EVENT_DATA]
    return found


DROP = object()


def lookup(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        doc = doc[step]
    return doc


def test_the_compiled_validator_agrees_on_every_neighbour_of_every_seed() -> None:
    verdicts = {True: 0, False: 0}
    for kind, body in SEEDS:
        for changed in neighbours(body):
            expected = REFERENCE[kind].is_valid(changed)
            assert fast_accepts(kind, changed) == expected, (kind, changed)
            verdicts[expected] += 1
    assert verdicts[True] > 100 and verdicts[False] > 1000, verdicts  # both sides exercised


def test_a_refusal_names_what_is_wrong() -> None:
    body = envelope(ev.TubeSealed("T000001", 3, "full"))
    body["data"]["reason"] = "tired"
    with pytest.raises(Invalid, match="reason"):
        FAST.event(body)
    assert not REFERENCE["event"].is_valid(body)


def test_a_refusal_never_repeats_the_value_it_refused() -> None:
    """Reasons are logged and kept with the quarantine: a name in the wrong place, or an
    ID number where a number should be, is named by its place only."""
    body = envelope(ev.SampleRegistered("T000001", 1, "card", PERSON, False))
    body["data"]["person"]["gender"] = PERSON.name
    body["data"]["position"] = PERSON.id_number
    with pytest.raises(Invalid) as refused:
        FAST.event(body)
    assert refused.value.args[0].startswith("message.data.")
    assert PERSON.name not in str(refused.value) and ZHANG not in str(refused.value)


def test_a_form_registration_needs_its_serial() -> None:
    body = envelope(ev.SampleRegistered("T000001", 3, "form", ev.Person(
        "other", "FORM-000123", "", "unknown", ""), False, "FORM-000123"))
    assert fast_accepts("event", body) and REFERENCE["event"].is_valid(body)
    del body["data"]["form"]
    assert not fast_accepts("event", body) and not REFERENCE["event"].is_valid(body)


def test_a_timestamp_format_is_an_annotation_for_both() -> None:
    """What the collector has always stored, it still stores: `ts` is checked as a string
    ending in Z (the pattern), not as a calendar date."""
    body = envelope(ev.TubeReleased("T000001"))
    body["ts"] = "2026-13-45T99:00:00Z"
    assert fast_accepts("event", body) and REFERENCE["event"].is_valid(body)


# --- the typed records central reads its stored events into ---------------------------

def typed_reads(body: Any) -> bool:
    try:
        ev.decode_event(json.dumps(body))
    except msgspec.ValidationError:
        return False
    return True


def test_every_event_the_schema_accepts_reads_as_its_typed_record() -> None:
    """Reports decode stored events into contract.events' records, which check types but
    not every rule of the schema: they must read whatever the schema let the collector
    store. (The other way round they are looser: 692 of the neighbours the schema
    refuses decode, so the collector validates with the schema, not with these.)"""
    accepted = 0
    for kind, body in SEEDS:
        if kind != "event":
            continue
        # 7.0 and 2**53 + 2 as floats: integers to the schema, found by hypothesis.
        for changed in [body, *neighbours(body), {**body, "seq": 7.0},
                        {**body, "seq": 9007199254740994.0}]:
            if REFERENCE["event"].is_valid(changed):
                assert typed_reads(changed), changed
                accepted += 1
    assert accepted > 100


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([b for k, b in SEEDS if k == "event"]), st.data())
def test_every_mutated_event_the_schema_accepts_reads_as_its_typed_record(
        body: dict[str, Any], data: st.DataObject) -> None:
    mutated = mutate(body, data)
    if REFERENCE["event"].is_valid(mutated):
        assert typed_reads(mutated), mutated


def test_a_typed_event_is_the_record_of_its_type() -> None:
    seed = next(b for k, b in SEEDS if k == "event" and b["type"] == "sample.registered")
    event = ev.decode_event(json.dumps(seed, ensure_ascii=False))
    assert isinstance(event, ev.SampleRegisteredEvent)
    assert event.data == ev.SampleRegistered("T000001", 1, "card", PERSON, False)
    assert event.data.data == seed["data"]       # back to the contract's JSON, as sent
    assert {k: v for k, v in msgspec.to_builtins(event).items() if k != "data"} == {
        k: v for k, v in seed.items() if k != "data"}
