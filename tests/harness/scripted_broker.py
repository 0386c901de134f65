"""A broker that follows a script: for the cases a real mosquitto will not play (a
malformed packet, a refusal, a PINGRESP that never comes), what the collector's client
does. Each connection runs `script(conn)` on a thread of its own; everything the client
sends is kept, packet by packet, for the test to read."""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Self

from central.mqtt import codec

Packet = tuple[int, int, bytes]   # type, flags, body
CONNACK_OK = b"\x20\x03\x00\x00\x00"


def connack(reason: int = 0, props: bytes = b"", session_present: bool = False) -> bytes:
    return codec.packet(codec.CONNACK, 0, bytes((int(session_present), reason))
                        + codec.varint(len(props)) + props)


def publish(topic: bytes, payload: bytes, mid: int = 0, qos: int = 1,
            props: bytes = b"\x00") -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + (mid.to_bytes(2, "big") if qos else b"")
    return codec.packet(codec.PUBLISH, qos << 1, body + props + payload)


class Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.received: list[Packet] = []
        self._buf = bytearray()
        self._queue: deque[Packet] = deque()
        self.closed = threading.Event()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next(self, timeout: float = 5.0) -> Packet | None:
        """The client's next packet, or None if it sent none in time (or hung up)."""
        deadline = time.monotonic() + timeout
        while True:
            packets, used = codec.split_packets(self._buf)
            del self._buf[:used]
            self._queue += packets
            if self._queue:
                first = self._queue.popleft()
                self.received.append(first)
                return first
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (TimeoutError, OSError):
                return None
            if not chunk:
                self.closed.set()
                return None
            self._buf += chunk

    def expect(self, kind: int, timeout: float = 5.0) -> Packet:
        """The client's next packet of this type, passing over PINGREQs."""
        while True:
            got = self.next(timeout)
            assert got is not None, f"no packet of type {kind} from the client"
            if got[0] == kind:
                return got
            if got[0] != codec.PINGREQ:
                raise AssertionError(f"expected type {kind}, got {got[0]}")

    def hold(self, seconds: float) -> list[Packet]:
        """Everything the client sends for a while (its pings, its acks)."""
        got, deadline = [], time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            packet = self.next(left)
            if packet is None and self.closed.is_set():
                break
            if packet is not None:
                got.append(packet)
        return got


class ScriptedBroker:
    def __init__(self, script: Callable[[Conn, int], None]) -> None:
        """`script(conn, n)`: what to do on the n-th connection (from 1), after reading
        its CONNECT (in conn.received)."""
        self.script = script
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conns: list[Conn] = []
        self.connected_at: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self.listener.close()
        for conn in self.conns:
            conn.sock.close()

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            conn = Conn(sock)
            self.conns.append(conn)
            self.connected_at.append(time.monotonic())
            threading.Thread(target=self._serve, args=(conn, len(self.conns)),
                             daemon=True).start()

    def _serve(self, conn: Conn, n: int) -> None:
        try:
            if conn.next() is not None:   # CONNECT
                self.script(conn, n)
        except OSError:
            pass
