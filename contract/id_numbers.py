"""What makes an 18-character resident ID number well formed (GB 11643-1999): its check
character. Shared by the station, which refuses a number that does not check, and
central, which refuses one typed from a paper card."""

from __future__ import annotations

import re

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
EIGHTEEN = re.compile(r"\d{17}[\dX]")


def check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def well_formed(number: str) -> bool:
    """18 characters whose last checks the first 17 (or a legacy 15-digit number)."""
    number = number.strip().upper()
    if re.fullmatch(r"\d{15}", number):
        return True
    return bool(EIGHTEEN.fullmatch(number)) and check_char(number[:17]) == number[17]
