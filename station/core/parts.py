"""The lane's parts, declared once.

Every list of parts the station shows or checks derives from `PARTS`: the config
reader's sections, `check-config --probe`, the status message's `devices`, the kiosk
screen and `/api/state`, and the fault cues the operator sees and hears. A part added
here and forgotten in one of them fails `tests/station/core/test_parts.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

import msgspec

from contract.events import DEVICES, Device
from drivers.keypad.config import KeypadDriver
from drivers.lights.config import LightsDriver
from drivers.printer.config import PrinterDriver
from drivers.printer.status import ProblemKind
from drivers.sam.config import CardReaderDriver
from drivers.scanner.config import ScannerDriver
from drivers.voice.config import VoiceDriver

# The parts that can fault: the contract's devices (central hears of them in the status
# message and in device.fault events), and the lane's own, which central need not hear of.
Part = Device | Literal["keypad", "voice"]

# What a driver says went wrong: a printer's status parser knows what the operator must
# do; any other part knows only that it failed.
FaultKind = ProblemKind | Literal["fault"]

# What the operator is told of a fault: each its own prompt and screen line.
FaultCue = Literal[
    "printer_paper", "printer_head", "printer_jam", "printer_ribbon", "printer_no_answer",
    "printer_fault_other", "scanner_fault", "card_reader_fault", "keypad_fault",
    "lights_fault", "storage_fault", "voice_fault",
]
FAULT_CUES: tuple[FaultCue, ...] = get_args(FaultCue)


class PartSpec(msgspec.Struct, frozen=True):
    part: Part
    label: str                      # how the screen names it
    section: str | None             # its config section; None: it has none of its own
    drivers: tuple[str, ...]        # what `driver` may be in that section
    cues: Mapping[FaultKind, FaultCue]   # by fault kind; "fault" for any other

    @property
    def contract(self) -> bool:
        """Reported to central (status `devices`, device.fault events)."""
        return self.part in DEVICES

    def cue(self, kind: FaultKind) -> FaultCue:
        return self.cues.get(kind, self.cues["fault"])


def _one(cue: FaultCue) -> dict[FaultKind, FaultCue]:
    return {"fault": cue}


PARTS: tuple[PartSpec, ...] = (
    PartSpec("scanner", "扫码枪", "scanner", get_args(ScannerDriver), _one("scanner_fault")),
    PartSpec("card_reader", "读卡器", "card_reader", get_args(CardReaderDriver),
             _one("card_reader_fault")),
    PartSpec("keypad", "数字键盘", "keypad", get_args(KeypadDriver), _one("keypad_fault")),
    PartSpec("printer", "打印机", "printer", get_args(PrinterDriver), {
        "paper_out": "printer_paper", "head_open": "printer_head",
        "paper_jam": "printer_jam", "ribbon_out": "printer_ribbon",
        "no_answer": "printer_no_answer", "other": "printer_fault_other",
        "fault": "printer_fault_other"}),
    PartSpec("lights", "灯塔", "lights", get_args(LightsDriver), _one("lights_fault")),
    PartSpec("voice", "语音", "voice", get_args(VoiceDriver), _one("voice_fault")),
    PartSpec("storage", "存储", None, (), _one("storage_fault")),
)
BY_PART: dict[Part, PartSpec] = {spec.part: spec for spec in PARTS}
SECTIONS: tuple[str, ...] = tuple(s.section for s in PARTS if s.section is not None)


def fault_cue(part: Part, kind: FaultKind) -> FaultCue:
    return BY_PART[part].cue(kind)


def contract_device(part: Part) -> Device | None:
    return next((d for d in DEVICES if d == part), None)
