"""paho's client, reading its socket in large chunks.

paho reads a packet with one recv() for its first byte, one per byte of its length and
one for the rest, and goes back to select() after each packet: four or five system
calls per event, and as many passes through its loop. At a city's rate that was most of
a collector's time. Here reads are served from a buffer filled 256 KiB at a time, and
loop_read goes on while the buffer holds bytes (select() cannot see them).

It overrides two of paho's private methods (`_sock_recv`, `_sock_close`) and the public
`loop_read`; pyproject pins paho-mqtt below 3, and tests/test_collector*.py run it.
"""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

CHUNK = 256 * 1024


class BufferedClient(mqtt.Client):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._unread = bytearray()
        super().__init__(*args, **kwargs)

    def _sock_recv(self, bufsize: int) -> bytes:
        if not self._unread:
            chunk = super()._sock_recv(CHUNK)   # BlockingIOError: nothing yet, as before
            if not chunk:
                return b""                      # the connection closed
            self._unread += chunk
        out = bytes(self._unread[:bufsize])
        del self._unread[:bufsize]
        return out

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._unread and self._sock:
            rc = super().loop_read(max_packets)
        return rc

    def _sock_close(self) -> None:
        self._unread.clear()   # bytes of a connection that is gone
        super()._sock_close()
