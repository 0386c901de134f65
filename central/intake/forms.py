"""Paper information cards (核酸采集信息卡): their typed data, imported after the day.

A card scanned at a lane is a placeholder in the register (source "form", its serial).
The district types each card's data into a CSV (serial, id_number, name, phone) and
imports it; the register and the roster comparison then treat the card like any
registration, and `report forms` lists the cards still waiting for their data. Imported
with `--seal-to` (central's public key), each card's person is sealed as a lane seals a
registration's, bound to the card's serial: the database holds no one in the clear.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from contract.events import Person
from contract.id_numbers import well_formed
from contract.sealer import Sealer

FIELDS = ("serial", "id_number", "name", "phone")
SERIAL = re.compile(r"[A-Z0-9][A-Z0-9-]{0,31}")   # the contract's data.form
PHONE = re.compile(r"\+?[0-9 -]{0,20}")


def read(path: Path) -> tuple[list[tuple[str, str, str, str]], list[str]]:
    """The rows that can be imported, and a problem per row that cannot (with its line)."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = [name for name in FIELDS if name not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: needs the columns {', '.join(FIELDS)} "
                             f"(missing: {', '.join(missing)})")
        good, problems = [], []
        for row in reader:
            serial, number, name, phone = (str(row[k] or "").strip() for k in FIELDS)
            number = number.upper()
            where = f"{path}:{reader.line_num}"
            if not SERIAL.fullmatch(serial):
                problems.append(f"{where}: serial {serial!r} is not a card serial")
            elif not well_formed(number):
                problems.append(f"{where}: {serial}: ID number does not check "
                                "(length or last character): retype it from the card")
            elif not name:
                problems.append(f"{where}: {serial}: no name")
            elif not PHONE.fullmatch(phone):
                problems.append(f"{where}: {serial}: phone {phone!r} is not a number")
            else:
                good.append((serial, number, name, phone))
        return good, problems


def sealed_rows(rows: list[tuple[str, str, str, str]], sealer: Sealer
                ) -> list[tuple[str, str, str, str, str]]:
    """(serial, "", "", "", the person sealed to central's key, bound to the serial)."""
    return [(serial, "", "", "", sealer.seal(serial, Person(
        "other", number, name, "unknown", "", phone=phone)))
        for serial, number, name, phone in rows]


def plain_rows(rows: list[tuple[str, str, str, str]]) -> list[tuple[str, str, str, str, str]]:
    return [(*row, "") for row in rows]
