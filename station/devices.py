"""Builds the configured drivers and turns their callbacks into workflow events.

Drivers know nothing of the station; this is the one place that adapts them. The
"sim" drivers are the real protocol drivers talking to emulators on ptys. A driver's
module is imported only when the config chooses it: on a Pi's core every import before
"ready" is felt (`station bench --pi`), and a lane never needs the simulators.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import msgspec

from contract.events import ADDRESS_MAX, GENDERS, ID_TYPES, Device, Gender, IdType, Person
from drivers.keypad.config import KeypadConfig
from drivers.lights.config import LightsConfig
from drivers.lights.engine import Outputs, PatternEngine
from drivers.printer.config import PrinterConfig
from drivers.printer.printer import LabelPrinter, language
from drivers.sam.reader import SamReader
from drivers.sam.text import CardText
from drivers.scanner.config import ScannerConfig
from drivers.scanner.serial_scanner import SerialScanner
from drivers.voice.config import VoiceConfig
from station.config import Config
from station.core.messages import (
    CardFailed,
    CardRead,
    CodeScanned,
    DeviceFaulted,
    DeviceRecovered,
    EntryCleared,
    Event,
    NumberTyped,
)

if TYPE_CHECKING:
    from drivers.printer.sim import PrinterSim
    from drivers.sam.sim import SamSimulator
    from drivers.scanner.sim import ScannerSim

log = logging.getLogger("station.devices")

OPEN_WAIT_S = 2.0


def build_lights(config: LightsConfig, emit: Callable[[Event], None]) -> PatternEngine:
    if config.driver == "sim":
        from drivers.lights.sim import SimOutputs  # noqa: PLC0415 - only when chosen

        outputs: Outputs = SimOutputs()
    else:
        from drivers.lights.gpio import GpioOutputs  # noqa: PLC0415 - only when chosen

        outputs = GpioOutputs(config.pins, config.active_low)
    return PatternEngine(outputs, on_fault=lambda reason: emit(DeviceFaulted("lights", reason)),
                         on_recovered=lambda: emit(DeviceRecovered("lights")))


def person_from_card(card: CardText, today: dt.date) -> Person:
    if card.valid_to[:4].isdigit() and card.valid_to < today.isoformat():
        # The chip still authenticates; sampling goes on, the holder should renew.
        log.warning("card expired on %s (%s card)", card.valid_to, card.id_type)
    # The driver speaks strings; the contract's sets are checked here, at the seam.
    id_type: IdType = next((t for t in ID_TYPES if t == card.id_type), "other")
    gender: Gender = next((g for g in GENDERS if g == card.gender), "unknown")
    return Person(id_type=id_type, id_number=card.number, name=card.name, gender=gender,
                  birth=card.birth, card_address=card.address[:ADDRESS_MAX])


class Reader(Protocol):
    opened: threading.Event
    tried: threading.Event   # the first open succeeded or failed

    def start(self) -> None: ...
    def stop(self) -> None: ...


def build_scanner(config: ScannerConfig, emit: Callable[[Event], None],
                  sim: ScannerSim | None) -> Reader:
    def on_code(text: str) -> None:
        emit(CodeScanned(text))

    def on_fault(reason: str) -> None:
        emit(DeviceFaulted("scanner", reason))

    def on_recovered() -> None:
        emit(DeviceRecovered("scanner"))

    if config.driver == "evdev":
        from drivers.scanner.evdev_scanner import EvdevScanner  # noqa: PLC0415 - needs evdev

        return EvdevScanner(config.device, on_code=on_code, on_fault=on_fault,
                            on_recovered=on_recovered)
    port = sim.port if sim is not None else config.port
    return SerialScanner(port, config.baudrate, on_code=on_code, on_fault=on_fault,
                         on_recovered=on_recovered)


class Voice(Protocol):
    def start(self, prepare: Iterable[str] = ()) -> None: ...
    def say(self, text: str) -> None: ...
    def stop(self) -> None: ...


def build_voice(config: VoiceConfig, cache: Path, emit: Callable[[Event], None]) -> Voice:
    from drivers.voice.sim import Silent, SimSpeaker  # noqa: PLC0415 - only when chosen

    if config.driver == "none":
        return Silent()
    if config.driver == "sim":
        return SimSpeaker()
    from drivers.voice.speaker import Speaker, Synth  # noqa: PLC0415 - only when chosen

    return Speaker(cache, Synth(config.voice, config.speed, config.volume), config.device,
                   on_fault=lambda reason: emit(DeviceFaulted("voice", reason)),
                   on_recovered=lambda: emit(DeviceRecovered("voice")))


def build_keypad(config: KeypadConfig, emit: Callable[[Event], None]) -> Reader | None:
    if config.driver == "none":
        return None
    from drivers.keypad.evdev_keypad import EvdevKeypad  # noqa: PLC0415 - needs evdev

    return EvdevKeypad(config.device, config.timeout_s,
                       on_number=lambda entry: emit(NumberTyped(*entry)),
                       on_cleared=lambda: emit(EntryCleared()),
                       on_fault=lambda reason: emit(DeviceFaulted("keypad", reason)),
                       on_recovered=lambda: emit(DeviceRecovered("keypad")))


class Devices(msgspec.Struct):
    printer: LabelPrinter | None             # None: no printer at this lane
    lights: PatternEngine
    scanner: Reader
    card_reader: SamReader
    voice: Voice
    scanner_sim: ScannerSim | None = None   # present when the scanner is simulated
    card_sim: SamSimulator | None = None    # present when the card reader is simulated
    printer_sim: PrinterSim | None = None   # present when the printer is simulated
    keypad: Reader | None = None            # present when the lane has one

    def _readers(self) -> list[Reader]:
        return [self.scanner, self.card_reader, *([self.keypad] if self.keypad else [])]

    def start(self) -> None:
        for reader in self._readers():
            reader.start()

    def wait_opened(self, timeout: float = OPEN_WAIT_S) -> None:
        """Give the readers a moment to open, together; a missing one is a fault, not a
        hang, and is not waited for once its first open has failed."""
        deadline = time.monotonic() + timeout
        for reader in self._readers():
            reader.tried.wait(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        for reader in self._readers():
            reader.stop()
        self.voice.stop()
        self.lights.off()  # a known, safe state on stop
        for sim in (self.scanner_sim, self.card_sim, self.printer_sim):
            if sim is not None:
                sim.close()


def build_printer(config: PrinterConfig) -> tuple[LabelPrinter | None, PrinterSim | None]:
    size = config.size
    if config.driver == "none":
        return None, None
    if config.driver == "sim":
        from drivers.printer.sim import PrinterSim  # noqa: PLC0415 - only when chosen

        sim = PrinterSim(language="tspl")  # the real TSPL code, against an emulator
        return LabelPrinter(language("tspl"), sim.uri, size), sim
    return LabelPrinter(language(config.driver, config.font), config.uri, size), None


def build(config: Config, emit: Callable[[Event], None]) -> Devices:
    def fault(device: Device) -> Callable[[str], None]:
        return lambda reason: emit(DeviceFaulted(device, reason))

    def recovered(device: Device) -> Callable[[], None]:
        return lambda: emit(DeviceRecovered(device))

    scanner_sim = card_sim = None
    if config.scanner.driver == "sim":
        from drivers.scanner.sim import ScannerSim  # noqa: PLC0415 - only when chosen

        scanner_sim = ScannerSim()
    scanner = build_scanner(config.scanner, emit, scanner_sim)
    if config.card_reader.driver == "sim":
        from drivers.sam.sim import SamSimulator  # noqa: PLC0415 - only when chosen

        card_sim = SamSimulator()
    reader = SamReader(card_sim.port if card_sim else config.card_reader.port,
                       config.card_reader.baudrate,
                       on_card=lambda card: emit(CardRead(person_from_card(
                           card, dt.date.today()))),
                       on_error=lambda reason: emit(CardFailed(reason)),
                       on_fault=fault("card_reader"), on_recovered=recovered("card_reader"))
    printer, printer_sim = build_printer(config.printer)
    voice = build_voice(config.voice, config.station.data_dir / "voice", emit)
    return Devices(printer=printer, lights=build_lights(config.lights, emit), scanner=scanner,
                   card_reader=reader, voice=voice,
                   scanner_sim=scanner_sim, card_sim=card_sim, printer_sim=printer_sim,
                   keypad=build_keypad(config.keypad, emit))
