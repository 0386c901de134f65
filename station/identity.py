"""People as the station knows them: ID numbers (GB 11643-1999), persons, masking.

Names and ID numbers are personal data. Anything that leaves this module for a log,
a light-side display or a label goes through `mask_name` / `mask_id`.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

from contract.events import Gender, IdType, Person
from contract.id_numbers import check_char

IdProblem = Literal["format", "check_character", "birth_date"]


class InvalidIdNumber(ValueError):
    """An ID number that cannot belong to anyone: wrong length, check or birth date."""

    def __init__(self, message: str, problem: IdProblem = "format") -> None:
        super().__init__(message)
        self.problem: IdProblem = problem



def parse_birth(yyyymmdd: str) -> dt.date:
    try:
        return dt.date(int(yyyymmdd[0:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError as exc:
        raise InvalidIdNumber(f"impossible birth date {yyyymmdd[:4]}-…", "birth_date") from exc


def synthetic_id(area: str, birth: str, seq: int) -> str:
    """A made-up number with a valid check character, for demos, benchmarks and tests."""
    first17 = f"{area}{birth}{seq:03d}"
    return first17 + check_char(first17)


def nth_synthetic_id(n: int) -> str:
    """The n-th (from 1) of an unbounded supply of distinct valid synthetic numbers."""
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=(n - 1) // 999)
    return synthetic_id("110105", birth.strftime("%Y%m%d"), (n - 1) % 999 + 1)


class IdFacts(msgspec.Struct, frozen=True):
    """What an 18-character number says about its holder."""

    number: str
    birth: dt.date
    gender: Gender
    id_type: IdType


def validate_id_number(raw: str, today: dt.date | None = None) -> IdFacts:
    """Validate an 18-character number (or upgrade a legacy 15-digit one).

    Raises InvalidIdNumber naming what is wrong, never echoing the full number.
    """
    number = raw.strip().upper()
    if len(number) == 15 and number.isdigit():
        # Legacy numbers carry a 2-digit year of the 1900s and no check character.
        first17 = number[:6] + "19" + number[6:]
        number = first17 + check_char(first17)
    if len(number) != 18:
        raise InvalidIdNumber(f"an ID number has 18 characters, not {len(number)}")
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


def masked(person: Person) -> str:
    """How a person appears in logs: never a full name or number."""
    return f"{mask_name(person.name)} {mask_id(person.id_number)}"


def person_from_id_number(
    number: str, name: str = "", today: dt.date | None = None
) -> Person:
    facts = validate_id_number(number, today)
    return Person(
        id_type=facts.id_type,
        id_number=facts.number,
        name=name.strip(),
        gender=facts.gender,
        birth=facts.birth.isoformat(),
    )


def mask_name(name: str) -> str:
    """张三丰 → 张*丰, 李四 → 李*, a Latin name keeps only its first letter."""
    name = name.strip()
    if not name:
        return "-"
    if len(name) <= 2:
        return name[0] + "*"
    if name.isascii():
        return name[0] + "*" * 3
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id(number: str) -> str:
    """11010519491231002X → 1101**********002X: the first 4 and the last 4 remain."""
    number = number.strip()
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]
