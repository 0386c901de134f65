"""The contract as the official AsyncAPI tools and a second JSON Schema implementation
see it: the document parses with no error, every message has an example that validates,
and ajv agrees with jsonschema on payloads, valid and broken."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema

import contract
from tests.contract_tools import CONTRACT, ajv_invalid, asyncapi_invalid, needs_node, node

pytestmark = needs_node


def test_the_official_asyncapi_parser_accepts_the_contract() -> None:
    result = node("asyncapi-check.mjs", str(CONTRACT / "asyncapi.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    errors = [line for line in result.stdout.splitlines() if line.startswith("error")]
    assert errors == []
    assert "17 messages, every example valid: true" in result.stdout


def broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    copy = tmp_path / "contract"
    shutil.copytree(CONTRACT, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    text = (copy / "asyncapi.yaml").read_text(encoding="utf-8")
    assert old in text
    (copy / "asyncapi.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return copy / "asyncapi.yaml"


def test_the_check_fails_on_an_unquoted_description_and_on_a_bad_example(
        tmp_path: Path) -> None:
    # The 1.0 document's bug: a description with ", … :" read as extra mapping keys.
    unquoted = broken_copy(tmp_path / "a", "description: Collection site id, as configured",
                           "description: Collection site id, as: configured")
    assert node("asyncapi-check.mjs", str(unquoted)).returncode == 1
    example = broken_copy(tmp_path / "b", '"pool_size": 3}', '"pool_size": "three"}')
    result = node("asyncapi-check.mjs", str(example))
    assert result.returncode == 1 and "pool_size must be integer" in result.stdout


def test_ajv_rejects_what_jsonschema_rejects(tmp_path: Path) -> None:
    good: dict[str, Any] = {"v": 1, "id": "x", "site": "s", "station": "l", "seq": 1, "session": 1,
            "ts": "2026-11-22T08:00:00.000Z", "clock_synced": True, "type": "tube.sealed",
            "data": {"tube": "T000001", "count": 3, "reason": "full"}}
    broken = {"seq 0": {**good, "seq": 0},
              "count missing": {**good, "data": {"tube": "T1", "count": 3}},
              "reason": {**good, "data": {**good["data"], "reason": "tired"}},
              "type": {**good, "type": "tube.lost"},
              "extra": {**good, "extra": 1},
              "device": {**good, "type": "device.fault",
                         "data": {"device": "toaster", "reason": "x"}}}
    found = ajv_invalid("events.schema.json",
                        [("good", good), *((k, v) for k, v in broken.items())], tmp_path)
    assert sorted(line.split(":")[0] for line in found) == sorted(broken)
    python = jsonschema.Draft7Validator(contract.schema("events.schema.json"))
    assert python.is_valid(good)
    assert [k for k, v in broken.items() if python.is_valid(v)] == []
    replies = [("cut", {"v": 1, "request_id": "r", "from_seq": 1, "to_seq": 9,
                        "served_to": 5, "limit": 5, "republished": 5, "purged": 0,
                        "not_recorded": 0, "cut_from": 6}),
               ("legacy", {"from_seq": 1, "to_seq": 2, "republished": 2}),
               ("both", {"error": "x", "from_seq": 1, "to_seq": 2, "republished": 2})]
    found = ajv_invalid("reply-replay.schema.json", replies, tmp_path)
    assert [line.split(":")[0] for line in found] == ["both"]
    python = jsonschema.Draft7Validator(contract.schema("reply-replay.schema.json"))
    assert [name for name, reply in replies if not python.is_valid(reply)] == ["both"]
    commands = [("ok", {"v": 1, "request_id": "r", "from_seq": 1, "to_seq": 2}),
                ("extra", {"from_seq": 1, "to_seq": 2, "force": True})]
    found = ajv_invalid("cmd-replay.schema.json", commands, tmp_path)
    assert [line.split(":")[0] for line in found] == ["extra"]
    assert json.loads((CONTRACT / "cmd-replay.schema.json").read_text())[
        "additionalProperties"] is False


def test_the_payload_check_finds_a_payload_off_its_message(tmp_path: Path) -> None:
    """What checks a station's published payloads against asyncapi.yaml can fail: an
    empty operator, a payload under another type's message, a message nobody declared."""
    good: dict[str, Any] = {"v": 1, "id": "x", "site": "s", "station": "l", "seq": 1,
                            "session": 1, "ts": "2026-11-22T08:00:00.000Z",
                            "clock_synced": True, "type": "tube.released",
                            "data": {"tube": "T000001"}}
    found = asyncapi_invalid([("tube.released", good),
                              ("tube.released", {**good, "operator": ""}),
                              ("tube.opened", good), ("tube.lost", good)], tmp_path)
    assert [line.split(":")[0] for line in found] == [
        "error payload 1 (tube.released)", "error payload 2 (tube.opened)",
        "error payload 3 (tube.lost)"]


def test_the_documents_of_1_5_pass_every_checker_and_a_child_needs_its_guardians_type(
        tmp_path: Path) -> None:
    """ajv, jsonschema and the AsyncAPI parser's schema agree: a passport and a child
    under its guardian's document are valid; a child without the guardian's document
    type, or a guardian's type on anyone else, is not."""
    person = {"id_type": "passport", "id_number": "E12345678", "name": "SMITH JOHN",
              "gender": "unknown", "birth": ""}
    child = {**person, "id_type": "guardian", "guardian_id_type": "passport"}

    def registered(who: dict[str, Any]) -> dict[str, Any]:
        return {"v": 1, "id": "x", "site": "s", "station": "l", "seq": 1, "session": 1,
                "ts": "2026-12-07T08:00:00.000Z", "clock_synced": True,
                "type": "sample.registered",
                "data": {"tube": "T1", "position": 1, "source": "qr", "person": who,
                         "repeat_today": False}}
    good = {"passport": registered(person), "child": registered(child)}
    bad = {"orphan": registered({k: v for k, v in child.items() if k != "guardian_id_type"}),
           "not a child": registered({**person, "guardian_id_type": "passport"}),
           "unknown type": registered({**person, "id_type": "driving_licence"})}
    payloads = [*good.items(), *bad.items()]
    assert sorted(line.split(":")[0] for line in ajv_invalid(
        "events.schema.json", payloads, tmp_path)) == sorted(bad)
    assert sorted(line.split(" (")[0].removeprefix("error payload ") for line in
                  asyncapi_invalid([(p["type"], p) for _, p in payloads], tmp_path)) == \
        [str(n) for n in range(len(good), len(payloads))]
    schema = json.loads((CONTRACT / "events.schema.json").read_text(encoding="utf-8"))
    checker = jsonschema.Draft7Validator(schema)
    assert [name for name, p in payloads if not checker.is_valid(p)] == list(bad)
