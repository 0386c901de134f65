"""The contract's JSON Schemas, compiled once: validation at the rate a city publishes.

jsonschema interprets a schema for every message; fastjsonschema turns it into Python
code once. The events schema checks `data` with one if/then per event type, and the
compiled code raises and catches an exception for every `if` that does not match: eight
per event. So an event whose `type` is one of the contract's is checked by a schema of
its own type (the envelope, and `data` against that type's definition): for such an
event the two say the same, since every other branch's `if` fails on the `type` const.
Anything else goes through the whole schema. tests/test_validation.py proves the
compiled validators accept and reject exactly what jsonschema does: every payload the
suite's stations publish, every one-step change of a valid message, and a fuzzed corpus.

`format` is an annotation here, as in jsonschema without a format checker: a `ts` that
is a string passes either way. (fastjsonschema would check `date-time` by default; the
collector would then quarantine what it stores today.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fastjsonschema

import contract

# Every format a schema of the contract names: accepted as jsonschema accepts it.
ANNOTATION_ONLY = {"date-time": lambda value: True}


class Invalid(ValueError):
    """The message is not what the contract says; the text says where."""


def _compile(schema: dict[str, Any]) -> Callable[[Any], Any]:
    return fastjsonschema.compile(schema, formats=ANNOTATION_ONLY)


def _run(check: Callable[[Any], Any], body: Any) -> None:
    try:
        check(body)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise Invalid(exc.message) from None


def compiled(name: str) -> Callable[[Any], None]:
    check = _compile(contract.schema(name))
    return lambda body: _run(check, body)


def by_event_type(schema: dict[str, Any]) -> dict[str, Callable[[Any], Any]]:
    """For each event type, the envelope and that type's `data`: the `then` of its branch."""
    envelope, *branches = schema["allOf"]
    typed = {}
    for branch in branches:
        kind = branch["if"]["properties"]["type"]["const"]
        typed[kind] = _compile({**schema, "allOf": [envelope, branch["then"]]})
    return typed


def events_validator() -> Callable[[Any], None]:
    schema = contract.schema("events.schema.json")
    whole, typed = _compile(schema), by_event_type(schema)

    def validate(body: Any) -> None:
        kind = body.get("type") if isinstance(body, dict) else None
        _run(typed.get(kind, whole) if isinstance(kind, str) else whole, body)

    return validate


class Validators:
    """One compiled validator per kind of message the collector takes."""

    def __init__(self) -> None:
        self.event = events_validator()
        self.status = compiled("status.schema.json")
        self.reply = compiled("reply-replay.schema.json")
