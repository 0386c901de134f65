"""Byte pipes to a printer, by URI: tcp://host:9100, file:///dev/usb/lp0,
serial:///dev/ttyUSB1?baud=9600, or any pyserial URL (spy:///dev/ttyUSB1?file=…
records every byte for field debugging, as it does for the scanners and the card
reader). Languages know nothing of these, and the reverse."""

from __future__ import annotations

import os
import select
import socket
import time
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

import serial

from drivers.printer.job import PrinterFault
from drivers.printer.uri import PYSERIAL_SCHEMES


class Transport(Protocol):
    def write(self, data: bytes) -> None: ...
    def read(self, timeout: float) -> bytes: ...
    def close(self) -> None: ...


class TcpTransport:
    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self, timeout: float) -> bytes:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096)
        except TimeoutError:
            return b""

    def close(self) -> None:
        self.sock.close()


class FileTransport:
    """A USB printer-class node (/dev/usb/lp0): write, and read status where supported."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]

    def read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        return os.read(self.fd, 4096) if ready else b""

    def close(self) -> None:
        os.close(self.fd)


class SerialTransport:
    def __init__(self, url: str, baudrate: int) -> None:
        self.port = serial.serial_for_url(url, baudrate, timeout=0.1, write_timeout=5,
                                          exclusive=True)

    def write(self, data: bytes) -> None:
        self.port.write(data)
        self.port.flush()

    def read(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.port.read(self.port.in_waiting or 1)
            if data:
                return bytes(data)
        return b""

    def close(self) -> None:
        self.port.close()


def open_transport(uri: str, timeout: float = 3.0) -> Transport:
    parts = urlsplit(uri)
    try:
        if parts.scheme == "tcp":
            return TcpTransport(parts.hostname or "localhost", parts.port or 9100, timeout)
        if parts.scheme == "file":
            return FileTransport(parts.path)
        if parts.scheme == "serial":
            baud = int(parse_qs(parts.query).get("baud", ["9600"])[0])
            return SerialTransport(parts.path, baud)
        if parts.scheme in PYSERIAL_SCHEMES:
            return SerialTransport(uri, 9600)
    except ConnectionRefusedError as exc:
        raise PrinterFault(f"{uri}: connection refused: nothing listens there (the printer "
                           "off, or a wrong address or port?)", "no_answer") from exc
    except (OSError, ValueError, serial.SerialException) as exc:
        raise PrinterFault(f"{uri}: {exc}", "no_answer") from exc
    raise PrinterFault(f"{uri}: unknown printer URI (use tcp://, file://, serial:// or a "
                       "pyserial URL such as spy://)")
