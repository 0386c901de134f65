"""A card as the ID-card reader decoded it. The photo never leaves the driver."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CardIdentity:
    id_type: str      # "resident", "hmt_permit", "foreign"
    number: str
    name: str
    gender: str       # "male", "female", "unknown"
    birth: str        # ISO date
    valid_to: str = ""  # ISO date or "长期"
