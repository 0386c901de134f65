"""`natest-central collect`: the reference consumer of the contract.

It validates every message against the contract's schemas (what fails is quarantined,
counted, never fatal), stores events once by id, and acknowledges a message only after
its commit (manual PUBACK), so a crash means a redelivery, never a loss. It keeps each
station's highest contiguous seq; a gap that outlives a grace period is asked for again
with cmd/replay, then retried at intervals. Presence follows the retained status; a
late "lost" from an earlier connection does not overwrite a newer state.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

import contract
from central.event_store import open_store

log = logging.getLogger("central.collector")

BATCH_MAX = 256      # events committed in one transaction, then acknowledged together
BATCH_WAIT_S = 0.01  # the longest an event waits for its batch


def validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(contract.schema(name))


class Collector:
    def __init__(self, url: str, db: Path | str, group: str = "", *, grace_s: float = 10.0,
                 retry_s: float = 30.0, now: Callable[[], dt.datetime] = lambda:
                 dt.datetime.now(dt.UTC)) -> None:
        self.url, self.group, self.now = url, group, now
        self.grace_s, self.retry_s = grace_s, retry_s
        self.store = open_store(str(db))
        self.events_v, self.status_v = validator("events.schema.json"), \
            validator("status.schema.json")
        self.stored = self.duplicates = self.quarantined = self.replays = 0
        self._gap_seen: dict[tuple[str, str, int], float] = {}   # gap → first seen
        self._asked: dict[tuple[str, str, int], float] = {}      # gap → last asked
        self._lock = threading.Lock()
        self._batch: list[tuple[int, int, dict[str, Any]]] = []   # (mid, qos, event)
        self._batch_ready = threading.Condition(self._lock)
        self._stopping = False
        self._flusher = threading.Thread(target=self._flush_loop, name="collector-flush",
                                         daemon=True)
        self.subscribed = threading.Event()
        # A client id of its own: members of a group sharing one id would take each
        # other's connection over and over. What one holds unacknowledged when it dies is
        # not lost: the station still has it, and gap detection asks for it again.
        self.client_id = f"natest-collector-{group or 'solo'}-{uuid.uuid4().hex[:8]}"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                  clean_session=True, manual_ack=True)
        self.connections = 0
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 30)

    def start(self) -> Collector:
        parts = urlsplit(self.url)
        if parts.scheme == "mqtts":
            self.client.tls_set()
        self.client.connect(parts.hostname or "localhost", parts.port or 1883)
        self._flusher.start()
        self.client.loop_start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._batch_ready.notify_all()
        self._flusher.join(5)
        self.client.disconnect()
        self.client.loop_stop()
        self.store.close()

    def run(self, stop: threading.Event, tick_s: float = 1.0) -> None:
        self.start()
        try:
            while not stop.wait(tick_s):
                self.check_gaps()
        finally:
            self.stop()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        self.connections += 1
        topic = (f"$share/{self.group}/{contract.ALL_TOPICS}" if self.group
                 else contract.ALL_TOPICS)
        client.subscribe(topic, qos=1)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            try:
                event = self._take(msg.topic, bytes(msg.payload))
            except Exception:
                # Not acknowledged: asked for again through gap detection if it was an event.
                log.exception("could not store a message on %s", msg.topic)
                return
            if event is not None:
                self._batch.append((msg.mid, msg.qos, event))
                if len(self._batch) == 1 or len(self._batch) >= BATCH_MAX:
                    self._batch_ready.notify_all()
                return
        client.ack(msg.mid, msg.qos)

    def _flush_loop(self) -> None:
        with self._lock:
            while True:
                self._batch_ready.wait_for(lambda: self._batch or self._stopping)
                if not self._batch and self._stopping:
                    return
                if len(self._batch) < BATCH_MAX and not self._stopping:
                    # Give the batch a moment to fill; a lone event waits BATCH_WAIT_S.
                    self._batch_ready.wait_for(lambda: len(self._batch) >= BATCH_MAX
                                               or self._stopping, timeout=BATCH_WAIT_S)
                self._flush()

    def _flush(self) -> None:
        """Commit the batch, then acknowledge it: never an acknowledgement before a commit."""
        batch, self._batch = self._batch, []
        # One order for everyone: collectors sharing a database then lock stations' rows
        # in the same sequence and cannot deadlock each other.
        events = sorted((event for _, _, event in batch),
                        key=lambda e: (e["site"], e["station"], e["seq"]))
        try:
            new = self.store.add_events(events, self.now())
        except Exception:
            log.exception("could not store %d events; they will be asked for again",
                          len(batch))
            return
        self.stored += sum(new)
        self.duplicates += len(new) - sum(new)
        for mid, qos, _ in batch:
            self.client.ack(mid, qos)

    def _take(self, topic: str, payload: bytes) -> dict[str, Any] | None:
        """Quarantine or take a status here; an event is returned for the batch."""
        kind = contract.topic_kind(topic)
        if kind not in ("events", "status"):
            return None  # commands and replies: not ours to store
        try:
            body = json.loads(payload)
            (self.events_v if kind == "events" else self.status_v).validate(body)
            if kind == "events" and not topic.endswith("/" + body["type"]):
                raise ValueError(f"type {body['type']!r} published on {topic}")
        except (ValueError, jsonschema.ValidationError) as exc:
            reason = exc.message if isinstance(exc, jsonschema.ValidationError) else str(exc)
            self.store.quarantine(topic, payload, reason, self.now())
            self.quarantined += 1
            log.warning("quarantined a message on %s: %s", topic, reason[:200])
            return None
        if kind == "status":
            if not self.store.set_presence(body, self.now()):
                log.info("ignored a late %r from connection %d of %s/%s", body["state"],
                         body["connection"], body["site"], body["station"])
            return None
        event: dict[str, Any] = body
        return event

    def check_gaps(self) -> None:
        """Ask for each gap that outlived the grace period; again every retry_s."""
        now = time.monotonic()
        with self._lock:
            gaps = self.store.gaps()
        current = {(site, station, first) for site, station, first, _ in gaps}
        for key in list(self._gap_seen):
            if key not in current:   # filled
                self._gap_seen.pop(key)
                self._asked.pop(key, None)
        for site, station, first, last in gaps:
            key = (site, station, first)
            seen = self._gap_seen.setdefault(key, now)
            if now - seen < self.grace_s or now - self._asked.get(key, -1e9) < self.retry_s:
                continue
            self._asked[key] = now
            self.replays += 1
            log.warning("%s/%s: seq %d–%d missing, asking for a replay", site, station,
                        first, last)
            self.client.publish(contract.replay_topic(site, station),
                                json.dumps({"from_seq": first, "to_seq": last}), qos=1)
