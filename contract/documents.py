"""What a document's number may be, for the documents that are not an 18-character
number (contract 1.5): a passport, the 港澳居民来往内地通行证 and the 台湾居民来往大陆通行证.
Once for both sides: the station refuses a number that cannot be one at the lane, where
the operator can retype it; central refuses it typed from a paper card.

Only the form is checked: none of these numbers has a check character or says anything
of its holder, so a birth date or gender is never taken from one (a passport holder's
comes from the code that names it, or stays unknown).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from contract.errors import ContractError
from contract.events import DocumentType
from contract.id_numbers import InvalidIdNumber, validate_id_number

TravelDocument = Literal["passport", "hk_macao_pass", "taiwan_pass"]
TRAVEL_DOCUMENTS: tuple[TravelDocument, ...] = ("passport", "hk_macao_pass", "taiwan_pass")

# ICAO 9303 allows up to 9 characters in the machine-readable zone, but a number may run
# longer in the visual zone (some countries' 10–17); 5 is the shortest issued. Letters are
# uppercase there: a lowercase letter was typed or scanned wrong, not issued.
PASSPORT = re.compile(r"[A-Z0-9]{5,17}")
# Since 2013 the card form: H (Hong Kong) or M (Macao) and 8 digits. The book form
# (H/M and 10 digits) expired by 2023 at the latest.
HK_MACAO_PASS = re.compile(r"[HM]\d{8}")
# Since 2015 the card form: 8 digits (the book's 8 digits and letters have expired).
TAIWAN_PASS = re.compile(r"\d{8}")

FORMS: Mapping[TravelDocument, tuple[re.Pattern[str], str]] = {
    "passport": (PASSPORT, "a passport number is 5 to 17 uppercase letters and digits"),
    "hk_macao_pass": (HK_MACAO_PASS, "a 港澳通行证 number is H or M and 8 digits"),
    "taiwan_pass": (TAIWAN_PASS, "a 台湾通行证 number is 8 digits"),
}

# What codes and CSV files call each document (the contract's names first).
NAMES: Mapping[str, DocumentType] = {
    "resident": "resident", "身份证": "resident", "居民身份证": "resident", "sfz": "resident",
    "hmt_permit": "hmt_permit", "港澳台居民居住证": "hmt_permit", "居住证": "hmt_permit",
    "foreign": "foreign", "外国人永久居留身份证": "foreign", "永居证": "foreign",
    "passport": "passport", "护照": "passport", "hz": "passport",
    "hk_macao_pass": "hk_macao_pass", "港澳通行证": "hk_macao_pass",
    "港澳居民来往内地通行证": "hk_macao_pass", "回乡证": "hk_macao_pass",
    "taiwan_pass": "taiwan_pass", "台湾通行证": "taiwan_pass", "台胞证": "taiwan_pass",
    "台湾居民来往大陆通行证": "taiwan_pass",
}

DocumentProblem = Literal["unknown_type", "passport", "permit"]


class InvalidDocument(ContractError, ValueError):
    """A document number that cannot be one of its type, or a type nobody knows; the
    message says what the form is and never echoes the number."""

    def __init__(self, message: str, problem: DocumentProblem) -> None:
        super().__init__(message)
        self.problem: DocumentProblem = problem


def document_type(name: str) -> DocumentType:
    """A document's type from what a code or a CSV calls it (case and spaces ignored)."""
    found = NAMES.get(name.strip().lower()) or NAMES.get(name.strip())
    if found is None:
        raise InvalidDocument(f"unknown document type ({len(name)} characters): use one "
                              "of passport, hk_macao_pass, taiwan_pass, resident",
                              "unknown_type")
    return found


def check_travel_document(kind: TravelDocument, number: str) -> str:
    """The number as given (spaces around it dropped), or InvalidDocument naming the form.
    Nothing is upper-cased or cleaned: a number that needed it was read wrong."""
    number = number.strip()
    pattern, form = FORMS[kind]
    if pattern.fullmatch(number):
        return number
    what = f"{len(number)} characters"
    if kind == "passport" and re.search(r"[^A-Za-z0-9]", number):
        what += ", not only letters and digits"
    elif kind == "passport" and re.search(r"[a-z]", number):
        what += ", lowercase among them"
    raise InvalidDocument(f"{form} ({what})", "passport" if kind == "passport" else "permit")


def check_document(kind: DocumentType, number: str) -> str:
    """Any document's number, checked as far as its type allows (an 18-character number
    by GB 11643; InvalidIdNumber then)."""
    match kind:
        case "passport" | "hk_macao_pass" | "taiwan_pass":
            return check_travel_document(kind, number)
    if kind == "foreign" and not re.fullmatch(r"\d{17}[\dX]", number.strip().upper()):
        # The old card's 15 letters and digits carry no check: its form is all there is.
        if not re.fullmatch(r"[A-Z]{3}\d{12}", number.strip()):
            raise InvalidIdNumber("a foreign permanent resident card number is 15 "
                                  "(3 letters, 12 digits) or 18 characters")
        return number.strip()
    return validate_id_number(number).number
