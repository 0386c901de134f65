"""Opening an MQTT 5 connection for the collector's client (client.py): the
CONNECT it sends (clean start or a kept session, a will, a user name and password, the
largest packet it takes) and the CONNACK it must get back, whose reason code is success
only at 0x00 (MQTT 5.0, 3.2.2.2). A refusal says why; the permanent ones (a wrong
password, a client id or protocol version the broker refuses) are not tried again."""

from __future__ import annotations

import socket
import ssl
import struct
from dataclasses import dataclass

from central.errors import CentralError
from central.mqtt.codec import (
    CHUNK,
    CONNACK,
    CONNECT,
    MAX_PACKET,
    MAXIMUM_PACKET_SIZE,
    RECEIVE_MAXIMUM,
    SERVER_KEEP_ALIVE,
    SESSION_EXPIRY,
    SHARED_SUBSCRIPTION_AVAILABLE,
    ProtocolError,
    binary,
    packet,
    parse_connack,
    properties,
    read_varint,
    text,
)


class Refused(CentralError, ConnectionError):
    def __init__(self, reason: int) -> None:
        said = REFUSALS.get(reason, "")
        super().__init__(f"the broker refused the connection: reason code 0x{reason:02x}"
                         + (f" ({said})" if said else ""))
        self.reason = reason

    @property
    def permanent(self) -> bool:
        """Trying again cannot help: a wrong password, an id or a version it refuses."""
        return self.reason in PERMANENT


# CONNACK reason codes (MQTT 5.0, 3.2.2.2) a technician may meet, as the log names them.
REFUSALS = {0x80: "unspecified error", 0x81: "malformed packet", 0x82: "protocol error",
            0x84: "unsupported protocol version", 0x85: "client identifier not valid",
            0x86: "bad user name or password", 0x87: "not authorized",
            0x88: "server unavailable", 0x89: "server busy", 0x8A: "banned",
            0x8C: "bad authentication method", 0x95: "packet too large",
            0x97: "quota exceeded", 0x9F: "connection rate exceeded"}
PERMANENT = {0x84, 0x85, 0x86, 0x87, 0x8A, 0x8C}


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True




def connect_packet(client_id: str, *, clean_start: bool, session_expiry_s: int,
                   receive_maximum: int, keepalive_s: int, will: Will | None,
                   login: tuple[str, bytes] = ("", b"")) -> bytes:
    flags = 0x02 if clean_start else 0
    payload = text(client_id)
    if will:
        flags |= 0x04 | will.qos << 3 | (0x20 if will.retain else 0)
        payload += b"\x00" + text(will.topic) + binary(will.payload)
    username, password = login
    if username:
        flags |= 0x80
        payload += text(username)
    if password:
        flags |= 0x40
        payload += binary(password)
    props = [(SESSION_EXPIRY, session_expiry_s), (RECEIVE_MAXIMUM, receive_maximum),
             (MAXIMUM_PACKET_SIZE, MAX_PACKET)]
    return packet(CONNECT, 0, text("MQTT") + bytes((5, flags)) + struct.pack("!H", keepalive_s)
                  + properties(p for p in props if p[1]) + payload)


@dataclass(frozen=True)
class Agreed:
    """What a CONNACK's properties ask of the client (3.2.2.3): the keep-alive it must
    use, how many of its QoS 1 publications the broker takes at once, the largest packet
    the broker takes, whether it offers shared subscriptions."""

    keepalive_s: int | None = None
    window: int = 65535
    max_packet: int = 0
    shared: bool = True

    @classmethod
    def of(cls, props: dict[int, object]) -> Agreed:
        keepalive = props.get(SERVER_KEEP_ALIVE)
        window = props.get(RECEIVE_MAXIMUM, 65535)
        largest = props.get(MAXIMUM_PACKET_SIZE, 0)
        return cls(keepalive if isinstance(keepalive, int) else None,
                   window if isinstance(window, int) and window > 0 else 65535,
                   largest if isinstance(largest, int) else 0,
                   props.get(SHARED_SUBSCRIPTION_AVAILABLE, 1) != 0)


def handshake(host: str, port: int, tls: ssl.SSLContext | None, connect: bytes) -> tuple[
        socket.socket, bool, dict[int, object], bytearray]:
    """A connection the broker accepted: the socket (non-blocking), whether it kept our
    session, the CONNACK's properties, and what it sent after the CONNACK."""
    sock = socket.create_connection((host, port), timeout=10)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname=host)
        sock.sendall(connect)
        buf = bytearray()
        while True:
            chunk = sock.recv(CHUNK)
            if not chunk:
                raise ConnectionError("the broker closed the connection before CONNACK")
            buf += chunk
            found = read_varint(buf, 1) if len(buf) >= 2 else None
            if found is not None and len(buf) >= sum(found):
                break
            if len(buf) > MAX_PACKET:
                raise ProtocolError("no CONNACK in the first megabyte")
        length, start = found
        kind, body = buf[0] >> 4, bytes(buf[start:start + length])
        del buf[:start + length]
        if kind != CONNACK:
            raise ProtocolError(f"expected CONNACK, got packet type {kind}")
        session_present, reason, props = parse_connack(body)
        if reason != 0x00:   # the only success (3.2.2.2)
            raise Refused(reason)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock, session_present, props, buf
