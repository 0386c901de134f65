"""What a scanned code is: a tube barcode, an operator command, or a person.

Person decoders are pluggable: each takes the scanned text and returns a Person, None
when the text is not its format, or raises BadCode when it is its format but wrong.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, get_args

import msgspec

from contract.events import Person, Source
from contract.id_numbers import IdProblem, InvalidIdNumber
from station.identity import person_from_id_number
from station.messages import Refusal

COMMAND_PREFIX = "CMD:"
# The operator's commands, scanned as `CMD:<name>` from the command sheet.
Command = Literal["SEAL", "UNDO", "VOID", "BOX", "NEWTUBE"]
COMMANDS: tuple[Command, ...] = get_args(Command)


class BadCode(ValueError):
    """A code the station recognised but must refuse; the message is safe to log."""

    def __init__(self, message: str, reason: Refusal = "unrecognised_code") -> None:
        super().__init__(message)
        self.reason: Refusal = reason


ID_REFUSALS: dict[IdProblem, Refusal] = {
    "format": "bad_id_number", "check_character": "bad_check_character",
    "birth_date": "impossible_birth_date"}


def refused_number(exc: InvalidIdNumber) -> BadCode:
    """Each way a number can be wrong has its own reason: the operator retypes or asks."""
    return BadCode(f"ID number refused: {exc}", ID_REFUSALS[exc.problem])


class TubeCode(msgspec.Struct, frozen=True):
    tube: str


class CommandCode(msgspec.Struct, frozen=True):
    command: Command


class PersonCode(msgspec.Struct, frozen=True):
    person: Person
    source: Source  # how the code reached the station


class FormCode(msgspec.Struct, frozen=True):
    """A paper information card's serial: a person whose data central completes later."""

    serial: str


Code = TubeCode | CommandCode | PersonCode | FormCode
PersonDecoder = Callable[[str, dt.date], Person | None]


def decode_bare_id(text: str, today: dt.date) -> Person | None:
    """A bare 18-character (or legacy 15-digit) ID number, as on many pre-registration QR."""
    if not re.fullmatch(r"\d{17}[\dXx]|\d{15}", text):
        return None
    try:
        return person_from_id_number(text, today=today)
    except InvalidIdNumber as exc:
        raise refused_number(exc) from exc


def decode_json(text: str, today: dt.date) -> Person | None:
    """A JSON object with at least `id` and `name` (pre-registration QR codes)."""
    if not text.startswith("{"):
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadCode(f"person code is not valid JSON (at char {exc.pos})") from exc
    if not isinstance(obj, dict):
        raise BadCode("person code must be a JSON object")
    number, name = obj.get("id"), obj.get("name")
    if not isinstance(number, str) or not isinstance(name, str) or not name.strip():
        raise BadCode("person code needs string fields `id` and `name`")
    try:
        return person_from_id_number(number, name=name, today=today)
    except InvalidIdNumber as exc:
        raise refused_number(exc) from exc


PERSON_DECODERS: Mapping[str, PersonDecoder] = {
    "id_number": decode_bare_id,
    "json": decode_json,
}


class Classifier(msgspec.Struct, frozen=True):
    tube_pattern: re.Pattern[str]
    decoders: Sequence[PersonDecoder]
    form_pattern: re.Pattern[str] | None = None

    def classify(self, raw: str, today: dt.date) -> Code:
        text = raw.strip()
        if not text:
            raise BadCode("empty code")
        if text.upper().startswith(COMMAND_PREFIX):
            name = text[len(COMMAND_PREFIX):].strip().upper()
            for command in COMMANDS:
                if command == name:
                    return CommandCode(command)
            raise BadCode(f"unknown operator command {name[:16]!r}")
        if self.tube_pattern.fullmatch(text):
            return TubeCode(text)
        if self.form_pattern is not None and self.form_pattern.fullmatch(text):
            return FormCode(text)
        for decode in self.decoders:
            person = decode(text, today)
            if person is not None:
                return PersonCode(person, source="qr")
        raise BadCode(f"unrecognised code ({len(text)} characters)")
