"""What a label printer's status says, as kinds the operator can act on.

The TSPL status byte and the ZPL ~HS strings name different things in different words;
both parsers return `Problem`s whose `kind` says what the operator must do (load paper,
close the head, clear a jam, change the ribbon, check power and cable), and whose
`detail` keeps the printer's own words for the log.
"""

from __future__ import annotations

from typing import Literal, get_args

import msgspec

from drivers.errors import DriverError

# In the order the operator is told when several hold at once: the first one is said.
ProblemKind = Literal["head_open", "paper_jam", "paper_out", "ribbon_out", "no_answer",
                      "other"]
PROBLEM_KINDS: tuple[ProblemKind, ...] = get_args(ProblemKind)


class Problem(msgspec.Struct, frozen=True):
    kind: ProblemKind
    detail: str   # the printer's own words ("cover open", "over temperature")


def first_kind(problems: list[Problem]) -> ProblemKind:
    """The one the operator is told first: a head left open hides the rest."""
    return min((p.kind for p in problems), key=PROBLEM_KINDS.index, default="other")


def describe(problems: list[Problem]) -> str:
    return ", ".join(p.detail for p in problems)


class NotAStatus(DriverError, ValueError):
    """The answer cannot be this language's status: something else listens there (a web
    page, another device), and its bytes must not be read as paper jams."""


def stranger(data: bytes, expected: str) -> NotAStatus:
    first = data.split(b"\n", 1)[0].strip()[:40].decode("ascii", "replace")
    who = "an HTTP server" if data.startswith(b"HTTP/") else "something else"
    return NotAStatus(f"{who} answered ({first!r}), not {expected}: is this the "
                      "printer's address and port?")
