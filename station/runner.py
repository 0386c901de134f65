"""The daemon: one core thread takes events in order, steps the workflow, commits,
and only then performs the effects the operator sees and hears.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable

from drivers.labels import LabelJob
from station import devices as device_builder
from station.clock import Clock
from station.codes import PERSON_DECODERS, Classifier
from station.config import Config
from station.labels import print_job
from station.messages import DeviceFaulted, DeviceRecovered, Event, PrintLabel, Record, Signal
from station.spooler import Spooler
from station.store import Store, StoreError
from station.systemd import notify, watchdog_interval
from station.uplink import Sender, Uplink
from station.workflow import Rules, Workflow

log = logging.getLogger("station")

PURGE_EVERY_S = 3600.0
OFFLINE_REMIND_S = 30.0


def rules_for(config: Config) -> Rules:
    s = config.station
    return Rules(
        station_id=s.id,
        pool_size=s.pool_size,
        tubes=s.tubes,
        duplicate_today=s.duplicate_today,
        classifier=Classifier(s.tube_pattern,
                              [PERSON_DECODERS[name] for name in s.person_codes]),
        timezone=s.timezone,
        tube_prefix=s.tube_prefix,
    )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Station:
    def __init__(self, config: Config, clock: Clock | None = None,
                 now: Callable[[], dt.datetime] = utc_now) -> None:
        self.config, self.now = config, now
        self.clock = clock or Clock()
        self.events: queue.Queue[Event] = queue.Queue()
        self.store = Store(config.station.data_dir / "station.db", config.station.site,
                           config.station.id)
        self.state = self.store.load_state()
        self.flow = Workflow(rules_for(config))
        self.devices = device_builder.build(config, self.events.put)
        self.health = {name: "ok" for name in
                       ("scanner", "card_reader", "printer", "lights", "storage")}
        self.spooler = (Spooler(self.store.path, self.devices.printer, self.events.put)
                        if self.devices.printer is not None else None)
        self.uplink = Uplink(config.mqtt, Sender(config.station.site, config.station.id,
                                                   self.store.session),
                             self.store.path, health=lambda: dict(self.health),
                             clock_synced=self.clock.synced,
                             sam_id=lambda: self.devices.card_reader.sam_id)
        self.accepted = 0  # committed steps (tube openings included), not registrations
        self.ready = threading.Event()
        self._last_purge = 0.0

    # --- life cycle ----------------------------------------------------------------

    def start(self) -> None:
        self.devices.start()
        # "Ready" means the readers are open; a missing one is a fault, reported by its
        # driver, and must not hold the rest of the station back for long.
        self.devices.wait_opened()
        if self.spooler is not None:
            self.spooler.start()
        self.uplink.start()
        self.devices.lights.show("tube_open" if self.state.tube else "ready")
        if self.state.tube is not None:
            log.info("resumed with tube %s open (%d samples), %d tubes in the box",
                     self.state.tube.tube, self.state.tube.count, len(self.state.box))
        log.info("station %s/%s ready (session %d, last seq %d)", self.config.station.site,
                 self.config.station.id, self.store.session, self.store.last_seq)
        self.ready.set()
        notify("READY=1")

    def stop(self) -> None:
        notify("STOPPING=1")
        if self.spooler is not None:
            self.spooler.stop()
        self.devices.stop()
        self.uplink.stop()
        self.store.close()

    def run(self, stop: threading.Event) -> None:
        """The core loop: until `stop` is set, handle events one at a time."""
        self.start()
        beat = watchdog_interval()
        last_beat = last_online = time.monotonic()
        try:
            while not stop.is_set():
                try:
                    event = self.events.get(timeout=0.2)
                except queue.Empty:
                    event = None
                if event is not None:
                    self.handle(event)
                now = time.monotonic()
                if beat is not None and now - last_beat >= beat:
                    notify("WATCHDOG=1")  # proof that the core loop itself turns
                    last_beat = now
                if now - self._last_purge >= PURGE_EVERY_S:
                    self._purge()
                    self._last_purge = now
                if self.uplink.connected.is_set():
                    last_online = now
                elif now - last_online >= OFFLINE_REMIND_S:
                    self.devices.lights.show("offline")  # a reminder; the state stays shown
                    last_online = now
        finally:
            self.stop()

    # --- one event -------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        now = self.now()
        if isinstance(event, DeviceFaulted | DeviceRecovered):
            self.health[event.device] = "fault" if isinstance(event, DeviceFaulted) else "ok"
        new, effects = self.flow.step(self.state, event, now)
        records = [e for e in effects if isinstance(e, Record)]
        facts = [f for r in records for f in r.facts]
        jobs = [self._label(e, now) for e in effects if isinstance(e, PrintLabel)]
        if facts:
            try:
                self.store.commit(facts, new, now, self.clock.synced(),
                                  marks=[m for r in records for m in r.marks],
                                  jobs=jobs if self.spooler is not None else [])
            except StoreError as exc:
                # Nothing was recorded: keep the old state and tell the operator, loudly.
                self.health["storage"] = "fault"
                log.error("NOT recorded, storage failed: %s", exc)
                self.devices.lights.show("fault")
                return
            if self.health["storage"] != "ok":
                self.health["storage"] = "ok"
                log.info("storage works again")
            self.accepted += 1
            self.uplink.notify()
            if jobs and self.spooler is not None:
                self.spooler.wake.set()
        self.state = new
        for effect in effects:
            if isinstance(effect, Signal):
                self._signal(effect)

    def _signal(self, signal: Signal) -> None:
        level = logging.WARNING if signal.pattern in ("refused", "fault", "duplicate") \
            else logging.INFO
        log.log(level, "%s: %s", signal.pattern, signal.message)
        self.devices.lights.show(signal.pattern)

    def _label(self, effect: PrintLabel, now: dt.datetime) -> LabelJob:
        when = now.astimezone(self.config.station.timezone).strftime("%m-%d %H:%M")
        return print_job(effect.label, self.config.station.site, self.config.station.id, when)

    def _purge(self) -> None:
        try:
            now = self.now()
            today = now.astimezone(self.config.station.timezone).date()
            purged = self.store.purge(now, self.config.station.retention_days, today)
        except StoreError as exc:
            log.error("purge failed: %s", exc)
            return
        if purged:
            log.info("purged %d delivered events past the retention", purged)
