"""Each device's contract, against its simulator, or against real hardware when an
environment variable names it (run on the station itself, nothing else using them):

    NATEST_SAM_PORT=/dev/natest-idcard          an ID-card reader, no card on it
    NATEST_PRINTER_URI=tcp://192.168.1.50:9100  a label printer with paper
    NATEST_PRINTER_LANGUAGE=zpl                 (default tspl)
    NATEST_SCANNER_PORT=/dev/natest-scanner     a USB-CDC scanner
    NATEST_GPIO=1                               the light tower on its default pins

Only what needs no hands is checked here; the behaviour with cards, codes and paper
is covered against the simulators by the other test files.
"""

from __future__ import annotations

import os
import queue
import re
import time
from collections.abc import Iterator

import pytest

from drivers.lights.config import LightsConfig
from drivers.lights.engine import PatternEngine
from drivers.lights.gpio import GpioOutputs
from drivers.lights.patterns import PatternName
from drivers.lights.sim_gpio import SimGPIO
from drivers.printer.job import LabelJob
from drivers.printer.layout import LabelSize
from drivers.printer.printer import LabelPrinter, language
from drivers.printer.sim import PrinterSim
from drivers.sam.reader import SamReader
from drivers.sam.sim import SamSimulator
from drivers.scanner.serial_scanner import SerialScanner
from drivers.scanner.sim import ScannerSim

ENV = os.environ.get


@pytest.fixture
def sam_port() -> Iterator[str]:
    if ENV("NATEST_SAM_PORT"):
        yield ENV("NATEST_SAM_PORT", "")
        return
    sim = SamSimulator()
    yield sim.port
    sim.close()


@pytest.fixture
def printer_under_test() -> Iterator[tuple[LabelPrinter, PrinterSim | None]]:
    lang = ENV("NATEST_PRINTER_LANGUAGE", "tspl")
    if ENV("NATEST_PRINTER_URI"):
        yield LabelPrinter(language(lang), ENV("NATEST_PRINTER_URI", ""), LabelSize()), None
        return
    sim = PrinterSim(language=lang)
    yield LabelPrinter(language(lang), sim.uri, LabelSize()), sim
    sim.close()


def test_sam_reader_starts_reports_its_id_and_reads_no_card_when_empty(sam_port: str) -> None:
    events: queue.Queue[str] = queue.Queue()
    reader = SamReader(sam_port, on_card=lambda c: events.put("card"),
                       on_error=lambda r: events.put(f"error {r}"),
                       on_fault=lambda r: events.put(f"fault {r}"),
                       on_recovered=lambda: events.put("recovered"))
    reader.start()
    try:
        assert reader.opened.wait(5), events.queue
        assert re.fullmatch(r"[0-9a-f]{16,64}", reader.sam_id)
        with pytest.raises(queue.Empty):
            events.get(timeout=1.0)   # three polls, nothing on the reader
    finally:
        reader.stop()


def test_printer_answers_status_and_takes_a_label(
        printer_under_test: tuple[LabelPrinter, PrinterSim | None]) -> None:
    printer, sim = printer_under_test
    assert printer.status() == []
    printer.print(LabelJob("tube", "TEST000001", ("natest contract test", "测试标签")))
    if sim is not None:
        assert sim.wait_printed(1) and sim.printed[0].lines[1] == "测试标签"


def test_serial_scanner_port_opens() -> None:
    sim = None if ENV("NATEST_SCANNER_PORT") else ScannerSim()
    port = ENV("NATEST_SCANNER_PORT", "") or (sim.port if sim else "")
    faults: list[str] = []
    scanner = SerialScanner(port, 9600, on_code=lambda c: None, on_fault=faults.append,
                            on_recovered=lambda: None)
    scanner.start()
    try:
        assert scanner.opened.wait(5), faults
    finally:
        scanner.stop()
        if sim is not None:
            sim.close()


def test_light_tower_drives_every_output_and_releases_them() -> None:
    config = LightsConfig()
    gpio = None if ENV("NATEST_GPIO") == "1" else SimGPIO()
    outputs = GpioOutputs(config.pins, config.active_low, gpio=gpio)
    engine = PatternEngine(outputs)
    lit: dict[PatternName, set[str]] = {"ready": {"yellow"}, "tube_open": {"green"},
                                        "refused": {"red", "buzzer"}}
    for name, lamps in lit.items():
        engine.show(name)
        if gpio is None:
            time.sleep(1.5)     # real hardware: a person watches the tower
            continue
        pins = {config.pins[lamp] for lamp in lamps}
        deadline = time.monotonic() + 3
        while not all(gpio.level.get(pin) == 1 for pin in pins):
            assert time.monotonic() < deadline, f"{name}: {lamps} never came on"
            time.sleep(0.005)
    engine.off()
    if gpio is not None:
        assert all(d == SimGPIO.IN for d in gpio.direction.values())
