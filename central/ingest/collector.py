"""`natest-central collect`: the reference consumer of the contract.

It validates every message against the contract's schemas (what fails is quarantined,
counted, never fatal), stores events once by id, and acknowledges a message only after
its commit (manual PUBACK), so a crash means a redelivery, never a loss.

Receiving and committing overlap: the MQTT client's network thread (central/mqtt/client.py)
hands over every message of a read at once; they are decoded, validated and appended to
the open batch (batcher.py); a flusher thread takes the batch and commits it, in one
transaction, while the next one fills; then it acknowledges, batches in the order they
were taken (writer.py's `Flushers` commit; the collector counts and acknowledges).
Into PostgreSQL two flushers commit at once, each on a connection of its own (the gap
checks have a third); into SQLite one, sharing its connection with the gap checks under
a lock. It keeps each station's highest contiguous seq; a gap that outlives a grace
period is asked for again with cmd/replay, then retried at intervals. Presence follows
the retained status; a late "lost" does not overwrite a newer state. Who it is to the
broker (client id, claim, group), and what ends it, is its MQTT session's (session.py):
a collector is a session that stores what it receives."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

import contract
from central.ingest.batcher import Batcher
from central.ingest.lab_watch import LabWatch
from central.ingest.metrics import Metrics
from central.ingest.replays import Command, ReplayAsker
from central.ingest.session import Session
from central.ingest.session_rules import (
    CollectorRefused,
    SessionTakenOver,
    newer_claim,
    on_its_topic,
)
from central.ingest.validation import Validators
from central.ingest.writer import Flushers
from central.mqtt.codec import NOT_UTF8, Received
from central.store.event_store import Arrived, Batch, Written
from central.store.open import open_store

log = logging.getLogger("central.collector")

BATCH_MAX = 1000     # messages committed in one transaction, then acknowledged together
BATCH_WAIT_S = 0.02  # the longest a message waits for its batch to fill
# MQTT 5 Receive Maximum: how many unacknowledged messages the broker may send us. Enough
# to fill the next batch while one commits (the broker's own in-flight limit for a
# client must be at least as high: README, "Broker settings for central").
RECEIVE_MAXIMUM = 4 * BATCH_MAX
# Messages held unacknowledged before the receiving thread stops reading the socket (and
# TCP stops the broker): memory stays bounded even where a broker sends beyond the
# Receive Maximum, as mosquitto 2.0 did to a shared subscription here (batches of 33,000).
HOLD_MAX = 2 * BATCH_MAX
# How long the broker keeps this collector's session, and queues for it, while it is
# away: a restart or a deploy. Whatever outlives it is found by gap detection instead.
SESSION_EXPIRY_S = 3600


class Collector(Session):
    def __init__(self, url: str, db: Path | str, group: str = "", *, client_id: str = "",
                 session_expiry_s: int = SESSION_EXPIRY_S, announce: bool = False,
                 grace_s: float = 10.0,
                 retry_s: float = 30.0, tls: ssl.SSLContext | None = None,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                 days: tuple[ZoneInfo, dt.time, dt.timedelta] | None = None,
                 login: tuple[str, bytes] = ("", b"")) -> None:
        """With a client_id, the broker keeps a persistent session for it (MQTT 5, expiry
        `session_expiry_s`) and queues what arrives while this collector is away; without
        one, a fresh id and a session that ends with the connection (tests, one-offs).
        With `announce` (and a group), it says it is online on the group's state topic,
        retained, with a last will saying offline: stations configured to require the
        group hold their events until a member is there. `tls` for an mqtts:// url
        (default: the system's CAs, no client certificate: see `tls_context`)."""
        self.now = now
        self.store = open_store(str(db))
        self.valid = Validators()
        self.stored = self.duplicates = self.quarantined = 0
        self.asker = ReplayAsker(grace_s, retry_s)
        self.metrics = Metrics()
        # The sites' zone, their dispatch cutoff, a lab's result bound.
        self.lab_watch = LabWatch(self.metrics.registry, *(days or ()))
        self._counted = (0, 0)   # the asker's totals already in the metrics
        self._db_lock = threading.Lock()   # the flusher's commit, or a gap check
        self._asker_lock = threading.Lock()
        self.batcher = Batcher(BATCH_MAX, HOLD_MAX, BATCH_WAIT_S)
        self.flushers = Flushers(self.store, db, db_lock=self._db_lock, batcher=self.batcher,
                                 metrics=self.metrics, now=self.now, settle=self._settle)
        # The session last, as before the split: its client holds a socket pair once made.
        super().__init__(url, group, client_id=client_id, session_expiry_s=session_expiry_s,
                         announce=announce, tls=tls, login=login,
                         receive_maximum=RECEIVE_MAXIMUM)
        client = self.client
        client.on_messages = self._on_messages
        self.metrics.count_protocol_errors(lambda: client.protocol_errors)
        # A full open batch (HOLD_MAX): no more is read, pings and acks go on.
        client.readable = self.batcher.has_room
        self.batcher.on_room = client.wake

    @property
    def held_peak(self) -> int:
        """The most messages ever held unacknowledged at once."""
        return self.batcher.held_peak

    def start(self) -> Collector:
        self.flushers.start()
        self.client.start()
        return self

    def stop(self, end_session: bool = False) -> None:   # end it: leave.py
        self.batcher.stop()
        self.flushers.stop()
        if self.state_topic and self.client.is_connected():
            self.client.publish(self.state_topic, self._state("offline"), qos=1,
                                retain=True).wait_for_publish(5)
        self.client.stop(end_session=end_session)
        self.flushers.close()
        self.store.close()

    def run(self, stop: threading.Event, tick_s: float = 1.0) -> None:
        """Until `stop`; raises SessionTakenOver when another collector took our id."""
        self.start()
        try:
            while not stop.wait(tick_s):
                if self.refused:
                    raise CollectorRefused(self.refused)
                if self.taken_over.is_set():
                    raise SessionTakenOver(
                        f"another collector connected with client id {self.client_id!r}: "
                        "this one stopped rather than take it back (give each instance "
                        "its own --instance or --client-id)")
                try:
                    self.check_gaps()
                except Exception as exc:   # the database away: the flushers say more
                    log.warning("gap check skipped: the database does not answer: %s",
                                str(exc)[:200])
                    with self._db_lock, contextlib.suppress(Exception):
                        self.store.reconnect()
        finally:
            self.stop()

    def _on_messages(self, messages: list[Received], link: int) -> None:
        """Every message of one read: decoded and validated here, then added to the open
        batch under one lock."""
        events: list[Arrived] = []
        statuses: list[Arrived] = []
        quarantined: list[tuple[str, bytes, str]] = []
        acks: list[tuple[int, int]] = []   # acknowledged with the batch's commit
        passed: list[int] = []             # not ours to store: acknowledged at once
        valid_event, valid_status = self.valid.event, self.valid.status
        for topic, payload, _qos, mid in messages:
            if topic.startswith(NOT_UTF8):   # kept aside, acknowledged: never sent again
                quarantined.append((topic[len(NOT_UTF8):], payload, "topic is not UTF-8"))
                acks.append((link, mid))
                continue
            parsed = contract.parse_topic(topic)
            if parsed is None or parsed.kind in ("cmd", "reply"):
                passed.append(mid)
                if topic == self.claim_topic:
                    if newer_claim(payload, self.claim):
                        self._taken_over()
                elif parsed is not None and parsed.kind == "reply" \
                        and parsed.name == "replay":
                    self._replied(parsed, topic, payload)
                continue
            try:
                text = payload.decode()   # kept as received, for the store
                body = orjson.loads(payload)
                if parsed.kind == "events":
                    valid_event(body)
                    on_its_topic(body, parsed)
                    events.append(Arrived(body, text, topic))
                else:
                    valid_status(body)
                    on_its_topic(body, parsed)
                    statuses.append(Arrived(body, text, topic))
            except (ValueError, RecursionError) as exc:  # Invalid is a ValueError, as bad JSON
                quarantined.append((topic, payload, str(exc)))
                log.warning("quarantined a message on %s: %s", topic, str(exc)[:200])
            acks.append((link, mid))
        if passed:
            self.client.ack(link, [mid for mid in passed if mid])
        if not acks:
            return
        self.batcher.add(events, statuses, quarantined, acks)

    def _settle(self, batch: Batch, acks: list[tuple[int, int]],
                result: tuple[Written, int, int]) -> None:
        """A committed batch, in its turn: counted, then acknowledged. (A batch whose
        commit failed is not acknowledged: the broker sends it again when this collector
        reconnects, and gap detection asks the stations for any that never come.)"""
        written, refused_events, refused_statuses = result
        duplicates = len(batch.events) - written.new - refused_events
        quarantined = len(batch.quarantined) + refused_events + refused_statuses
        self.stored += written.new
        self.duplicates += duplicates
        self.quarantined += quarantined
        self.metrics.stored.inc(written.new)
        self.metrics.duplicates.inc(duplicates)
        self.metrics.quarantined.inc(quarantined)
        for body in written.late:
            log.info("ignored a late %r from connection %d of %s/%s", body["state"],
                     body["connection"], body["site"], body["station"])
        self._acknowledge(acks)

    def _acknowledge(self, acks: list[tuple[int, int]]) -> None:
        """One write per connection (normally one): the ids of an earlier connection are
        the broker's to send again, and the client drops them."""
        by_link: dict[int, list[int]] = {}
        for link, mid in acks:
            if mid:
                by_link.setdefault(link, []).append(mid)
        for link, mids in by_link.items():
            self.client.ack(link, mids)

    def _replied(self, parsed: contract.Topic, topic: str, payload: bytes) -> None:
        try:
            body = json.loads(payload)
            self.valid.reply(body)
        except (ValueError, RecursionError) as exc:
            log.warning("ignored a malformed replay reply on %s: %s", topic, str(exc)[:200])
            return
        with self._asker_lock:  # shared with the gap checks
            commands = self.asker.replied(parsed.site, parsed.station, body)
        self._send(commands)

    def check_gaps(self) -> None:
        """Ask for each gap that outlived the grace period; again every retry_s. The
        gauges of the metrics are read here too, once a tick."""
        with self._db_lock:
            gaps = self.store.gaps()
            presence, missing = self.store.presence(), self.store.missing()
        now = time.monotonic()
        with self._asker_lock:
            commands = self.asker.check(gaps, now)
            # The asker's totals also grow on replies (a cut range asked again at once).
            self.metrics.replays.inc(self.asker.asked_total - self._counted[0])
            self.metrics.purged.inc(self.asker.purged_total - self._counted[1])
            self._counted = (self.asker.asked_total, self.asker.purged_total)
            self.metrics.oldest_gap.set(self.asker.oldest_gap_s(now))
        self.metrics.gaps.set(len(gaps))
        self.metrics.presence(presence)
        self.metrics.missing.set(missing)
        self.metrics.held.set(self.batcher.held)
        self._send(commands)
        self.lab_watch.check(self.store, self._db_lock, self.now(), now)

    def _send(self, commands: list[Command]) -> None:
        for command in commands:
            self.client.publish(command.topic, command.payload, qos=1)

    @property
    def replays(self) -> int:
        return self.asker.asked_total
