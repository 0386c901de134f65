"""MQTT 5.0 packets for the collector's client (client.py): building them and
reading them back. Pure: bytes in, values out, no socket, so each rule of the
specification it applies can be tested, and fuzzed, alone. Anything malformed is a
ProtocolError naming what."""

from __future__ import annotations

import struct
from collections.abc import Iterable

from central.errors import CentralError

CHUNK = 256 * 1024
CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14

# Property identifiers (MQTT 5.0, 2.2.2.2) and how each is encoded, to skip the ones a
# broker may add that this client has no use for.
SESSION_EXPIRY, RECEIVE_MAXIMUM, REASON_STRING = 0x11, 0x21, 0x1F
SERVER_KEEP_ALIVE, MAXIMUM_PACKET_SIZE, SHARED_SUBSCRIPTION_AVAILABLE = 0x13, 0x27, 0x2A
# The largest packet this client takes (announced in CONNECT): an event is a few hundred
# bytes and the contract caps a message far below this; more is a broken or hostile peer.
MAX_PACKET = 1024 * 1024
_BYTE, _U16, _U32, _VARINT, _STR, _BIN, _PAIR = range(7)
PROPERTY_KIND = {
    0x01: _BYTE, 0x02: _U32, 0x03: _STR, 0x08: _STR, 0x09: _BIN, 0x0B: _VARINT,
    0x11: _U32, 0x12: _STR, 0x13: _U16, 0x15: _STR, 0x16: _BIN, 0x17: _BYTE, 0x18: _U32,
    0x19: _BYTE, 0x1A: _STR, 0x1C: _STR, 0x1F: _STR, 0x21: _U16, 0x22: _U16, 0x23: _U16,
    0x24: _BYTE, 0x25: _BYTE, 0x26: _PAIR, 0x27: _U32, 0x28: _BYTE, 0x29: _BYTE, 0x2A: _BYTE,
}

NUMBER_SIZE = {_BYTE: 1, _U16: 2, _U32: 4}
FIXED_SIZE = {**NUMBER_SIZE, _STR: 2, _BIN: 2, _PAIR: 4}   # what a value takes at least

# Before a topic that was not UTF-8: U+0000 is never in an MQTT string (1.5.4), so no
# topic that was can start with it.
NOT_UTF8 = "\x00not-utf8:"

# One received PUBLISH: topic, payload, QoS, packet id (0 at QoS 0).
Received = tuple[str, bytes, int, int]


class ProtocolError(CentralError, ValueError):
    """The broker sent something MQTT 5 does not allow, or this client does not speak."""


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_varint(buf: bytes | bytearray, i: int) -> tuple[int, int] | None:
    """(value, index after it), or None while the buffer ends inside it."""
    value, shift = 0, 0
    while i < len(buf):
        b = buf[i]
        value |= (b & 0x7F) << shift
        i += 1
        if b < 0x80:
            return value, i
        shift += 7
        if shift > 21:
            raise ProtocolError("a variable byte integer longer than four bytes")
    return None


def text(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("!H", len(raw)) + raw


def binary(b: bytes) -> bytes:
    return struct.pack("!H", len(b)) + b


def packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes((kind << 4 | flags,)) + varint(len(body)) + body


def properties(pairs: Iterable[tuple[int, int]]) -> bytes:
    """Numeric properties only: all this client sends."""
    out = bytearray()
    for ident, value in pairs:
        size = {_BYTE: "!B", _U16: "!H", _U32: "!I"}[PROPERTY_KIND[ident]]
        out += bytes((ident,)) + struct.pack(size, value)
    return varint(len(out)) + bytes(out)


def read_properties(buf: bytes, i: int) -> tuple[dict[int, object], int]:
    """The properties at `i` of a whole packet's body: ({id: value}, index after them)."""
    found = read_varint(buf, i)
    if found is None:
        raise ProtocolError("a packet ends inside its properties' length")
    length, i = found
    end, props = i + length, dict[int, object]()
    if end > len(buf):
        raise ProtocolError("properties longer than their packet")
    while i < end:
        ident = buf[i]
        kind = PROPERTY_KIND.get(ident)
        if kind is None:
            raise ProtocolError(f"unknown property 0x{ident:02x}")
        if i + 1 + FIXED_SIZE.get(kind, 0) > end:
            raise ProtocolError(f"property 0x{ident:02x} runs past its properties' length")
        props[ident], i = _property_value(buf, i + 1, kind)
        if i > end:
            raise ProtocolError(f"property 0x{ident:02x} runs past its properties' length")
    return props, end


def _property_value(buf: bytes, i: int, kind: int) -> tuple[object, int]:
    """One property's value at `i`, and the index after it."""
    if kind in NUMBER_SIZE:
        size = NUMBER_SIZE[kind]
        return int.from_bytes(buf[i:i + size], "big"), i + size
    if kind == _VARINT:
        got = read_varint(buf, i)
        if got is None:
            raise ProtocolError("a packet ends inside a property")
        return got
    n = int.from_bytes(buf[i:i + 2], "big")
    value, i = bytes(buf[i + 2:i + 2 + n]), i + 2 + n
    if kind == _PAIR:
        m = int.from_bytes(buf[i:i + 2], "big")
        return (value, bytes(buf[i + 2:i + 2 + m])), i + 2 + m
    return value, i


def split_packets(buf: bytearray, limit: int = MAX_PACKET) -> tuple[
        list[tuple[int, int, bytes]], int]:
    """Every whole packet at the start of `buf` as (type, flags, body), and how many bytes
    they took; a packet cut short by the end of the buffer waits for the next read. A
    packet longer than `limit` is a ProtocolError, before its bytes are waited for."""
    packets, pos, n = [], 0, len(buf)
    while pos + 2 <= n:
        found = read_varint(buf, pos + 1)
        if found is None:
            break
        length, start = found
        if start - pos + length > limit:
            raise ProtocolError(f"a packet of {start - pos + length:,} bytes: more than "
                                f"the {limit:,} this client takes")
        end = start + length
        if end > n:
            break
        first = buf[pos]
        packets.append((first >> 4, first & 0x0F, bytes(buf[start:end])))
        pos = end
    return packets, pos


def parse_publish(flags: int, body: bytes) -> Received:
    """A PUBLISH's topic, payload, QoS and packet id. A topic that is not UTF-8 comes back
    marked (NOT_UTF8, then its bytes escaped: `\\xff`), so the collector quarantines the
    message and acknowledges it, and the broker does not send it again."""
    qos = (flags >> 1) & 3
    if qos > 1:
        raise ProtocolError(f"a PUBLISH at QoS {qos}: this client subscribes at QoS 1 at most")
    if len(body) < 2:
        raise ProtocolError("a PUBLISH too short for its topic's length")
    n = (body[0] << 8) | body[1]
    i = 2 + n + 2 * qos
    if len(body) < i + 1:
        raise ProtocolError("a PUBLISH ends inside its topic, packet id or properties")
    try:
        topic = body[2:2 + n].decode()
    except UnicodeDecodeError:
        topic = NOT_UTF8 + body[2:2 + n].decode("utf-8", "backslashreplace")
    mid = (body[2 + n] << 8) | body[3 + n] if qos else 0
    if qos and not mid:
        raise ProtocolError("a QoS 1 PUBLISH with packet id 0")
    # Properties: the payload follows them. A broker adds none to a plain publication;
    # skipping them needs only their length.
    found = read_varint(body, i)
    if found is None:
        raise ProtocolError("a PUBLISH ends inside its properties' length")
    i = found[0] + found[1]
    if i > len(body):
        raise ProtocolError("a PUBLISH's properties run past its end")
    if not topic:
        raise ProtocolError("a PUBLISH with a topic alias: this client allows none")
    return topic, body[i:], qos, mid


def parse_connack(body: bytes) -> tuple[bool, int, dict[int, object]]:
    """(session present, reason code, properties) of a CONNACK."""
    if len(body) < 3:
        raise ProtocolError(f"a CONNACK of {len(body)} bytes")
    props, end = read_properties(body, 2)
    if end != len(body):
        raise ProtocolError("bytes after a CONNACK's properties")
    return bool(body[0] & 1), body[1], props


def parse_ack(body: bytes, kind: str) -> tuple[int, list[int]]:
    """(packet id, reason codes) of a SUBACK or UNSUBACK (one per filter) or a PUBACK
    (one, 0 when the broker leaves it out)."""
    if len(body) < 2:
        raise ProtocolError(f"a {kind} too short for its packet id")
    mid = int.from_bytes(body[:2], "big")
    if kind == "PUBACK":
        return mid, [body[2] if len(body) > 2 else 0]
    _, i = read_properties(body, 2)
    if i >= len(body):
        raise ProtocolError(f"a {kind} without a reason code")
    return mid, list(body[i:])
