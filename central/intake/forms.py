"""Paper information cards (核酸采集信息卡): their typed data, imported after the day.

A card scanned at a lane is a placeholder in the register (source "form", its serial).
The district types each card's data into a CSV (serial, id_number, name, phone) and
imports it; the register and the roster comparison then treat the card like any
registration, and `report forms` lists the cards still waiting for their data. Imported
with `--seal-to` (central's public key), each card's person is sealed as a lane seals a
registration's, bound to the card's serial: the database holds no one in the clear.

A card names its document in an optional `id_type` column (证件类型: a passport, a 港澳
or 台湾 travel permit, `guardian` for a child under its guardian's document, whose type
is then in `guardian_id_type`), checked as the lane checks it (contract.documents);
without the column, or left blank, the number is an 18-character one as before. A card
with no number at all (无证人员) is completed with its name and phone, which reach the
person; its number stays the card's serial. A card's phone must be one a call team can
dial (DIALLED): a mobile with a digit dropped is refused, not stored to be found wrong
on the day its pool is positive. Each refused row is named by its line and serial and
why, never by its number, name or phone.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from central.store.event_store import FormRow
from contract.documents import InvalidDocument, check_document, document_type
from contract.events import MOBILE, DocumentType, IdType, Person
from contract.id_numbers import InvalidIdNumber, validate_id_number
from contract.sealer import Sealer

FIELDS = ("serial", "id_number", "name", "phone")
SERIAL = re.compile(r"[A-Z0-9][A-Z0-9-]{0,31}")   # the contract's data.form
# A phone a call team can dial, as a card gives it: a mobile, or a fixed line with its
# area code (0 and 10 or 11 more digits) or without it (7 or 8 digits); spaces or dashes
# between, +86 before. A mobile with a digit dropped (10 left) is none of these.
DIALLED = re.compile(rf"{MOBILE.pattern}|0[0-9]{{10,11}}|[2-9][0-9]{{6,7}}")
Card = tuple[str, Person]   # serial, the person typed from it


def read(path: Path) -> tuple[list[Card], list[str]]:
    """The cards that can be imported, and a problem per row that cannot (with its line,
    the serial, what is wrong; never the number or the name)."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = [name for name in FIELDS if name not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: needs the columns {', '.join(FIELDS)} "
                             f"(missing: {', '.join(missing)})")
        good, problems = [], []
        for row in reader:
            cells = {k: str(v or "").strip() for k, v in row.items() if k is not None}
            try:
                good.append(_card(cells))
            except ValueError as exc:
                problems.append(f"{path}:{reader.line_num}: {exc}")
        return good, problems


def _card(cells: dict[str, str]) -> Card:
    serial, number, name, phone = (cells[k] for k in FIELDS)
    if not SERIAL.fullmatch(serial):
        raise ValueError(f"serial {serial!r} is not a card serial")
    if not name:
        raise ValueError(f"{serial}: no name")
    if (problem := phone_problem(phone)) is not None:
        raise ValueError(f"{serial}: {problem}: retype it from the card")
    named, guardian = cells.get("id_type", ""), cells.get("guardian_id_type", "")
    if not number:
        if named or guardian or not phone:
            raise ValueError(f"{serial}: no document number: a card without one is "
                             "completed with its phone (and no id_type or guardian_id_type), "
                             "to reach the person")
        return serial, Person("other", serial, name, "unknown", "", phone=phone)
    try:
        kind, document = _types(named, guardian)
    except InvalidDocument as exc:
        raise ValueError(f"{serial}: {exc}") from exc
    if document in ("resident", "hmt_permit"):
        try:
            facts = validate_id_number(number.upper())
        except InvalidIdNumber as exc:
            raise ValueError(f"{serial}: ID number does not check (length or last "
                             "character): retype it from the card") from exc
        # A child's number is its guardian's: nothing of it is the child's.
        person = (Person("guardian", facts.number, name, "unknown", "", phone=phone,
                         guardian_id_type=document) if kind == "guardian" else
                  Person(facts.id_type, facts.number, name, facts.gender,
                         facts.birth.isoformat(), phone=phone))
        return serial, person
    try:
        checked = check_document(document, number)
    except (InvalidDocument, InvalidIdNumber) as exc:
        raise ValueError(f"{serial}: {exc}: retype it from the card") from exc
    return serial, Person(kind, checked, name, "unknown", "", phone=phone,
                          guardian_id_type=document if kind == "guardian" else "")


def _types(named: str, guardian: str) -> tuple[IdType, DocumentType]:
    """The card's id_type, and the document its number is (the guardian's for a child)."""
    if named.lower() in ("guardian", "监护人"):
        if not guardian:
            raise InvalidDocument("a child under a guardian's document needs the "
                                  "guardian_id_type column", "unknown_type")
        return "guardian", document_type(guardian)
    if guardian:
        raise InvalidDocument("guardian_id_type is for a child under its guardian's "
                              "document: give id_type guardian (监护人), or leave "
                              "guardian_id_type blank", "unknown_type")
    kind = document_type(named) if named else "resident"
    return kind, kind


def phone_problem(phone: str) -> str | None:
    """Why a card's phone cannot be dialled, never quoting it; None for a phone, or for
    none written."""
    digits = re.sub(r"[ -]", "", phone).removeprefix("+86")
    if not phone or DIALLED.fullmatch(digits):
        return None
    if not re.fullmatch(r"[0-9]*", digits):
        return f"a phone of {len(phone)} characters, not only digits 0-9, spaces and dashes"
    return (f"a phone of {len(digits)} digits: a mobile has 11 (1[3-9]…), a fixed line 7 or "
            "8, or 11 or 12 with its area code (0…)")


def sealed_rows(rows: list[Card], sealer: Sealer) -> list[FormRow]:
    """(serial, "", "", "", "", the person sealed to central's key, bound to the serial):
    its document's type inside the seal."""
    return [(serial, "", "", "", "", sealer.seal(serial, person)) for serial, person in rows]


def plain_rows(rows: list[Card]) -> list[FormRow]:
    """(serial, number, name, phone, the document's type, ""): a test database's. The type
    is kept: a passport's or a child's number cannot name it (a guardian's number would
    read as the guardian, a resident)."""
    return [(serial, p.id_number, p.name, p.phone, p.id_type, "") for serial, p in rows]
