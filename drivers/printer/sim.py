"""A label printer on a TCP port that understands the TSPL and ZPL it is sent.

It keeps what it printed (barcode and text, decoded), answers status queries as the
real printers do, and can run out of paper or have its head opened.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from dataclasses import dataclass, field

from drivers.printer import tspl

_QUOTED_LAST = re.compile(r'"((?:[^"\\]|\\\["\])*)"\s*$')
_ZPL_FIELD = re.compile(r"\^(BC|A[0@])[^\^]*(?:\^FH\\)?\^FD(.*?)\^FS", re.S)


@dataclass(frozen=True)
class Printed:
    barcode: str
    lines: tuple[str, ...]


@dataclass
class PrinterSim:
    language: str = "tspl"
    port: int = 0           # 0: any free port; a given one: a printer back at its address
    paper_out: bool = False
    head_open: bool = False
    jammed: bool = False
    ribbon_out: bool = False
    printed: list[Printed] = field(default_factory=list)
    lost: list[bytes] = field(default_factory=list)  # jobs sent while it could not print
    received: list[bytes] = field(default_factory=list)  # every job's bytes, as sent
    labels: list[int] = field(default_factory=list)      # each received job's labels printed

    def __post_init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.server.settimeout(0.1)
        self.port = self.server.getsockname()[1]
        self.uri = f"tcp://127.0.0.1:{self.port}"
        self.changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="printer-sim", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self.server.close()
        self._thread.join(2)

    def wait_printed(self, count: int, timeout: float = 10) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.printed) >= count, timeout)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                self._session(conn)

    def _session(self, conn: socket.socket) -> None:
        conn.settimeout(0.5)
        buffer = b""
        while not self._stop.is_set():
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                break
            buffer += data
            buffer = self._answer_queries(conn, buffer)
        self._job(buffer)

    @property
    def troubled(self) -> bool:
        return self.paper_out or self.head_open or self.jammed or self.ribbon_out

    def _answer_queries(self, conn: socket.socket, buffer: bytes) -> bytes:
        if tspl.STATUS_QUERY in buffer:
            byte = (1 if self.head_open else 0) | (2 if self.jammed else 0) \
                | (4 if self.paper_out else 0) | (8 if self.ribbon_out else 0)
            with contextlib.suppress(OSError):
                conn.sendall(bytes([byte]))
            buffer = buffer.replace(tspl.STATUS_QUERY, b"")
        if b"~HS" in buffer:
            if not self.troubled:  # a Zebra in trouble says nothing
                with contextlib.suppress(OSError):
                    conn.sendall(b"\x02030,0,0,0240,000,0,0,0,000,0,0,0\x03\r\n"
                                 b"\x02001,0,0,0,1,2,6,0,00000000,1,000\x03\r\n"
                                 b"\x021234,0\x03\r\n")
            buffer = buffer.replace(b"~HS", b"")
        return buffer

    def _job(self, data: bytes) -> None:
        if not data.strip():
            return
        printed = [] if self.troubled else \
            self._zpl(data) if b"^XA" in data else self._tspl(data)
        with self.changed:   # a job and its labels are seen together, or not at all
            self.received.append(data)
            if self.troubled:
                self.lost.append(data)
            self.printed += printed
            self.labels.append(len(printed))
            self.changed.notify_all()

    @staticmethod
    def _tspl(data: bytes) -> list[Printed]:
        labels, barcode, lines = [], "", []
        for line in data.decode("gb18030").split("\r\n"):
            quoted = _QUOTED_LAST.search(line)
            value = quoted.group(1).replace('\\["]', '"') if quoted else ""
            if line.startswith("BARCODE"):
                barcode = value
            elif line.startswith("TEXT"):
                lines.append(value)
            elif line.startswith("PRINT"):
                labels.append(Printed(barcode, tuple(lines)))
                barcode, lines = "", []
        return labels

    @staticmethod
    def _zpl(data: bytes) -> list[Printed]:
        labels = []
        for block in data.decode("utf-8").split("^XA")[1:]:
            barcode, lines = "", []
            for kind, raw in _ZPL_FIELD.findall(block):
                value = re.sub(r"\\([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), raw)
                if kind == "BC":
                    barcode = value
                else:
                    lines.append(value)
            labels.append(Printed(barcode, tuple(lines)))
        return labels
