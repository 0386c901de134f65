"""The cells of a lab's file, as labs' systems and Excel write them: the verdict in the
spellings labs use (one table, VERDICTS, which README.md's "Lab files" shows), times as
Excel keeps them (a date cell, or a date's serial number), and tube and box ids that
Excel turned into numbers.

An id Excel made a number is taken only where its digits are all still there (an
integer of at most 15 digits, or scientific notation that writes every digit out), and
then only if the register knows an id of exactly those digits (the caller checks:
`number_form` tells it which cells to check): a number has lost any leading zeros, and
1.10101E+12 has lost the digits Excel did not show. Anything else is refused with why.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from typing import Any
from zoneinfo import ZoneInfo

from central.site_facts import moment
from central.store.lab_tables import Verdict

# What labs write for each verdict, as `fold` leaves it: full-width brackets and signs
# made ASCII (阴性（－） is 阴性(-)), spaces removed, case folded. (+)/(-) is accepted after
# a word only where it agrees with it; 检出/未检出 is "detected/not detected".
VERDICTS: dict[Verdict, tuple[str, ...]] = {
    "negative": ("阴性", "阴性(-)", "未检出", "negative", "negative(-)", "neg", "-"),
    "positive": ("阳性", "阳性(+)", "检出", "positive", "positive(+)", "pos", "+"),
    "invalid": ("无效", "无效/需重采", "无效(需重采)", "需重采", "invalid", "inv"),
}
SPELLING: dict[str, Verdict] = {text: verdict for verdict, spellings in VERDICTS.items()
                                for text in spellings}
# Written by labs, and none of the three: the reason it is refused.
UNDECIDED = {"可疑": "a suspect result", "弱阳性": "a weak positive", "灰区": "a grey-zone result",
             "单阳": "a single-gene positive", "待复核": "a result awaiting review"}
SIGNS: dict[str, Verdict] = {"(+)": "positive", "(-)": "negative"}

NO_VALUE = ("", "-", "/", "na", "n/a", "无", "未检出")   # a Ct cell without a value
ID_MAX = 64   # the contract's tube and box ids
EXCEL_DIGITS = 15   # Excel keeps 15 significant digits of a number typed or pasted
# Excel's day 0 (its serial numbers count days from it; 1 Jan 2000 is 36526), and the
# serials a lab's time can be: 2000 to 2099.
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
SERIALS = (36526, 73051)
SCIENTIFIC = re.compile(r"([1-9])(?:\.(\d+))?E\+?(\d+)", re.IGNORECASE)
WHOLE = re.compile(r"(\d+)\.0+")   # 1101010000123.0: a number written by a program
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def fold(text: str) -> str:
    """A cell or header as it is compared: full-width forms made ASCII, no spaces, no case."""
    folded = unicodedata.normalize("NFKC", text).replace("\u2212", "-")   # − (minus sign)
    return "".join(folded.split()).casefold()


def verdict_of(value: Any) -> Verdict:
    """A result cell's verdict; ValueError says why it is none."""
    text = str(value or "").strip()
    folded = fold(text)
    if (found := SPELLING.get(folded)) is not None:
        return found
    for sign, meant in SIGNS.items():
        said = SPELLING.get(folded.removesuffix(sign)) if folded.endswith(sign) else None
        if said is not None and said != meant:
            raise ValueError(f"result {text!r}: the word says {said}, the sign {sign} says "
                             f"{meant}: ask the lab which it is")
    if "阴" in folded and "阳" in folded:
        raise ValueError(f"result {text!r} says both 阴 and 阳: ask the lab which it is")
    for word, what in UNDECIDED.items():
        if word in folded:
            raise ValueError(f"result {text!r} is {what}, none of 阴性/阳性/无效: the lab "
                             "confirms it and sends 阳性 or 阴性")
    raise ValueError(f"result {text!r} is not 阴性/阳性/无效 (negative/positive/invalid; "
                     "every spelling taken is in README.md, \"Lab files\")")


def number_form(value: Any) -> bool:
    """Whether an id cell is a number (a spreadsheet's), or text a number was written as."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    text = str(value or "").strip()
    return bool(SCIENTIFIC.fullmatch(text) or WHOLE.fullmatch(text))


def identifier(value: Any, what: str) -> str:
    """A tube or box id as printed on its label. A number is given back as its digits
    where none is lost (the caller then holds them to the register); ValueError where
    some are, or the cell is no id."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _digits_of_number(value, what)
    text = str(value or "").strip()
    if found := SCIENTIFIC.fullmatch(text):
        return _digits_of_scientific(text, found, what)
    if found := WHOLE.fullmatch(text):
        return found.group(1)
    if not text or len(text) > ID_MAX or any(c.isspace() for c in text):
        raise ValueError(f"{what} {text!r} is not a {what} id")
    return text


def _digits_of_number(value: float, what: str) -> str:
    if not (math.isfinite(value) and float(value).is_integer() and value > 0):
        raise ValueError(f"{what} is a number in the spreadsheet ({value}), not a {what} id: "
                         "format that column as text and export again")
    digits = str(int(value))
    if len(digits) > EXCEL_DIGITS:
        raise ValueError(f"{what} is a number in the spreadsheet ({value:.{EXCEL_DIGITS}g}): "
                         f"Excel keeps {EXCEL_DIGITS} digits of a number, so the rest of the "
                         "id is lost; format that column as text (or scan into a text "
                         "column) and export again")
    return digits


def _digits_of_scientific(text: str, found: re.Match[str], what: str) -> str:
    first, fraction, exponent = found.group(1), found.group(2) or "", int(found.group(3))
    if len(fraction) > exponent:
        raise ValueError(f"{what} {text!r} is not a whole number: not a {what} id")
    if len(fraction) < exponent:
        raise ValueError(f"{what} {text!r} is a number Excel wrote in scientific notation: "
                         f"the id's last {exponent - len(fraction)} digits are lost; format "
                         "that column as text and export again")
    return first + fraction


def not_registered(what: str, shown: str) -> str:
    """Why an id read from a number is refused when the register has no such id."""
    return (f"{what} {shown} was a number in the spreadsheet and no station registered a "
            f"{what} of exactly those digits: its leading zeros may be lost; format that "
            "column as text and export again")


def time_of(value: Any, what: str, zone: ZoneInfo) -> dt.datetime:
    """A time cell: a date cell (the lab's local time), text, or a date's serial number
    (a time cell Excel formats as General: 46360.4375 is 2026-12-04 10:30)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return moment(_from_serial(float(value), what), what, zone)
    text = str(value or "").strip()
    if NUMBER.fullmatch(text):
        return moment(_from_serial(float(text), what), what, zone)
    return moment(value, what, zone)


def _from_serial(serial: float, what: str) -> dt.datetime:
    if not SERIALS[0] <= serial < SERIALS[1]:
        raise ValueError(f"{what} {serial:g} is a number, not a time (Excel's serial numbers "
                         f"of 2000-2099 are {SERIALS[0]}-{SERIALS[1] - 1}): format that "
                         "column as a date and time")
    return EXCEL_EPOCH + dt.timedelta(seconds=round(serial * 86400))


def ct_value(value: Any, what: str) -> float | None:
    if value is None or str(value).strip().casefold() in NO_VALUE:
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a Ct value") from None
    if not (math.isfinite(number) and 0 <= number <= 50):
        raise ValueError(f"{what} {number} is not a Ct value (0 to 50)")
    return number


def count_of(value: Any, what: str) -> int:
    """A count cell: text, or a spreadsheet's number (2.0)."""
    text = str(int(value) if isinstance(value, float) and value.is_integer() else
               "" if value is None else value).strip()
    if not text.isdigit():
        raise ValueError(f"{what} {text!r} is not a number")
    return int(text)
