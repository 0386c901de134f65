"""The contract's JSON Schemas, compiled once: validation at the rate a city publishes.

jsonschema interprets a schema for every message; fastjsonschema turns it into Python
code once, about 20 times faster on our events (BENCHMARKS.md). tests/test_validation.py
proves the two accept and reject exactly the same payloads: every payload the suite's
stations publish and a fuzzed corpus around them.

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


def compiled(name: str) -> Callable[[Any], None]:
    check = fastjsonschema.compile(contract.schema(name), formats=ANNOTATION_ONLY)

    def validate(body: Any) -> None:
        try:
            check(body)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise Invalid(exc.message) from None

    return validate


class Validators:
    """One compiled validator per kind of message the collector takes."""

    def __init__(self) -> None:
        self.event = compiled("events.schema.json")
        self.status = compiled("status.schema.json")
        self.reply = compiled("reply-replay.schema.json")
