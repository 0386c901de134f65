"""Builds the configured drivers and turns their callbacks into workflow events.

Drivers know nothing of the station; this is the one place that adapts them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from drivers.card import CardIdentity
from drivers.labels import LabelJob
from drivers.serial_scanner import SerialScanner
from drivers.sim import ScannerSim, SimCardReader, SimLights, SimPrinter
from station.config import Config
from station.identity import Person
from station.messages import CardRead, CodeScanned, DeviceFaulted, DeviceRecovered, Event

log = logging.getLogger("station.devices")


class Printer(Protocol):
    def print(self, job: LabelJob) -> None: ...


class Lights(Protocol):
    def show(self, pattern: str) -> None: ...
    def off(self) -> None: ...


class NoPrinter:
    def print(self, job: LabelJob) -> None:
        log.info("no printer configured: %s label %s not printed", job.kind, job.barcode)


def person_from_card(card: CardIdentity) -> Person:
    return Person(id_type=card.id_type, id_number=card.number, name=card.name,
                  gender=card.gender, birth=card.birth)


@dataclass
class Devices:
    printer: Printer
    lights: Lights
    scanner: SerialScanner
    card_reader: SimCardReader
    scanner_sim: ScannerSim | None = None   # present when the scanner is simulated
    health: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        self.scanner.start()
        self.card_reader.start()

    def stop(self) -> None:
        self.scanner.stop()
        self.card_reader.stop()
        self.lights.off()  # a known, safe state on stop
        if self.scanner_sim is not None:
            self.scanner_sim.close()


def build(config: Config, emit: Callable[[Event], None]) -> Devices:
    health = {"scanner": "ok", "card_reader": "ok", "printer": "ok", "lights": "ok"}

    def fault(device: str) -> Callable[[str], None]:
        def report(reason: str) -> None:
            health[device] = "fault"
            emit(DeviceFaulted(device, reason))
        return report

    def recovered(device: str) -> Callable[[], None]:
        def report() -> None:
            health[device] = "ok"
            emit(DeviceRecovered(device))
        return report

    sim = None
    port, baudrate = config.scanner.port, config.scanner.baudrate
    if config.scanner.driver == "sim":
        sim = ScannerSim()
        port = sim.port
    scanner = SerialScanner(port, baudrate, on_code=lambda text: emit(CodeScanned(text)),
                            on_fault=fault("scanner"), on_recovered=recovered("scanner"))
    reader = SimCardReader(lambda card: emit(CardRead(person_from_card(card))),
                           fault("card_reader"))
    printer: Printer = SimPrinter() if config.printer.driver == "sim" else NoPrinter()
    return Devices(printer=printer, lights=SimLights(), scanner=scanner, card_reader=reader,
                   scanner_sim=sim, health=health)
