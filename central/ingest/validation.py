"""The contract's JSON Schemas, compiled once: validation at the rate a city publishes.

jsonschema interprets a schema in Python for every message (505 µs an event here);
jsonschema-rs compiles it once into a validator in Rust (2 µs: BENCHMARKS.md). The
compiled Python of fastjsonschema, used before, took 10-14 µs an event even split by
event type, since it raises and catches an exception for every `if` of the schema that
does not match, and became the collector's largest cost once the MQTT client was ours.
tests/central/test_validation.py proves the validators accept and reject exactly what jsonschema
does: every payload the suite's stations publish, every one-step change of a valid
message, and a fuzzed corpus.

`format` is an annotation here, as in jsonschema without a format checker: a `ts` that
is a string passes either way (a format check would quarantine what the collector has
always stored).

A refusal names the place and the rule broken, never the value: the value may be a name
or an ID number, and the reason is logged and kept in the quarantine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema_rs

import contract
from central.errors import CentralError


class Invalid(CentralError, ValueError):
    """The message is not what the contract says; the text says where."""


def reason(error: jsonschema_rs.ValidationError) -> str:
    where = ".".join(["message", *map(str, error.instance_path)])
    rule = str(error.schema_path[-1]) if error.schema_path else "schema"
    if rule == "required":   # names the missing key, which is the contract's, not data
        return f"{where}: {error.message}"
    return f"{where} fails {rule!r} at {'/'.join(map(str, error.schema_path))}"


def compiled(schema: dict[str, Any]) -> Callable[[Any], None]:
    validator = jsonschema_rs.Draft7Validator(schema, validate_formats=False)

    def validate(body: Any) -> None:
        try:
            validator.validate(body)
        except jsonschema_rs.ValidationError as exc:
            raise Invalid(reason(exc)) from None

    return validate


def by_type(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The events schema is the envelope and, for each type, `if type is T then data
    is T's`. For a body of type T every other `if` fails and so holds: the envelope and
    T's branch alone accept exactly what the whole does, at 1.9 µs an event instead of
    2.4 (BENCHMARKS.md). One schema per type the `if`s name."""
    always = [part for part in schema["allOf"] if "if" not in part]
    return {part["if"]["properties"]["type"]["const"]: {
        **{k: v for k, v in schema.items() if k != "allOf"}, "allOf": [*always, part["then"]]}
        for part in schema["allOf"] if "if" in part}


def event_validator() -> Callable[[Any], None]:
    """The events schema, checked by the branch of the body's own type where it names
    one; a body of no type or an unknown one meets the whole schema (and its refusal)."""
    schema = contract.schema("events.schema.json")
    whole = compiled(schema)
    branches = {kind: compiled(part) for kind, part in by_type(schema).items()}

    def validate(body: Any) -> None:
        kind = body.get("type") if isinstance(body, dict) else None
        check = branches.get(kind, whole) if isinstance(kind, str) else whole
        check(body)

    return validate


class Validators:
    """One compiled validator per kind of message the collector takes."""

    def __init__(self) -> None:
        self.event = event_validator()
        self.status = compiled(contract.schema("status.schema.json"))
        self.reply = compiled(contract.schema("reply-replay.schema.json"))
