"""People as the station knows them: ID numbers (GB 11643-1999), persons, masking.

Names and ID numbers are personal data. Anything that leaves this module for a log,
a light-side display or a label goes through `mask_name` / `mask_id`.
"""

from __future__ import annotations

import datetime as dt

from contract.events import Person
from contract.id_numbers import check_char, validate_id_number


def synthetic_id(area: str, birth: str, seq: int) -> str:
    """A made-up number with a valid check character, for demos, benchmarks and tests."""
    first17 = f"{area}{birth}{seq:03d}"
    return first17 + check_char(first17)


def nth_synthetic_id(n: int) -> str:
    """The n-th (from 1) of an unbounded supply of distinct valid synthetic numbers."""
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=(n - 1) // 999)
    return synthetic_id("110105", birth.strftime("%Y%m%d"), (n - 1) % 999 + 1)


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


def mask_phone(phone: str) -> str:
    """13800138000 → 138****8000: the first 3 and the last 4 remain."""
    digits = phone.strip()
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_id(number: str) -> str:
    """11010519491231002X → 1101**********002X: the first 4 and the last 4 remain of an
    ID number (15 or more); of a shorter document the first 2 and the last 2
    (E12345678 → E1*****78: 4 and 4 would leave one character hidden); of 8 or fewer
    (a 台湾 permit) none."""
    number = number.strip()
    if len(number) <= 8:
        return "*" * len(number)
    keep = 4 if len(number) >= 15 else 2
    return number[:keep] + "*" * (len(number) - 2 * keep) + number[-keep:]
