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

from central.mqtt.codec import (
    CHUNK,
    DISCONNECT,
    PINGRESP,
    PUBACK,
    PUBLISH,
    SUBACK,
    SUBSCRIBE,
    UNSUBACK,
    UNSUBSCRIBE,
    ProtocolError,
    Received,
    packet,
    parse_ack,
    parse_publish,
    split_packets,
    text,
)
from central.mqtt.connect import Agreed, Refused, Will, connect_packet, handshake
from central.mqtt.outbound import Outbound, Publication

__all__ = ["Client", "Publication", "Refused", "Will"]

log = logging.getLogger("central.mqtt5")


STABLE_S = 30.0   # a connection that lasted less than this counts as a failure: backoff


class Client:
    def __init__(self, host: str, port: int, client_id: str, *, clean_start: bool = True,
                 session_expiry_s: int = 0, receive_maximum: int = 65535,
                 keepalive_s: int = 60, will: Will | None = None,
                 tls: ssl.SSLContext | None = None, reconnect_min_s: float = 1.0,
                 reconnect_max_s: float = 30.0, username: str = "",
                 password: bytes = b"") -> None:
        self.host, self.port, self.client_id = host, port, client_id
        self.clean_start, self.session_expiry_s = clean_start, session_expiry_s
        self.receive_maximum, self.keepalive_s, self.will, self.tls = (
            receive_maximum, keepalive_s, will, tls)
        self.username, self._password = username, password   # the password: never logged
        self.reconnect = (reconnect_min_s, reconnect_max_s)
        self.agreed = Agreed()   # what the broker's CONNACK asked of us
        self.protocol_errors = 0             # malformed input, or a callback's error
        # Callbacks, all on the network thread. `readable`: may it hand more messages
        # over now? While not, it stops reading the socket and keeps pinging.
        self.on_connect: Callable[[bool], None] = lambda session_present: None
        self.on_subscribe: Callable[[int, list[int]], None] = lambda mid, reasons: None
        self.on_messages: Callable[[list[Received], int], None] = lambda msgs, link: None
        self.on_disconnect: Callable[[int | None], None] = lambda reason: None
        self.on_refused: Callable[[Refused], None] = lambda refusal: None
        self.on_unsubscribe: Callable[[int, list[int]], None] = lambda mid, reasons: None
        self._end_session = False
        self.readable: Callable[[], bool] = lambda: True
        self.link = 0                 # counts connections: an ack names the one it is for
        self.sock: socket.socket | None = None   # the connection's, while there is one
        self._lock = threading.Lock()
        self._out = bytearray()       # bytes for the current connection, under _lock
        self._ours = Outbound()       # our QoS 1 publications, under _lock
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

    def stop(self, timeout: float = 5.0, end_session: bool = False) -> None:
        """Send what is queued and a DISCONNECT (the will is not published), then close.
        From a callback (on the network thread): the same, once the callback returns.
        `end_session`: the DISCONNECT sets the session's expiry to 0, so the broker
        forgets it and its subscriptions now (a collector leaving its group for good)."""
        with self._lock:
            self._stopping = True
            self._end_session = end_session
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
            mid = self._ours.next_mid() if qos else 0
            body = text(topic) + (struct.pack("!H", mid) if qos else b"") + b"\x00" + data
            pub = Publication(packet(PUBLISH, qos << 1 | int(retain), body))
            if qos:
                self._ours.pending[mid] = pub
                self._send_due()
            else:
                pub.done.set()
                if self._connected.is_set() and self._ours.fits(pub):
                    self._out += pub.packet
        self._wake()
        return pub

    def unsubscribe(self, topic_filter: str) -> int:
        """Its packet id, which the UNSUBACK names (`on_unsubscribe`)."""
        with self._lock:
            mid = self._ours.next_mid()
            if self._connected.is_set():
                self._out += packet(UNSUBSCRIBE, 2, struct.pack("!H", mid) + b"\x00"
                                    + text(topic_filter))
        self._wake()
        return mid

    def subscribe(self, topic_filter: str, qos: int = 1) -> int:
        """Its packet id: the SUBACK that answers it names it (`on_subscribe`)."""
        with self._lock:
            mid = self._ours.next_mid()
            body = struct.pack("!H", mid) + b"\x00" + text(topic_filter) + bytes((qos,))
            if self._connected.is_set():
                self._out += packet(SUBSCRIBE, 2, body)
        self._wake()
        return mid

    def _send_due(self) -> None:
        """Under the lock: our publications the window lets out now, if connected."""
        if self._connected.is_set():
            self._out += self._ours.due()

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

    def wake(self) -> None:
        """From any thread: look again at what `readable` says, and at what to send."""
        self._wake()

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
            except Refused as exc:
                if exc.permanent:   # said once; trying again would hammer the broker
                    log.error("%s: not trying again", exc)
                    self.on_refused(exc)
                    return
                failures = self._failed(failures, exc)
                continue
            except (OSError, ProtocolError) as exc:
                failures = self._failed(failures, exc)
                continue
            began = time.monotonic()
            reason: int | None = None
            self.sock = sock
            try:
                self.on_connect(session_present)
                reason = self._serve(sock, unread)
            except (OSError, ProtocolError) as exc:
                self.protocol_errors += isinstance(exc, ProtocolError)
                if not self._stopping:
                    log.warning("connection to %s:%d lost: %s", self.host, self.port, exc)
            except Exception:   # a callback's error: this connection ends, never the thread
                self.protocol_errors += 1
                log.exception("ending the connection to %s:%d after an error", self.host,
                              self.port)
            finally:
                with self._lock:
                    self._connected.clear()
                    self._out.clear()
                self.sock = None
                sock.close()
            if self._stopping:
                return
            self.on_disconnect(reason)
            # A broker that accepts and drops at once is not hammered: backoff.
            failures = 0 if time.monotonic() - began >= STABLE_S else failures + 1
            self._sleep(self._delay(failures))

    def _failed(self, failures: int, exc: Exception) -> int:
        delay = self._delay(failures + 1)
        log.warning("cannot connect to %s:%d (%s); again in %.1f s", self.host, self.port,
                    exc, delay)
        self._sleep(delay)
        return failures + 1

    def _delay(self, failures: int) -> float:
        low, high = self.reconnect
        if not failures:
            return low
        # Full jitter; the exponent capped (2.0 ** 1024 would overflow a float).
        return random.uniform(low, min(high, low * 2 ** min(failures, 16)))  # noqa: S311

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping and (left := deadline - time.monotonic()) > 0:
            select.select([self._wake_r], [], [], left)
            self._drain_wake()

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):   # BlockingIOError: all read
            while self._wake_r.recv(4096):
                pass

    def _open(self) -> tuple[socket.socket, bool, bytearray]:
        """Connected: the socket, whether the broker kept our session, what it sent
        after the CONNACK."""
        sock, session_present, props, buf = handshake(
            self.host, self.port, self.tls,
            connect_packet(self.client_id, clean_start=self.clean_start,
                           session_expiry_s=self.session_expiry_s,
                           receive_maximum=self.receive_maximum, keepalive_s=self.keepalive_s,
                           will=self.will, login=(self.username, self._password)))
        self.agreed = Agreed.of(props)
        with self._lock:
            self.link += 1
            self._out.clear()
            self._ours.connected(self.agreed.window, self.agreed.max_packet)
            self._connected.set()
            self._send_due()   # ours, not yet acknowledged: (again)
        return sock, session_present, buf

    @property
    def keepalive_in_use(self) -> int:
        """The broker's Server Keep Alive if it gave one (the client MUST use it), else
        ours; 0: no pings at all."""
        given = self.agreed.keepalive_s
        return self.keepalive_s if given is None else given

    def _serve(self, sock: socket.socket, buf: bytearray) -> int | None:
        """Until the connection ends or the client stops: the broker's DISCONNECT reason,
        or None. While `readable()` says no, nothing is read or handed over (TCP holds
        the broker back) but acknowledgements and pings still go out."""
        keepalive = self.keepalive_in_use
        last_sent = last_heard = time.monotonic()
        pinged = False
        while True:
            with self._lock:
                stopping, out = self._stopping, bytes(self._out)
                self._out.clear()
            if stopping:
                sock.setblocking(True)
                sock.settimeout(2)
                # DISCONNECT, normal: no will; with a Session Expiry of 0, the end of it.
                sock.sendall(out + (b"\xe0\x07\x00\x05\x11\x00\x00\x00\x00" if self._end_session
                                    else b"\xe0\x00"))
                return None
            if out:
                self._send(sock, out)
                last_sent = time.monotonic()
            reading = self.readable()
            if buf and reading:
                packets, used = split_packets(buf)
                del buf[:used]
                if packets:
                    last_heard, pinged = time.monotonic(), False
                    reason = self._handle(packets)
                    if reason is not None:
                        return reason
                    continue
            now = time.monotonic()
            if not reading:
                last_heard = now   # unread, the broker's answers wait in the socket
            if keepalive and now - last_sent >= keepalive / 2:
                self._send(sock, b"\xc0\x00")   # PINGREQ
                last_sent, pinged = now, True
            if pinged and now - last_heard > keepalive:
                raise ConnectionError("no answer to a ping within the keep-alive")
            wait = last_sent + keepalive / 2 - now if keepalive else 1.0
            buf += self._read(sock, reading, max(0.0, min(1.0, wait)))

    def _read(self, sock: socket.socket, reading: bool, wait: float) -> bytes:
        """What the broker sent within `wait` (b"" if nothing, or while not reading); a
        wake-up from another thread ends the wait early."""
        readable, _, _ = select.select([sock, self._wake_r] if reading else [self._wake_r],
                                       [], [], wait)
        if self._wake_r in readable:
            self._drain_wake()
        if not reading or (sock not in readable and not (
                self.tls is not None and sock.pending())):  # type: ignore[attr-defined]
            return b""
        try:
            chunk = sock.recv(CHUNK)
        except (BlockingIOError, ssl.SSLWantReadError):
            return b""
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        return chunk

    def _send(self, sock: socket.socket, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = sock.send(view)
                view = view[sent:]
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                select.select([], [sock], [], 1.0)

    def _handle(self, packets: list[tuple[int, int, bytes]]) -> int | None:
        """The packets of one read, in order; the PUBLISHes handed over at once, before
        a DISCONNECT among them ends the connection (they were sent before it)."""
        received: list[Received] = []
        reason = None
        for kind, flags, body in packets:
            if kind == PUBLISH:
                received.append(parse_publish(flags, body))
            elif kind == PUBACK:
                self._acknowledged(*parse_ack(body, "PUBACK"))
            elif kind in (SUBACK, UNSUBACK):
                answer = self.on_subscribe if kind == SUBACK else self.on_unsubscribe
                answer(*parse_ack(body, "SUBACK" if kind == SUBACK else "UNSUBACK"))
            elif kind == DISCONNECT:
                reason = body[0] if body else 0
                log.warning("the broker disconnected %s: reason code 0x%02x", self.client_id,
                            reason)
                break
            elif kind != PINGRESP:
                raise ProtocolError(f"unexpected packet type {kind}")
        if received:
            self.on_messages(received, self.link)
        return reason

    def _acknowledged(self, mid: int, reasons: list[int]) -> None:
        with self._lock:
            self._ours.acknowledged(mid, reasons[0], self.client_id)
            self._send_due()
