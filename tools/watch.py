"""A subscriber's view: collect what arrives on natest/v1/# and check the contract's
delivery promises (every id once or duplicated identically, seq contiguous from 1,
first arrivals in seq order). Used by the demo and the tests.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

import contract


@dataclass
class Received:
    topic: str
    body: dict[str, Any]
    retained: bool
    at: float = field(default_factory=time.monotonic)   # when it arrived here
    payload: bytes = b""   # as published, byte for byte


def kind_of(topic: str) -> str:
    parsed = contract.parse_topic(topic)
    return "" if parsed is None else parsed.kind


@dataclass
class Watcher:
    url: str
    topic: str = contract.ALL_TOPICS
    client_id: str = ""  # with one, the broker keeps the session across disconnects
    tls: tuple[str, str, str] | None = None   # (ca, cert, key) files for mqtts
    login: tuple[str, str] | None = None      # (username, password)
    messages: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._seqs: set[int] = set()
        self._contiguous = 0  # every seq from 1 to here has arrived
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                  clean_session=not self.client_id)
        self.client.reconnect_delay_set(1, 2)
        if self.tls:
            ca, cert, key = self.tls
            self.client.tls_set(ca_certs=ca, certfile=cert, keyfile=key)
        if self.login:
            self.client.username_pw_set(*self.login)
        self.client.on_message = self._on_message
        self._subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe(self.topic, qos=1)

    def start(self) -> Watcher:
        parts = urlsplit(self.url)
        self.client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError(f"could not subscribe to {self.topic} at {self.url}")
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            body = json.loads(msg.payload)
        except ValueError:
            body = {"unparsable": msg.payload[:100].decode(errors="replace")}
        with self._lock:
            self.messages.append(Received(msg.topic, body, bool(msg.retain),
                                          payload=bytes(msg.payload)))
            if kind_of(msg.topic) == "events" and isinstance(body.get("seq"), int):
                self._seqs.add(body["seq"])
                while self._contiguous + 1 in self._seqs:  # amortised O(1) per message
                    self._contiguous += 1
            self._lock.notify_all()

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [m.body for m in self.messages if kind_of(m.topic) == "events"]

    def statuses(self) -> list[dict[str, Any]]:
        with self._lock:
            return [m.body for m in self.messages if kind_of(m.topic) == "status"]

    def wait_for(self, predicate: Any, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.1))
        return True

    def has_seqs_up_to(self, last: int) -> bool:
        with self._lock:
            return self._contiguous >= last


def delivery_problems(events: list[dict[str, Any]]) -> list[str]:
    """What breaks the contract's delivery promises in an arrival-ordered event list."""
    problems: list[str] = []
    by_id: dict[str, dict[str, Any]] = {}
    firsts: list[int] = []
    seen_seq: dict[int, str] = {}
    for event in events:
        earlier = by_id.get(event["id"])
        if earlier is not None:
            if earlier != event:
                problems.append(f"id {event['id']} arrived twice with different payloads")
            continue
        by_id[event["id"]] = event
        if event["seq"] in seen_seq:
            problems.append(f"seq {event['seq']} used by two ids")
        seen_seq[event["seq"]] = event["id"]
        firsts.append(event["seq"])
    if firsts and sorted(firsts) != list(range(1, max(firsts) + 1)):
        missing = sorted(set(range(1, max(firsts) + 1)) - set(firsts))
        problems.append(f"seq not contiguous from 1: missing {missing[:10]}")
    if firsts != sorted(firsts):
        problems.append("first arrivals not in seq order")
    return problems
