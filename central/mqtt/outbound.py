"""The collector client's own QoS 1 publications (replay commands, its claim, its
state): packet ids, the broker's Receive Maximum (no more in flight than it takes), its
Maximum Packet Size (a larger one is refused here and said, never sent), a resend with
the DUP flag after a reconnect, and the reason code of each PUBACK. Pure: the client
(client.py) calls it under its lock and writes what it returns."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

log = logging.getLogger("central.mqtt5")

TOO_LARGE = 0x95


@dataclass
class Publication:
    """A QoS 1 publication of ours: `done` is set when the broker acknowledged it (or
    refused it: `refused` then holds its reason code)."""
    packet: bytes
    done: threading.Event = field(default_factory=threading.Event)
    sent: bool = False   # once sent, a resend carries the DUP flag
    refused: int = 0

    def wait_for_publish(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)


class Outbound:
    def __init__(self) -> None:
        self.pending: dict[int, Publication] = {}   # by packet id, until acknowledged
        self.inflight: set[int] = set()             # sent on this connection
        self.window = 65535                         # the broker's Receive Maximum
        self.max_packet = 0                         # the broker's; 0: none given
        self._mids = 0

    def next_mid(self) -> int:
        for _ in range(65535):
            self._mids = self._mids % 65535 + 1
            if self._mids not in self.pending:
                return self._mids
        raise RuntimeError("65,535 publications unacknowledged")

    def fits(self, pub: Publication) -> bool:
        """Within the broker's Maximum Packet Size; if not, refused here and said."""
        if not self.max_packet or len(pub.packet) <= self.max_packet:
            return True
        log.error("a publication of %d bytes is over the broker's maximum packet size "
                  "(%d): not sent", len(pub.packet), self.max_packet)
        pub.refused = TOO_LARGE
        pub.done.set()
        return False

    def connected(self, window: int, max_packet: int) -> None:
        """A new connection: nothing in flight on it yet, the broker's limits."""
        self.inflight.clear()
        self.window, self.max_packet = window, max_packet

    def due(self) -> bytes:
        """The packets to send now: those not in flight, up to the window."""
        out = bytearray()
        for mid, pub in list(self.pending.items()):
            if len(self.inflight) >= self.window:
                break
            if mid in self.inflight:
                continue
            if not self.fits(pub):
                del self.pending[mid]
                continue
            dup = 0x08 if pub.sent else 0   # again, after a reconnect
            out += bytes((pub.packet[0] | dup,)) + pub.packet[1:]
            pub.sent = True
            self.inflight.add(mid)
        return bytes(out)

    def acknowledged(self, mid: int, reason: int, client_id: str) -> None:
        pub = self.pending.pop(mid, None)
        self.inflight.discard(mid)
        if pub is None:
            return
        if reason >= 0x80:   # 0x87: not authorized, 0x97: quota exceeded, …
            pub.refused = reason
            log.error("the broker refused a publication of %s: reason code 0x%02x",
                      client_id, reason)
        pub.done.set()
