"""The card's 256-byte text block (UCS-2 LE, space padded) → a typed identity.

Layouts by the marker at bytes 248–249: space = resident card, J = Hong Kong / Macau /
Taiwan residence permit, I = foreign permanent resident card (old), Y = the 2023 one.
"""

from __future__ import annotations

import msgspec

from drivers.errors import DriverError

TEXT_LEN = 256


class CardTextError(DriverError, ValueError):
    """The text block cannot be decoded; the message names the field, never its value."""


class CardText(msgspec.Struct, frozen=True):
    id_type: str          # "resident", "hmt_permit", "foreign"
    number: str
    name: str             # Chinese name when the card has one, else the English name
    gender: str           # "male", "female", "unknown"
    birth: str            # ISO date, "" when unreadable
    nation: str = ""      # resident: code 01–56, 97, 98; foreign: country code
    address: str = ""
    valid_from: str = ""  # ISO date
    valid_to: str = ""    # ISO date, or "长期" (no expiry)
    english_name: str = ""


def field(text: bytes, offset: int, length: int) -> str:
    try:
        return text[offset:offset + length].decode("utf-16-le").rstrip(" \x00")
    except UnicodeDecodeError as exc:
        raise CardTextError(f"bytes {offset}–{offset + length} are not UCS-2") from exc


def gender(code: str) -> str:
    return {"1": "male", "2": "female"}.get(code, "unknown")


def iso_date(yyyymmdd: str) -> str:
    if len(yyyymmdd) == 8 and yyyymmdd.isdigit():
        return f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:]}"
    return yyyymmdd  # "长期" and unreadable dates pass through as written


def decode(text: bytes) -> CardText:
    if len(text) < TEXT_LEN:
        raise CardTextError(f"text block has {len(text)} bytes, not {TEXT_LEN}")
    marker = field(text, 248, 2)
    if marker in ("", " "):
        return _resident(text, "resident")
    if marker == "J":
        return _resident(text, "hmt_permit")
    if marker == "I":
        return _foreign_old(text)
    if marker == "Y":
        return _foreign_2023(text)
    raise CardTextError(f"unknown card type marker {marker!r}")


def _resident(text: bytes, id_type: str) -> CardText:
    return CardText(
        id_type=id_type,
        name=field(text, 0, 30),
        gender=gender(field(text, 30, 2)),
        nation=field(text, 32, 4),
        birth=iso_date(field(text, 36, 16)),
        address=field(text, 52, 70),
        number=field(text, 122, 36),
        valid_from=iso_date(field(text, 188, 16)),
        valid_to=iso_date(field(text, 204, 16)),
    )


def _foreign_old(text: bytes) -> CardText:
    english = field(text, 0, 120)
    chinese = field(text, 158, 30)
    return CardText(
        id_type="foreign",
        english_name=english,
        name=chinese or english,
        gender=gender(field(text, 120, 2)),
        number=field(text, 122, 30),
        nation=field(text, 152, 6),
        valid_from=iso_date(field(text, 188, 16)),
        valid_to=iso_date(field(text, 204, 16)),
        birth=iso_date(field(text, 220, 16)),
    )


def _foreign_2023(text: bytes) -> CardText:
    chinese = field(text, 0, 30)
    english = (field(text, 52, 70) + field(text, 220, 22)).strip()
    return CardText(
        id_type="foreign",
        name=chinese or english,
        english_name=english,
        gender=gender(field(text, 30, 2)),
        birth=iso_date(field(text, 36, 16)),
        number=field(text, 122, 36),
        valid_from=iso_date(field(text, 188, 16)),
        valid_to=iso_date(field(text, 204, 16)),
        nation=field(text, 242, 6),
    )
