"""People registered by a document that is not a resident card (contract 1.5): a
passport, a 港澳/台湾 travel permit, or a child under its guardian's document; from a
pre-registration code that names the document, or typed on a full keyboard.

What cannot be checked is not guessed: a travel document's number says nothing of its
holder, so the birth date and gender are the code's (checked as dates and words) or
unknown. A child's number is its guardian's, so nothing is taken from it either.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from contract.documents import HK_MACAO_PASS, InvalidDocument, check_document, document_type
from contract.events import DocumentType, Gender, Person
from station.core.errors import StationError
from station.core.messages import Refusal, TypedDocument

DOCUMENT_REFUSALS: dict[str, Refusal] = {
    "passport": "bad_passport", "permit": "bad_permit", "unknown_type": "bad_document"}
GENDER_WORDS: dict[str, Gender] = {"男": "male", "male": "male", "m": "male",
                                   "女": "female", "female": "female", "f": "female"}


class DocumentRefused(StationError, ValueError):
    """A document the lane must refuse; the message names what is wrong, never the number."""

    def __init__(self, message: str, reason: Refusal) -> None:
        super().__init__(message)
        self.reason: Refusal = reason


def checked(kind: DocumentType, number: str) -> str:
    """The number as its type allows; an 18-character one's InvalidIdNumber passes on, to
    be refused for its own reason (station.core.codes.refused_number)."""
    try:
        return check_document(kind, number)
    except InvalidDocument as exc:
        raise DocumentRefused(str(exc), DOCUMENT_REFUSALS[exc.problem]) from exc


def _birth(text: str, today: dt.date) -> str:
    if not text:
        return ""
    digits = text.replace("-", "")
    try:
        born = dt.date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        born = None
    if born is None or len(digits) != 8 or born > today or born.year < 1880:
        raise DocumentRefused("the code's birth date is not a date (YYYY-MM-DD)",
                              "bad_document")
    return born.isoformat()


def _gender(text: str) -> Gender:
    if not text:
        return "unknown"
    gender = GENDER_WORDS.get(text.strip().lower())
    if gender is None:
        raise DocumentRefused("the code's gender is neither 男/女 nor male/female",
                              "bad_document")
    return gender


def coded_person(found: Mapping[str, str], today: dt.date) -> Person:
    """A person from a code naming a document other than the resident card (`id_type`),
    or a child under its guardian's (`guardian_id`, `guardian_id_type`); the fields by
    their canonical names (station.core.codes.ALIASES), empty when absent."""
    birth, gender = _birth(found["birth"], today), _gender(found["gender"])
    if found["guardian_id"]:
        if not found["name"]:
            raise DocumentRefused("a child under a guardian's document needs its own name",
                                  "bad_document")
        kind = _named(found["guardian_id_type"] or found["id_type"])
        return Person("guardian", checked(kind, found["guardian_id"]), found["name"], gender,
                      birth, guardian_id_type=kind)
    kind = _named(found["id_type"])
    return Person(kind, checked(kind, found["id"]), found["name"], gender, birth)


def _named(name: str) -> DocumentType:
    if not name:
        raise DocumentRefused("a guardian's document needs its type (guardian_id_type)",
                              "bad_document")
    try:
        return document_type(name)
    except InvalidDocument as exc:
        raise DocumentRefused(str(exc), "bad_document") from exc


def typed_document(number: str, chosen: TypedDocument, not_people: list[re.Pattern[str]]
                   ) -> Person:
    """A document typed on a full keyboard: the type the operator chose with a key (F1
    passport, F2 港澳, F3 台湾; drivers.keypad), else a letter-led entry is a passport, or
    a 港澳 permit where it has that form (H or M and 8 digits; F1 keeps a passport of
    that form, as Korea's are). An entry of the lane's own tube, card or badge form is
    refused unless a key chose the document: a tube whose barcode would not scan is
    typed, and must not become a passport holder. (The default tube pattern takes a
    letter and digits, so there most passports want F1; a lane whose pattern is its own
    prefix does not.)"""
    kind: DocumentType = chosen or ("hk_macao_pass" if HK_MACAO_PASS.fullmatch(number)
                                    else "passport")
    if not chosen and any(p.fullmatch(number) for p in not_people):
        raise DocumentRefused(f"typed {len(number)} characters of the lane's tube, card or "
                              "badge form: scan it, or choose the document with F1-F3",
                              "choose_document")
    return Person(kind, checked(kind, number), "", "unknown", "")
