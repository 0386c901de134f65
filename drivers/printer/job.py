"""A label job as printers see it: language-neutral, built by the station."""

from __future__ import annotations

import msgspec

from drivers.errors import DriverError
from drivers.printer.status import ProblemKind


class LabelJob(msgspec.Struct, frozen=True):
    kind: str                 # "tube", "handover", "commands"
    barcode: str              # Code 128 payload; "" for none
    lines: tuple[str, ...]    # human-readable text, already masked


class PrinterFault(DriverError):
    """The printer cannot print now (paper out, head open, gone); the job is not done.

    `kind` is what the operator is told to do about it; the message is for the log."""

    def __init__(self, message: str, kind: ProblemKind = "other") -> None:
        super().__init__(message)
        self.kind: ProblemKind = kind
