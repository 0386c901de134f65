"""Builds the configured drivers and turns their callbacks into workflow events.

Drivers know nothing of the station; this is the one place that adapts them. The
"sim" drivers are the real protocol drivers talking to emulators on ptys.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from drivers.lights.engine import Outputs, PatternEngine
from drivers.lights.gpio import GpioOutputs
from drivers.lights.sim import SimOutputs
from drivers.printer.layout import LabelSize
from drivers.printer.printer import LabelPrinter, language
from drivers.printer.sim import PrinterSim
from drivers.sam.reader import SamReader
from drivers.sam.sim import SamSimulator
from drivers.sam.text import CardText
from drivers.serial_scanner import SerialScanner
from drivers.sim import ScannerSim
from station.config import Config, LightsConfig, PrinterConfig
from station.identity import Person
from station.messages import (
    CardFailed,
    CardRead,
    CodeScanned,
    DeviceFaulted,
    DeviceRecovered,
    Event,
)

log = logging.getLogger("station.devices")

OPEN_WAIT_S = 2.0


def build_lights(config: LightsConfig) -> PatternEngine:
    outputs: Outputs = (SimOutputs() if config.driver == "sim"
                        else GpioOutputs(config.pins, config.active_low))
    return PatternEngine(outputs)


def person_from_card(card: CardText, today: dt.date) -> Person:
    if card.valid_to[:4].isdigit() and card.valid_to < today.isoformat():
        # The chip still authenticates; sampling goes on, the holder should renew.
        log.warning("card expired on %s (%s card)", card.valid_to, card.id_type)
    return Person(id_type=card.id_type, id_number=card.number, name=card.name,
                  gender=card.gender, birth=card.birth)


@dataclass
class Devices:
    printer: LabelPrinter | None             # None: no printer at this lane
    lights: PatternEngine
    scanner: SerialScanner
    card_reader: SamReader
    scanner_sim: ScannerSim | None = None   # present when the scanner is simulated
    card_sim: SamSimulator | None = None    # present when the card reader is simulated
    printer_sim: PrinterSim | None = None   # present when the printer is simulated

    def start(self) -> None:
        self.scanner.start()
        self.card_reader.start()

    def wait_opened(self, timeout: float = OPEN_WAIT_S) -> None:
        """Give the readers a moment to open; a missing one is a fault, not a hang."""
        self.scanner.opened.wait(timeout)
        self.card_reader.opened.wait(timeout)

    def stop(self) -> None:
        self.scanner.stop()
        self.card_reader.stop()
        self.lights.off()  # a known, safe state on stop
        for sim in (self.scanner_sim, self.card_sim, self.printer_sim):
            if sim is not None:
                sim.close()


def build_printer(config: PrinterConfig) -> tuple[LabelPrinter | None, PrinterSim | None]:
    size = LabelSize(config.width_mm, config.height_mm, config.gap_mm, config.dpi)
    if config.driver == "none":
        return None, None
    if config.driver == "sim":
        sim = PrinterSim(language="tspl")  # the real TSPL code, against an emulator
        return LabelPrinter(language("tspl"), sim.uri, size), sim
    return LabelPrinter(language(config.driver, config.font), config.uri, size), None


def build(config: Config, emit: Callable[[Event], None]) -> Devices:
    def fault(device: str) -> Callable[[str], None]:
        return lambda reason: emit(DeviceFaulted(device, reason))

    def recovered(device: str) -> Callable[[], None]:
        return lambda: emit(DeviceRecovered(device))

    scanner_sim = ScannerSim() if config.scanner.driver == "sim" else None
    scanner = SerialScanner(scanner_sim.port if scanner_sim else config.scanner.port,
                            config.scanner.baudrate or 9600,
                            on_code=lambda text: emit(CodeScanned(text)),
                            on_fault=fault("scanner"), on_recovered=recovered("scanner"))
    card_sim = SamSimulator() if config.card_reader.driver == "sim" else None
    reader = SamReader(card_sim.port if card_sim else config.card_reader.port,
                       config.card_reader.baudrate or 115200,
                       on_card=lambda card: emit(CardRead(person_from_card(
                           card, dt.date.today()))),
                       on_error=lambda reason: emit(CardFailed(reason)),
                       on_fault=fault("card_reader"), on_recovered=recovered("card_reader"))
    printer, printer_sim = build_printer(config.printer)
    return Devices(printer=printer, lights=build_lights(config.lights), scanner=scanner,
                   card_reader=reader,
                   scanner_sim=scanner_sim, card_sim=card_sim, printer_sim=printer_sim)
