"""The USB-CDC scanner: framing without a port, then the real transport over a pty."""

from __future__ import annotations

import os
import queue
import tty
from pathlib import Path

import pytest

from drivers.scanner.lines import MAX_CODE_BYTES, LineFramer
from drivers.scanner.serial_scanner import SerialScanner
from drivers.scanner.sim import ScannerSim


@pytest.mark.parametrize(("chunks", "codes"), [
    ([b"T000001\r\n"], ["T000001"]),
    ([b"T000001\n"], ["T000001"]),
    ([b"T000001\r"], ["T000001"]),
    ([b"T00", b"0001\r", b"\nT000002\r\n"], ["T000001", "T000002"]),
    ([b"\r\n\r\n"], []),
    (["{\"name\":\"张三\"}\r\n".encode()], ["{\"name\":\"张三\"}"]),
    ([b"\xff\xfeabc\r\n"], ["\ufffd\ufffdabc"]),
])
def test_framing(chunks: list[bytes], codes: list[str]) -> None:
    framer = LineFramer()
    got = [code for chunk in chunks for code in framer.data_received(chunk)]
    assert got == codes


def test_utf8_split_across_reads_is_reassembled() -> None:
    framer = LineFramer()
    data = "李四\r\n".encode()
    assert framer.data_received(data[:2]) == []
    assert framer.data_received(data[2:]) == ["李四"]


def test_an_endless_line_is_bounded() -> None:
    framer = LineFramer()
    assert framer.data_received(b"x" * (MAX_CODE_BYTES + 100)) == []
    (code,) = framer.data_received(b"\n")
    assert len(code) == MAX_CODE_BYTES and framer.overflows == 100


def test_quiet_flush_takes_a_code_with_no_terminator() -> None:
    framer = LineFramer()
    framer.data_received(b"T000001")
    assert framer.partial and framer.flush() == ["T000001"] and not framer.partial


class Sink:
    def __init__(self) -> None:
        self.items: queue.Queue[tuple[str, str]] = queue.Queue()

    def code(self, text: str) -> None:
        self.items.put(("code", text))

    def fault(self, reason: str) -> None:
        self.items.put(("fault", reason))

    def recovered(self) -> None:
        self.items.put(("recovered", ""))

    def next(self) -> tuple[str, str]:
        return self.items.get(timeout=10)


def scanner_on(port: str, sink: Sink) -> SerialScanner:
    return SerialScanner(port, 9600, on_code=sink.code, on_fault=sink.fault,
                         on_recovered=sink.recovered, reopen_s=0.05)


def test_codes_over_a_real_pty(scanner: ScannerSim) -> None:
    sink = Sink()
    driver = scanner_on(scanner.port, sink)
    driver.start()
    try:
        assert driver.opened.wait(5)
        scanner.scan("T000001")
        scanner.send_raw("{\"id\":\"x\",\"name\":\"王五\"}\n".encode())
        scanner.send_raw(b"NO-SUFFIX")  # a scanner set up without a terminator
        assert sink.next() == ("code", "T000001")
        assert sink.next() == ("code", "{\"id\":\"x\",\"name\":\"王五\"}")
        assert sink.next() == ("code", "NO-SUFFIX")
    finally:
        driver.stop()


def test_a_missing_port_is_a_fault_naming_it_and_recovers_when_it_appears(tmp_path: Path) -> None:
    link = tmp_path / "ttyACM-scanner"   # as a udev symlink would name it
    sink = Sink()
    driver = scanner_on(str(link), sink)
    driver.start()
    try:
        kind, reason = sink.next()
        assert kind == "fault" and str(link) in reason
        master, slave = os.openpty()
        tty.setraw(slave)
        link.symlink_to(os.ttyname(slave))   # the scanner is plugged in
        assert sink.next() == ("recovered", "")
        os.write(master, b"T000009\r\n")
        assert sink.next() == ("code", "T000009")
    finally:
        driver.stop()


def test_a_missing_port_ends_the_first_attempt_at_once(tmp_path: Path) -> None:
    driver = scanner_on(str(tmp_path / "ttyACM-scanner"), Sink())
    driver.start()
    try:
        assert driver.tried.wait(5)   # what the station's start waits on
        assert not driver.opened.is_set()
    finally:
        driver.stop()


def test_unplugging_mid_session_is_a_fault(scanner: ScannerSim) -> None:
    sink = Sink()
    driver = scanner_on(scanner.port, sink)
    driver.start()
    try:
        assert driver.opened.wait(5)
        scanner.close()   # the pty goes away as a USB device would
        kind, reason = sink.next()
        assert kind == "fault" and scanner.port in reason
    finally:
        driver.stop()
