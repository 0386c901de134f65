"""The ids a station makes up: tube ids (in print mode) and box ids.

A lab keys on the tube barcode, so a minted id must be unique across every site that
sends to it: it starts with the lane's `tube_prefix`, digits the district assigns once
per lane (README: "Tube ids unique across a city"), then a counter. Digits only, so
Code 128 packs two in a bar pattern and the barcode stays short enough for a 40 mm label.
Box ids take the same prefix and a B; without a prefix they fall back to the station id,
which is unique only within a site.
"""

from __future__ import annotations

import re

TUBE_DIGITS, BOX_DIGITS = 6, 5


def tube_id(prefix: str, number: int) -> str:
    return f"{prefix}{number:0{TUBE_DIGITS}d}"


def box_id(prefix: str, station_id: str, number: int) -> str:
    return f"{prefix or station_id}B{number:0{BOX_DIGITS}d}"


def box_pattern(prefix: str, station_id: str) -> re.Pattern[str]:
    """Every box id this lane mints (its handover slips' barcodes)."""
    return re.compile(re.escape(prefix or station_id) + f"B[0-9]{{{BOX_DIGITS}}}")


def longest_tube_id(prefix: str) -> str:
    return tube_id(prefix, 10**TUBE_DIGITS - 1)


def longest_box_id(prefix: str, station_id: str) -> str:
    return box_id(prefix, station_id, 10**BOX_DIGITS - 1)
