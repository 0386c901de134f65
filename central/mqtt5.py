"""A small MQTT 5 client: what the collector needs, at a city's rate.

paho costs a collector about 60 µs of CPU per message before any work of ours (BENCHMARKS.md,
"Central at city scale"): it reads each packet with several calls, builds a message
object and a properties object, takes two locks for the callback, and wakes its network
thread through a socket pair for every acknowledgement. Here one network thread reads
256 KiB at a time, parses every whole packet in the buffer and hands the PUBLISH packets
over as one list; acknowledgements come back a batch at a time and leave in one write.

What it speaks (MQTT 5.0, OASIS standard): CONNECT with clean start, session expiry,
Receive Maximum and a will; SUBSCRIBE; PUBLISH in both directions at QoS 0 and 1 (its
own QoS 1 publications are sent again after a reconnect until acknowledged); PUBACK;
PINGREQ for keep-alive; DISCONNECT both ways. Not: QoS 2, topic aliases (it announces
none, so the broker sends none), AUTH, username and password (the collector has none).

Threads: the network thread alone touches the socket (a TLS socket cannot be read and
written from two threads at once); other threads queue bytes and wake it. Callbacks run
on the network thread; `on_messages` may block, which stops reading: TCP then holds the
broker back, and nothing is lost.
"""

from __future__ import annotations

import contextlib
import logging
import random
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from central.mqtt5_codec import (
    CHUNK,
    CONNACK,
    CONNECT,
    DISCONNECT,
    PINGRESP,
    PUBACK,
    PUBLISH,
    RECEIVE_MAXIMUM,
    SESSION_EXPIRY,
    SUBACK,
    SUBSCRIBE,
    ProtocolError,
    Received,
    binary,
    packet,
    parse_publish,
    properties,
    read_properties,
    read_varint,
    split_packets,
    text,
)

log = logging.getLogger("central.mqtt5")


class Refused(ConnectionError):
    def __init__(self, reason: int) -> None:
        super().__init__(f"the broker refused the connection: reason code 0x{reason:02x}")
        self.reason = reason


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass
class Publication:
    """A QoS 1 publication of ours: `done` is set when the broker acknowledged it."""
    packet: bytes
    done: threading.Event = field(default_factory=threading.Event)
    sent: bool = False   # once sent, a resend carries the DUP flag

    def wait_for_publish(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)


class Client:
    def __init__(self, host: str, port: int, client_id: str, *, clean_start: bool = True,
                 session_expiry_s: int = 0, receive_maximum: int = 65535,
                 keepalive_s: int = 60, will: Will | None = None,
                 tls: ssl.SSLContext | None = None, reconnect_min_s: float = 1.0,
                 reconnect_max_s: float = 30.0) -> None:
        self.host, self.port, self.client_id = host, port, client_id
        self.clean_start, self.session_expiry_s = clean_start, session_expiry_s
        self.receive_maximum, self.keepalive_s, self.will, self.tls = (
            receive_maximum, keepalive_s, will, tls)
        self.reconnect = (reconnect_min_s, reconnect_max_s)
        # Callbacks, all on the network thread.
        self.on_connect: Callable[[bool], None] = lambda session_present: None
        self.on_subscribe: Callable[[list[int]], None] = lambda reasons: None
        self.on_messages: Callable[[list[Received], int], None] = lambda msgs, link: None
        self.on_disconnect: Callable[[int | None], None] = lambda reason: None
        self.link = 0                 # counts connections: an ack names the one it is for
        self.sock: socket.socket | None = None   # the connection's, while there is one
        self._lock = threading.Lock()
        self._out = bytearray()       # bytes for the current connection, under _lock
        self._mids = 0
        self._pending: dict[int, Publication] = {}   # our QoS 1 publications, by packet id
        self._connected = threading.Event()
        self._stopping = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread = threading.Thread(target=self._run, name="mqtt5", daemon=True)

    # --- from any thread --------------------------------------------------------

    def start(self) -> Client:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is queued and a DISCONNECT (the will is not published), then close.
        From a callback (on the network thread): the same, once the callback returns."""
        with self._lock:
            self._stopping = True
        self._wake()
        if self._thread.ident is None:        # never started
            self._wake_r.close()
            self._wake_w.close()
        elif threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def is_connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self._connected.wait(timeout)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1,
                retain: bool = False) -> Publication:
        data = payload.encode() if isinstance(payload, str) else payload
        with self._lock:
            mid = self._next_mid() if qos else 0
            body = text(topic) + (struct.pack("!H", mid) if qos else b"") + b"\x00" + data
            pub = Publication(packet(PUBLISH, qos << 1 | int(retain), body))
            if qos:
                self._pending[mid] = pub
            else:
                pub.done.set()
            if self._connected.is_set():
                self._out += pub.packet
                pub.sent = True
        self._wake()
        return pub

    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        with self._lock:
            body = (struct.pack("!H", self._next_mid()) + b"\x00" + text(topic_filter)
                    + bytes((qos,)))
            if self._connected.is_set():
                self._out += packet(SUBSCRIBE, 2, body)
        self._wake()

    def ack(self, link: int, mids: Iterable[int]) -> int:
        """Acknowledge QoS 1 messages received on connection `link`, in one write. Those
        of an earlier connection are not sent: the broker sends them again (same session)
        or has dropped them (new session), and their packet ids may now name others."""
        acks = b"".join(b"\x40\x02" + mid.to_bytes(2, "big") for mid in mids)
        with self._lock:
            if link != self.link or not self._connected.is_set():
                return 0
            self._out += acks
        self._wake()
        return len(acks) // 4

    # --- the network thread -----------------------------------------------------

    def _next_mid(self) -> int:
        for _ in range(65535):
            self._mids = self._mids % 65535 + 1
            if self._mids not in self._pending:
                return self._mids
        raise RuntimeError("65,535 publications unacknowledged")

    def _wake(self) -> None:
        with contextlib.suppress(OSError):   # already awake (its buffer full), or stopped
            self._wake_w.send(b"\x00")

    def _run(self) -> None:
        try:
            self._connections()
        finally:
            self._wake_r.close()
            self._wake_w.close()

    def _connections(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                sock, session_present, unread = self._open()
            except (OSError, ProtocolError) as exc:
                failures += 1
                low, high = self.reconnect
                # Full jitter; the exponent capped (2.0 ** 1024 would overflow a float).
                delay = random.uniform(low, min(high, low * 2 ** min(failures, 16)))  # noqa: S311
                log.warning("cannot connect to %s:%d (%s); again in %.1f s", self.host,
                            self.port, exc, delay)
                self._sleep(delay)
                continue
            failures = 0
            reason: int | None = None
            self.sock = sock
            try:
                self.on_connect(session_present)
                reason = self._serve(sock, unread)
            except (OSError, ProtocolError) as exc:
                if not self._stopping:
                    log.warning("connection to %s:%d lost: %s", self.host, self.port, exc)
            finally:
                with self._lock:
                    self._connected.clear()
                    self._out.clear()
                self.sock = None
                sock.close()
            if not self._stopping:
                self.on_disconnect(reason)
                self._sleep(self.reconnect[0])

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping and (left := deadline - time.monotonic()) > 0:
            select.select([self._wake_r], [], [], left)
            self._drain_wake()

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):   # BlockingIOError: all read
            while self._wake_r.recv(4096):
                pass

    def _connect_packet(self) -> bytes:
        flags = 0x02 if self.clean_start else 0
        payload = text(self.client_id)
        if self.will:
            flags |= 0x04 | self.will.qos << 3 | (0x20 if self.will.retain else 0)
            payload += b"\x00" + text(self.will.topic) + binary(self.will.payload)
        props = [(SESSION_EXPIRY, self.session_expiry_s),
                 (RECEIVE_MAXIMUM, self.receive_maximum)]
        return packet(CONNECT, 0, text("MQTT") + bytes((5, flags))
                      + struct.pack("!H", self.keepalive_s)
                      + properties(p for p in props if p[1]) + payload)

    def _open(self) -> tuple[socket.socket, bool, bytearray]:
        """Connected: the socket, whether the broker kept our session, what it sent
        after the CONNACK."""
        sock = socket.create_connection((self.host, self.port), timeout=10)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.host)
            sock.sendall(self._connect_packet())
            buf = bytearray()
            while True:
                chunk = sock.recv(CHUNK)
                if not chunk:
                    raise ConnectionError("the broker closed the connection before CONNACK")
                buf += chunk
                found = read_varint(buf, 1) if len(buf) >= 2 else None
                if found is not None and len(buf) >= sum(found):
                    break
            assert found is not None
            length, start = found
            kind, body = buf[0] >> 4, bytes(buf[start:start + length])
            del buf[:start + length]
            if kind != CONNACK or len(body) < 2:
                raise ProtocolError(f"expected CONNACK, got packet type {kind}")
            if body[1] >= 0x80:
                raise Refused(body[1])
            session_present = bool(body[0] & 1)
        except BaseException:
            sock.close()
            raise
        sock.setblocking(False)
        with self._lock:
            self.link += 1
            self._out.clear()
            for pub in self._pending.values():   # ours, not yet acknowledged: (again)
                dup = 0x08 if pub.sent else 0
                self._out += bytes((pub.packet[0] | dup,)) + pub.packet[1:]
                pub.sent = True
            self._connected.set()
        return sock, session_present, buf

    def _serve(self, sock: socket.socket, buf: bytearray) -> int | None:
        """Until the connection ends or the client stops: the broker's DISCONNECT reason,
        or None."""
        last_sent = last_heard = time.monotonic()
        pinged = False
        while True:
            with self._lock:
                stopping, out = self._stopping, bytes(self._out)
                self._out.clear()
            if stopping:
                sock.setblocking(True)
                sock.settimeout(2)
                sock.sendall(out + b"\xe0\x00")   # DISCONNECT, normal: no will
                return None
            if out:
                self._send(sock, out)
                last_sent = time.monotonic()
            if buf:
                packets, used = split_packets(buf)
                del buf[:used]
                if packets:
                    last_heard = time.monotonic()
                    pinged = False
                    reason = self._handle(sock, packets)
                    if reason is not None:
                        return reason
                    continue
            now = time.monotonic()
            if now - last_sent >= self.keepalive_s / 2:
                self._send(sock, b"\xc0\x00")   # PINGREQ
                last_sent, pinged = now, True
            if pinged and now - last_heard > self.keepalive_s:
                raise ConnectionError("no answer to a ping within the keep-alive")
            ping_in = last_sent + self.keepalive_s / 2 - now
            readable, _, _ = select.select([sock, self._wake_r], [], [],
                                           max(0.0, min(1.0, ping_in)))
            if self._wake_r in readable:
                self._drain_wake()
            if sock in readable or (self.tls is not None and sock.pending()):  # type: ignore[attr-defined]
                try:
                    chunk = sock.recv(CHUNK)
                except (BlockingIOError, ssl.SSLWantReadError):
                    continue
                if not chunk:
                    raise ConnectionError("the broker closed the connection")
                buf += chunk

    def _send(self, sock: socket.socket, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = sock.send(view)
                view = view[sent:]
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                select.select([], [sock], [], 1.0)

    def _handle(self, sock: socket.socket, packets: list[tuple[int, int, bytes]]) -> int | None:
        received: list[Received] = []
        for kind, flags, body in packets:
            if kind == PUBLISH:
                received.append(parse_publish(flags, body))
            elif kind == PUBACK:
                with self._lock:
                    pub = self._pending.pop(int.from_bytes(body[:2], "big"), None)
                if pub is not None:
                    pub.done.set()
            elif kind == SUBACK:
                _, i = read_properties(body, 2)
                self.on_subscribe(list(body[i:]))
            elif kind == DISCONNECT:
                reason = body[0] if body else 0
                log.warning("the broker disconnected %s: reason code 0x%02x", self.client_id,
                            reason)
                return reason
            elif kind != PINGRESP:
                raise ProtocolError(f"unexpected packet type {kind}")
        if received:
            self.on_messages(received, self.link)
        return None
