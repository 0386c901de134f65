"""What an ID number says (GB 11643-1999), once for both sides: its check character,
the birth date, the gender and the kind of document (81/82/83: a Hong Kong, Macao or
Taiwan residence permit). The station refuses a number that does not check; central
refuses one typed from a paper card, and types the person from it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

import msgspec

from contract.errors import ContractError
from contract.events import Gender, IdType

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
EIGHTEEN = re.compile(r"\d{17}[\dX]")


def check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def well_formed(number: str) -> bool:
    """18 characters whose last checks the first 17 and whose birth date can be (or a
    legacy 15-digit number with such a date)."""
    try:
        validate_id_number(number)
    except InvalidIdNumber:
        return False
    return True


IdProblem = Literal["format", "check_character", "birth_date"]


class InvalidIdNumber(ContractError, ValueError):
    """An ID number that cannot belong to anyone: wrong length, check or birth date."""

    def __init__(self, message: str, problem: IdProblem = "format") -> None:
        super().__init__(message)
        self.problem: IdProblem = problem


def parse_birth(yyyymmdd: str) -> dt.date:
    try:
        return dt.date(int(yyyymmdd[0:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError as exc:
        raise InvalidIdNumber(f"impossible birth date {yyyymmdd[:4]}-…", "birth_date") from exc


class IdFacts(msgspec.Struct, frozen=True):
    """What an 18-character number says about its holder."""

    number: str
    birth: dt.date
    gender: Gender
    id_type: IdType


def card_form(raw: str) -> str:
    """A number as a card writes it: stripped, upper-cased, and its full-width forms
    (what an input method in full-width mode types: ０-９, Ｘ) made ASCII as NFKC makes
    them, as python-stdnum reads them; another script's digits stay (and do not check)."""
    number = raw.strip().upper()
    if number.isascii():
        return number
    import unicodedata  # noqa: PLC0415 - seldom needed: kept off a lane's start

    return unicodedata.normalize("NFKC", number).strip().upper()


def validate_id_number(raw: str, today: dt.date | None = None) -> IdFacts:
    """Validate an 18-character number (or upgrade a legacy 15-digit one).

    Raises InvalidIdNumber naming what is wrong, never echoing the full number.
    """
    number = card_form(raw)
    if len(number) == 15 and number.isdigit():
        # Legacy numbers carry a 2-digit year of the 1900s and no check character.
        first17 = number[:6] + "19" + number[6:]
        number = first17 + check_char(first17)
    if len(number) != 18:
        raise InvalidIdNumber(f"an ID number has 18 characters, not {len(number)}")
    if not number.isascii():   # isdigit() is true of other scripts' digits too
        raise InvalidIdNumber("an ID number is written with 0-9 and X, not another "
                              "script's digits")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise InvalidIdNumber("an ID number is 17 digits and a digit or X")
    if check_char(number[:17]) != number[17]:
        raise InvalidIdNumber("wrong check character", "check_character")
    birth = parse_birth(number[6:14])
    if birth > (today or dt.date.today()) or birth.year < 1880:
        raise InvalidIdNumber(f"impossible birth date {number[6:10]}-…", "birth_date")
    gender: Gender = "male" if int(number[16]) % 2 else "female"
    id_type: IdType = "hmt_permit" if number[:2] in ("81", "82", "83") else "resident"
    return IdFacts(number=number, birth=birth, gender=gender, id_type=id_type)
