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
from urllib.parse import parse_qsl, urlsplit

import msgspec

from contract.events import ADDRESS_MAX, BADGE, NAME_MAX, PHONE, Person, Source
from contract.id_numbers import IdProblem, InvalidIdNumber
from station.core.documents import DocumentRefused, coded_person, typed_document
from station.core.errors import StationError
from station.core.identity import person_from_id_number
from station.core.messages import Refusal, TypedDocument

COMMAND_PREFIX = "CMD:"
# The operator's commands, scanned as `CMD:<name>` from the command sheet.
Command = Literal["SEAL", "UNDO", "VOID", "BOX", "NEWTUBE", "SIGNOUT"]
COMMANDS: tuple[Command, ...] = get_args(Command)


class BadCode(StationError, ValueError):
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


class BadgeCode(msgspec.Struct, frozen=True):
    """A staff badge: signs an operator in or out, or names a box's courier."""

    badge: str


class BoxCode(msgspec.Struct, frozen=True):
    """A box's handover slip, scanned again: its courier is wanted."""

    box: str


class FormCode(msgspec.Struct, frozen=True):
    """A paper information card's serial: a person whose data central completes later."""

    serial: str


Code = TubeCode | CommandCode | PersonCode | FormCode | BadgeCode | BoxCode
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
    """A JSON object with at least `id` and `name` (pre-registration QR codes), and
    where the code has them `phone` and `address` (where the person lives now)."""
    if not text.startswith("{"):
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadCode(f"person code is not valid JSON (at char {exc.pos})") from exc
    if not isinstance(obj, dict):
        raise BadCode("person code must be a JSON object")
    fields = {k: v for k, v in obj.items() if isinstance(v, str)}
    if not (fields.get("id") or fields.get("guardian_id")) or not fields.get("name", "").strip():
        raise BadCode("person code needs string fields `id` (or `guardian_id`) and `name`")
    return person_of(fields, today)


# What city pre-registration codes call each field, in the plain-text and URL forms
# (JSON uses the first name of each).
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "idcard", "id_number", "sfz", "sfzh", "证件号码", "身份证号", "身份证"),
    "name": ("name", "xm", "姓名"),
    "phone": ("phone", "tel", "mobile", "sjh", "电话", "手机", "手机号", "联系电话"),
    "address": ("address", "addr", "dz", "xzz", "现居住地", "住址", "地址", "居住地址"),
    # 1.5: the document, when it is not the resident card; a child under a guardian's.
    "id_type": ("id_type", "zjlx", "证件类型"),
    "guardian_id": ("guardian_id", "jhrzjhm", "监护人证件号码"),
    "guardian_id_type": ("guardian_id_type", "jhrzjlx", "监护人证件类型"),
    "birth": ("birth", "csrq", "出生日期"),
    "gender": ("gender", "xb", "性别"),
}
# A code naming one of these (or none) is read as today: the number says the rest.
NUMBER_SAYS = ("", "resident", "身份证", "居民身份证", "hmt_permit", "港澳台居民居住证")


def person_of(fields: Mapping[str, str], today: dt.date) -> Person:
    """A person from a code's fields (by any of ALIASES' names): the ID number checked,
    a phone that is not one refused, an address kept as written (at most 200)."""
    found = {key: next((fields[a].strip() for a in names if fields.get(a, "").strip()), "")
             for key, names in ALIASES.items()}
    if found["phone"] and not PHONE.fullmatch(found["phone"]):
        raise BadCode("person code: the phone is not a phone number", "bad_phone")
    if len(found["name"]) > NAME_MAX:
        raise BadCode(f"person code: a name of {len(found['name'])} characters "
                      f"(at most {NAME_MAX})")
    try:
        if found["guardian_id"] or found["id_type"].lower() not in NUMBER_SAYS:
            person = coded_person(found, today)
        else:
            person = person_from_id_number(found["id"], name=found["name"], today=today)
    except InvalidIdNumber as exc:
        raise refused_number(exc) from exc
    except DocumentRefused as exc:
        raise BadCode(f"person code: {exc}", exc.reason) from exc
    return msgspec.structs.replace(person, phone=found["phone"],
                                   address=found["address"][:ADDRESS_MAX])


def decode_key_values(text: str, today: dt.date) -> Person | None:
    """Plain text `姓名:张三;身份证号:1101…;电话:138…;现居住地:…` (separators `;`, `|`,
    `，` or new lines; `:`, `：` or `=` between key and value), or a URL whose query
    carries the same keys (`https://…?idcard=1101…&name=…&tel=…`)."""
    if "?" in text and text.split("?", 1)[0].startswith(("http://", "https://")):
        pairs = parse_qsl(urlsplit(text).query, keep_blank_values=True)
    elif re.search(r"[:：=]", text) and not text.startswith("{"):
        pairs = [(key, value) for part in re.split(r"[;|，,\n]", text)
                 if re.search(r"[:：=]", part)
                 for key, value in [re.split(r"[:：=]", part, maxsplit=1)]]
    else:
        return None
    fields = {k.strip().lower(): v for k, v in pairs}
    if not any(fields.get(a) for a in (*ALIASES["id"], *ALIASES["guardian_id"])):
        return None   # not a person's code: another decoder's, or garbage
    return person_of(fields, today)


def typed_person(text: str, chosen: TypedDocument, today: dt.date, lane: Classifier
                 ) -> Person:
    """A keypad or keyboard entry: digits an ID number as on a code, letters (or a
    document chosen with a key) a document (station.core.documents); a phone may follow
    after "+". Never a tube or a command."""
    number, _, phone = text.partition("+")
    if phone and not PHONE.fullmatch(phone):
        raise BadCode(f"typed phone has {len(phone)} digits", "bad_phone")
    if chosen or number[:1].isalpha():
        own = [p for p in (lane.tube_pattern, lane.form_pattern, lane.staff_pattern,
                           lane.box_pattern) if p is not None]
        try:
            person = typed_document(number, chosen, own)
        except DocumentRefused as exc:
            raise BadCode(str(exc), exc.reason) from exc
    else:
        found = decode_bare_id(number, today)
        if found is None:
            raise BadCode(f"typed number has {len(number)} characters: an ID number has 18 "
                          "(or 15 digits)", "bad_id_number")
        person = found
    return msgspec.structs.replace(person, phone=phone) if phone else person


PERSON_DECODERS: Mapping[str, PersonDecoder] = {
    "id_number": decode_bare_id,
    "json": decode_json,
    "key_values": decode_key_values,
}


class Classifier(msgspec.Struct, frozen=True):
    tube_pattern: re.Pattern[str]
    decoders: Sequence[PersonDecoder]
    form_pattern: re.Pattern[str] | None = None
    staff_pattern: re.Pattern[str] | None = None   # staff badges
    box_pattern: re.Pattern[str] | None = None     # the lane's own box ids

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
        if self.staff_pattern is not None and self.staff_pattern.fullmatch(text):
            if not BADGE.fullmatch(text):   # the site's pattern is wider than the contract
                raise BadCode(f"a badge of {len(text)} characters: badge ids are 1-32 of "
                              "A-Z a-z 0-9 _ -")
            return BadgeCode(text)
        if self.box_pattern is not None and self.box_pattern.fullmatch(text):
            return BoxCode(text)
        if self.tube_pattern.fullmatch(text):
            return TubeCode(text)
        if self.form_pattern is not None and self.form_pattern.fullmatch(text):
            return FormCode(text)
        for decode in self.decoders:
            person = decode(text, today)
            if person is not None:
                return PersonCode(person, source="qr")
        raise BadCode(f"unrecognised code ({len(text)} characters)")
