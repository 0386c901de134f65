"""A collector's MQTT session: who it is to the broker and what ends it.

Its client id and persistent session, the retained claim of that id, its group's state
topic and last will, the client built for it (central/mqtt/client.py); then what the
broker answers: the connection (claim, subscriptions, online), each SUBACK, a refusal
that trying again cannot mend, and a newer collector taking the id over. The rules it
checks are session_rules.py's. The collector (collector.py) is a session that stores
what it receives; what it does with a message is not this module's."""

from __future__ import annotations

import logging
import ssl
import threading
import time
import uuid
from functools import partial
from urllib.parse import urlsplit

import contract
from central.ingest.session_rules import (
    SESSION_TAKEN_OVER,
    state_message,
    suback_refusal,
    tls_context,
)
from central.mqtt.client import Client, Will

log = logging.getLogger("central.collector")


class Session:
    """Who a collector is to the broker, its client, and what ends it."""

    def __init__(self, url: str, group: str, *, client_id: str, session_expiry_s: int,
                 announce: bool, tls: ssl.SSLContext | None, login: tuple[str, bytes],
                 receive_maximum: int) -> None:
        """See `Collector`: its arguments, and the Receive Maximum its batches allow."""
        self.url, self.group = url, group
        self.subscribed = threading.Event()
        self._identity(client_id, group, session_expiry_s, announce)
        self._filters: dict[int, str] = {}   # this connection's subscriptions, by packet id
        self._events_filter = 0
        self.refused = ""   # why the collector ended for good, if it did
        self.client = self._client(tls, login, receive_maximum)

    def _identity(self, client_id: str, group: str, session_expiry_s: int,
                  announce: bool) -> None:
        """Its client id, session, claim and state topic."""
        # A client id of its own: members of a group sharing one id would take each
        # other's connection over and over. What one holds unacknowledged when it dies is
        # redelivered to it by the broker when it returns within the session's expiry;
        # else the station still has it, and gap detection asks for it again.
        self.persistent = bool(client_id)
        self.client_id = client_id or f"natest-collector-{group or 'solo'}-{uuid.uuid4().hex[:8]}"
        self.session_expiry_s = session_expiry_s if self.persistent else 0
        self.connections = 0
        self.resumed = 0          # connections that found their session still on the broker
        self.session_present = False
        self.taken_over = threading.Event()
        # Who holds this client id now: a retained claim ("start time, nonce"), published
        # at this process's first connection only. Evicted by a newer collector with the
        # same id, this one finds the newer claim when it reconnects, and stops instead of
        # evicting it back. An older claim (redelivered from the session) is ignored.
        self.claim_topic = contract.claim_topic(self.client_id)
        self.claim = f"{time.time_ns()} {uuid.uuid4().hex}"
        self.state_topic = (contract.central_state_topic(group, self.client_id)
                            if announce and group else "")
        self._state = partial(state_message, group, self.client_id)
        self.events_topic = (f"$share/{group}/{contract.ALL_TOPICS}" if group
                             else contract.ALL_TOPICS)

    def _client(self, tls: ssl.SSLContext | None, login: tuple[str, bytes],
                receive_maximum: int) -> Client:
        parts = urlsplit(self.url)
        client = Client(
            parts.hostname or "localhost", parts.port or 1883, self.client_id,
            clean_start=not self.persistent, session_expiry_s=self.session_expiry_s,
            receive_maximum=receive_maximum,
            will=(Will(self.state_topic, self._state("offline").encode())
                  if self.state_topic else None),
            tls=(tls or tls_context()) if parts.scheme == "mqtts" else None,
            username=login[0], password=login[1])
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_refused = lambda refusal: self.refuse(str(refusal))
        return client

    def _on_connect(self, session_present: bool) -> None:
        client = self.client
        self.connections += 1
        self.session_present = session_present
        self.resumed += self.session_present
        if self.group and not client.agreed.shared:
            self.refuse("the broker does not offer shared subscriptions ($share), which "
                        f"--group {self.group} needs")
            return
        self._filters.clear()
        if self.persistent:
            if self.connections == 1:  # before subscribing: the retained claim is then ours
                client.publish(self.claim_topic, self.claim, qos=1, retain=True)
            self._filters[client.subscribe(self.claim_topic, qos=1)] = self.claim_topic
        self._events_filter = client.subscribe(self.events_topic, qos=1)
        self._filters[self._events_filter] = self.events_topic
        if self.state_topic:
            client.publish(self.state_topic, self._state("online"), qos=1, retain=True)
        # Replies to our replay commands, whichever member gets them: each knows its own.
        if self.group:
            reply = contract.every_station("reply", "replay")
            self._filters[client.subscribe(reply, qos=1)] = reply

    def _on_subscribe(self, mid: int, reasons: list[int]) -> None:
        """A SUBACK, matched to its filter by packet id (one of an earlier connection
        matches none)."""
        topic = self._filters.get(mid)
        if topic is None:
            return
        refusal = suback_refusal(topic, reasons[0], events=mid == self._events_filter)
        if refusal:
            self.refuse(refusal)
        elif mid == self._events_filter:
            log.info("subscribed as %s (%s session)", self.client_id,
                     "resumed" if self.session_present else "new persistent"
                     if self.persistent else "clean")
            self.subscribed.set()

    def refuse(self, why: str) -> None:
        """Something trying again cannot mend (a password, an ACL, a broker without
        shared subscriptions): said once, and the collector ends (`run` raises)."""
        if not self.refused:
            log.error("%s: stopping", why)
            self.refused = why
        self.client.stop()

    def _on_disconnect(self, reason: int | None) -> None:
        if reason == SESSION_TAKEN_OVER:
            self._taken_over()

    def _taken_over(self) -> None:
        if not self.taken_over.is_set():
            log.error("another collector connected with client id %s: stopping",
                      self.client_id)
        self.taken_over.set()
        self.client.stop()  # no reconnect: two collectors would evict each other
