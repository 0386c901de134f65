"""`natest-central collect`: the reference consumer of the contract.

It validates every message against the contract's schemas (what fails is quarantined,
counted, never fatal), stores events once by id, and acknowledges a message only after
its commit (manual PUBACK), so a crash means a redelivery, never a loss.

Receiving and committing overlap: the MQTT client's network thread (central/mqtt/client.py)
hands over every message of a read at once; they are decoded, validated and appended to
the open batch; a flusher thread takes the batch and commits it, in one transaction,
while the next one fills; then it acknowledges, batches in the order they were taken.
Into PostgreSQL two flushers commit at once, each on a connection of its own (the gap
checks have a third); into SQLite one, sharing its connection with the gap checks under
a lock. It keeps each station's highest contiguous seq; a gap that outlives a grace
period is asked for again with cmd/replay, then retried at intervals. Presence follows
the retained status; a late "lost" does not overwrite a newer state."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import orjson

import contract
from central.ingest.batcher import Ack, Batcher, Turns
from central.ingest.lab_watch import LabWatch
from central.ingest.metrics import Metrics
from central.ingest.replays import Command, ReplayAsker
from central.ingest.session_rules import (
    SESSION_TAKEN_OVER,
    CollectorRefused,
    SessionTakenOver,
    newer_claim,
    on_its_topic,
    state_message,
    suback_refusal,
    tls_context,
)
from central.ingest.validation import Validators
from central.ingest.writer import write_until_stored
from central.mqtt.client import Client, Will
from central.mqtt.codec import NOT_UTF8, Received
from central.store.event_store import Arrived, Batch, EventStore, Written
from central.store.open import open_store

log = logging.getLogger("central.collector")

BATCH_MAX = 1000     # messages committed in one transaction, then acknowledged together
BATCH_WAIT_S = 0.02  # the longest a message waits for its batch to fill
PG_FLUSHERS = 2      # batches committed at once into PostgreSQL, each on its connection
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


class Collector:
    def __init__(self, url: str, db: Path | str, group: str = "", *, client_id: str = "",
                 session_expiry_s: int = SESSION_EXPIRY_S, announce: bool = False,
                 grace_s: float = 10.0,
                 retry_s: float = 30.0, tls: ssl.SSLContext | None = None,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                 days: tuple[ZoneInfo, dt.time] | None = None,
                 login: tuple[str, bytes] = ("", b"")) -> None:
        """With a client_id, the broker keeps a persistent session for it (MQTT 5, expiry
        `session_expiry_s`) and queues what arrives while this collector is away; without
        one, a fresh id and a session that ends with the connection (tests, one-offs).
        With `announce` (and a group), it says it is online on the group's state topic,
        retained, with a last will saying offline: stations configured to require the
        group hold their events until a member is there. `tls` for an mqtts:// url
        (default: the system's CAs, no client certificate: see `tls_context`)."""
        self.url, self.group, self.now = url, group, now
        self.store = open_store(str(db))
        self.valid = Validators()
        self.stored = self.duplicates = self.quarantined = 0
        self.asker = ReplayAsker(grace_s, retry_s)
        self.metrics = Metrics()
        self.lab_watch = LabWatch(self.metrics.registry, *(days or ()))   # zone, cutoff
        self._counted = (0, 0)   # the asker's totals already in the metrics
        self._db_lock = threading.Lock()   # the flusher's commit, or a gap check
        self._asker_lock = threading.Lock()
        self.batcher = Batcher(BATCH_MAX, HOLD_MAX, BATCH_WAIT_S)
        self._turns = Turns()
        self._halt = threading.Event()   # set on stop: a batch waiting to retry gives up
        self._flushers = self._flushers_for(db)
        self.subscribed = threading.Event()
        self._identity(client_id, group, session_expiry_s, announce)
        self._filters: dict[int, str] = {}   # this connection's subscriptions, by packet id
        self._events_filter = 0
        self.refused = ""   # why the collector ended for good, if it did
        self.client = self._client(tls, login)

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

    @property
    def held_peak(self) -> int:
        """The most messages ever held unacknowledged at once."""
        return self.batcher.held_peak

    def _flushers_for(self, db: Path | str) -> list[threading.Thread]:
        # PostgreSQL does one batch's work while another flusher formats and sends the
        # next, each on a connection of its own; SQLite has one writer at a time anyway.
        writers = ([(open_store(str(db)), threading.Lock()) for _ in range(PG_FLUSHERS)]
                   if self.store.concurrent_writes else [(self.store, self._db_lock)])
        self._writers = [w for w, _ in writers if w is not self.store]
        return [threading.Thread(target=self._flush_loop, args=writer,
                                 name=f"collector-flush-{n}", daemon=True)
                for n, writer in enumerate(writers, start=1)]

    def _client(self, tls: ssl.SSLContext | None, login: tuple[str, bytes]) -> Client:
        parts = urlsplit(self.url)
        client = Client(
            parts.hostname or "localhost", parts.port or 1883, self.client_id,
            clean_start=not self.persistent, session_expiry_s=self.session_expiry_s,
            receive_maximum=RECEIVE_MAXIMUM,
            will=(Will(self.state_topic, self._state("offline").encode())
                  if self.state_topic else None),
            tls=(tls or tls_context()) if parts.scheme == "mqtts" else None,
            username=login[0], password=login[1])
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_messages = self._on_messages
        client.on_refused = lambda refusal: self.refuse(str(refusal))
        self.metrics.count_protocol_errors(lambda: client.protocol_errors)
        # A full open batch (HOLD_MAX): no more is read, pings and acks go on.
        client.readable = self.batcher.has_room
        self.batcher.on_room = client.wake
        return client

    def start(self) -> Collector:
        for flusher in self._flushers:
            flusher.start()
        self.client.start()
        return self

    def stop(self, end_session: bool = False) -> None:   # end it: leave.py
        self.batcher.stop()
        self._halt.set()
        for flusher in self._flushers:
            flusher.join(5)
        if self.state_topic and self.client.is_connected():
            self.client.publish(self.state_topic, self._state("offline"), qos=1,
                                retain=True).wait_for_publish(5)
        self.client.stop(end_session=end_session)
        for writer in self._writers:
            writer.close()
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

    def _flush_loop(self, store: EventStore, lock: threading.Lock) -> None:
        while (taken := self.batcher.take()) is not None:
            self._commit(store, lock, *taken)   # the next batch fills meanwhile

    def _commit(self, store: EventStore, lock: threading.Lock, batch: Batch,
                acks: list[Ack], ticket: int) -> None:
        """Commit the batch, then, in its turn, acknowledge it: never an acknowledgement
        before a commit."""
        self.metrics.batch.observe(len(acks))
        result = None
        try:
            result = write_until_stored(store, lock, batch, now=self.now,
                                        metrics=self.metrics, halt=self._halt)
        finally:
            self._turns.in_turn(ticket, lambda: None if result is None
                                else self._settle(batch, acks, result))

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
