"""The daemon: one core thread takes events in order, steps the workflow, commits,
and only then performs the effects the operator sees and hears.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from drivers.printer.job import LabelJob
from station import devices as device_builder
from station import lab_settings, readout
from station.clock import Clock
from station.config import Config, at_lane
from station.core.codes import PERSON_DECODERS, Classifier
from station.core.digests import DayDigests
from station.core.labels import print_job
from station.core.messages import (
    DeviceFaulted,
    DeviceRecovered,
    Event,
    HandoverSlip,
    LinkChanged,
    PrintLabel,
    Record,
    Signal,
    Started,
    Ticked,
)
from station.core.minting import box_pattern
from station.core.prompts import Prompts, screen_line
from station.core.state import FAULT_REMIND_S, OFFLINE_REMIND_S, Rules
from station.core.workflow import Workflow
from station.digest_secret import secret_for
from station.sealing import Sealer
from station.spooler import Spooler
from station.store import Store, StoreError
from station.systemd import notify, watchdog_interval
from station.uplink import Sender, Uplink

if TYPE_CHECKING:
    from station.screen import Screen
    from station.sim_control import SimControl

log = logging.getLogger("station")

PURGE_EVERY_S = 3600.0
TICK_S = 0.2   # how often the workflow hears the time (its reminders fall due on it)


def rules_for(config: Config) -> Rules:
    s = config.station
    return Rules(
        station_id=s.id,
        pool_size=s.pool_size,
        tubes=s.tubes,
        duplicate_today=s.duplicate_today,
        classifier=Classifier(s.tube_pattern,
                              [PERSON_DECODERS[name] for name in s.person_codes],
                              s.form_pattern, config.staff.pattern,
                              box_pattern(s.tube_prefix, s.id)),
        timezone=s.timezone,
        tube_prefix=s.tube_prefix,
        offline_remind_s=OFFLINE_REMIND_S,
        fault_remind_s=FAULT_REMIND_S,
        staff_required=config.staff.required,
        phone=s.phone,
        box_reminder_s=config.box.dispatch_reminder_min * 60.0,
    )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Station:
    def __init__(self, config: Config, clock: Clock | None = None,
                 now: Callable[[], dt.datetime] = utc_now) -> None:
        self.config, self.now = config, now
        self.clock = clock or Clock()
        self.events: queue.Queue[Event] = queue.Queue()
        self.ready = threading.Event()   # set once a registration is taken at once
        privacy = config.privacy
        self.sealer = Sealer(privacy.key) if privacy.seal and privacy.key is not None else None
        self.secret = secret_for(privacy.digest_key, config.station.data_dir)
        digests = DayDigests(self.secret.value)
        # What the first registration needs beyond the store (the JOSE library's import
        # and this run's key agreement, today's digest key: 0.2 s of a Pi's core) is made
        # while the store below waits on the card's syncs; start() waits for it.
        self._warming = threading.Thread(target=self._warm_quietly, args=(digests,),
                                         name="warm-sealing", daemon=True)
        self._warming.start()
        self.store = Store(config.station.data_dir / "station.db", config.station.site,
                           config.station.id, self.sealer, digests)
        self.state = self.store.load_state()
        self.flow = Workflow(rules_for(config), self.store.digests)
        self.devices = device_builder.build(config, self.events.put)
        self.prompts = Prompts.with_overrides(config.voice.prompts,
                                              say_surname=config.voice.say_name == "surname")
        self.spooler = (Spooler(self.store.path, self.devices.printer, self.events.put)
                        if self.devices.printer is not None else None)
        self.uplink = Uplink(config.mqtt, Sender(config.station.site, config.station.id,
                                                   self.store.session, self.sealer is not None),
                             self.store.path, health=self.contract_health,
                             clock_synced=self.clock.synced,
                             sam_id=lambda: self.devices.card_reader.sam_id,
                             station_ready=self.ready)
        self.accepted = 0  # committed steps (tube openings included), not registrations
        self._last_purge = 0.0
        self._last: dict[str, Any] | None = None       # the last outcome, for the screen
        self._backlog: tuple[float, int] = (-1.0, 0)   # (monotonic when read, backlog)
        self.screen: Screen | None = None   # listens from start() to stop() only
        self.sim: SimControl | None = None  # a dry run's hands (`station sim`), likewise

    def _screen(self) -> Screen | None:
        address = self.config.screen.address
        if address is None:
            return None
        # http.server costs a Pi's core about 60 ms to import: only for a lane with a screen.
        from station.screen import Screen  # noqa: PLC0415

        try:
            return Screen(address, self.view)
        except OSError as exc:  # the port is taken: the lane works on without a screen
            log.error("screen: cannot listen on %s: %s", self.config.screen.listen, exc)
            return None

    def _sim_control(self) -> SimControl | None:
        d = self.devices
        if d.scanner_sim is None and d.card_sim is None:
            return None   # a lane on real devices: nothing outside may type into it
        from station.sim_control import SimControl  # noqa: PLC0415 - a dry run's only

        try:
            sim = SimControl(self.config.station.data_dir, self.events.put,
                             scanner=d.scanner_sim, card=d.card_sim, printer=d.printer_sim,
                             last_job=self._last_print_job, speech=self.prompts.speech,
                             # a typed number stands in for a card: not beside real ones
                             keypad=self.config.keypad.driver != "evdev"
                             and d.card_sim is not None)
        except OSError as exc:
            log.error("dry run: cannot listen for `station sim`: %s", exc)
            return None
        sim.start()
        ports = [f"{what} {where}" for what, where in (
            ("scanner on", d.scanner_sim and d.scanner_sim.port),
            ("card reader on", d.card_sim and d.card_sim.port),
            ("printer at", d.printer_sim and d.printer_sim.uri)) if where]
        log.info("dry run: simulated %s; drive them from another terminal with "
                 "`station sim scan CODE --config %s` (also `sim card`, `sim key`)",
                 ", ".join(ports), self.config.source)
        return sim

    def _last_print_job(self) -> int:
        try:
            return readout.last_print_job(self.store.path)
        except readout.NotReadable:
            return 0

    # --- life cycle ----------------------------------------------------------------

    def start(self) -> None:
        # Connecting, meanwhile: the uplink says "online" only once the station is ready.
        self.uplink.start()
        self.devices.start()
        self.devices.voice.start(prepare=self.prompts.ahead(self.config.station.pool_size))
        # "Ready" means the readers are open; a missing one is a fault, reported by its
        # driver, and must not hold the rest of the station back for long.
        self.devices.wait_opened()
        if self.spooler is not None:
            self.spooler.start()
        self.screen = self._screen()
        if self.screen is not None:
            self.screen.start()
        self.sim = self._sim_control()
        # Ready means a registration is sealed and checked at once: not behind an import.
        self._warming.join()
        self._warm(self.store.digests)   # done already: or its error, raised here
        self.handle(Started())
        if self.state.tube is not None:
            log.info("resumed with tube %s open (%d samples), %d tubes in the box",
                     self.state.tube.tube, self.state.tube.count, len(self.state.box))
        log.info("station %s/%s ready (session %d, last seq %d)", self.config.station.site,
                 self.config.station.id, self.store.session, self.store.last_seq)
        self._say_sealing()
        self._say_digests()
        for warning in lab_settings.warnings(self.config):
            log.warning("%s", warning)
        self.ready.set()
        notify("READY=1")

    def _say_sealing(self) -> None:
        if self.sealer is None:
            log.warning("[privacy] seal = false: persons are written and sent IN PLAINTEXT "
                        "(a lab bench only; never at a lane)")
            return
        log.info("persons are sealed to central's key %s", self.sealer.kid)

    def _warm(self, digests: DayDigests) -> None:
        if self.sealer is not None:
            self.sealer.warm()
        today = self.now().astimezone(self.config.station.timezone).date()
        digests(today, "")   # the KDF's import and today's key

    def _warm_quietly(self, digests: DayDigests) -> None:
        # An error here is start()'s to raise, when it warms again on its own thread.
        with contextlib.suppress(Exception):
            self._warm(digests)

    def _say_digests(self) -> None:
        where = ("the Pi's OTP key" if self.secret.source == "otp"
                 else f"a key in RAM ({self.secret.where}): a reboot starts the day's check "
                      "afresh")
        log.info("duplicate checks on digests keyed by %s", where)
        if self.store.forgot:
            log.warning("the day's duplicate check starts afresh: its digests were made "
                        "under a key that is gone (a reboot, the key in RAM; or an upgrade). "
                        "People registered earlier today are not recognised as repeats")

    def stop(self) -> None:
        notify("STOPPING=1")
        if self.spooler is not None:
            self.spooler.stop()
        self.devices.stop()
        self.uplink.stop()
        if self.screen is not None:
            self.screen.stop()
        if self.sim is not None:
            self.sim.stop()
        self.store.close()

    def run(self, stop: threading.Event, once_ready: Callable[[], None] = lambda: None) -> None:
        """The core loop: until `stop` is set, handle events one at a time (`once_ready`:
        called once, when the station is ready)."""
        self.start()
        once_ready()
        beat = watchdog_interval()
        last_beat = last_tick = time.monotonic()
        try:
            while not stop.is_set():
                try:
                    event: Event | None = self.events.get(timeout=TICK_S)
                except queue.Empty:
                    event = None
                if event is not None:
                    self.handle(event)
                    if self.store.wal_pending:   # after the operator was told
                        self._tidy()
                now = time.monotonic()
                if beat is not None and now - last_beat >= beat:
                    notify("WATCHDOG=1")  # proof that the core loop itself turns
                    last_beat = now
                if now - self._last_purge >= PURGE_EVERY_S:
                    self._purge()
                    self._last_purge = now
                if self.uplink.connected.is_set() != self.state.online:
                    self.handle(LinkChanged(self.uplink.connected.is_set()))
                if now - last_tick >= TICK_S:
                    self.handle(Ticked(now))
                    last_tick = now
        finally:
            self.stop()

    # --- one event -------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        now = self.now()
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
                log.error("NOT recorded, storage failed: %s", exc)
                self.handle(DeviceFaulted("storage", str(exc)))
                return
            self.accepted += 1
        self.state = new
        self.tell(*(e for e in effects if isinstance(e, Signal)))
        if facts:   # woken after the operator is told: see _wake_after_telling
            self._wake_after_telling(bool(jobs))
        if facts and "storage" in new.faulted:
            log.info("storage works again")
            self.handle(DeviceRecovered("storage"))

    def _wake_after_telling(self, printing: bool) -> None:
        """The uplink's and the spooler's threads, once the operator is told: woken
        before, the uplink could take the interpreter to publish (up to a switch
        interval, 5 ms, and longer on a Pi's CPU) while the light waited its turn."""
        self.uplink.notify()
        if printing and self.spooler is not None:
            self.spooler.wake.set()

    @property
    def health(self) -> dict[str, str]:
        """Each part at this lane, as the screen and `/api/state` show it."""
        faulted = self.state.faulted
        return {spec.part: "fault" if spec.part in faulted else "ok"
                for spec in at_lane(self.config)}

    def contract_health(self) -> dict[str, str]:
        """The contract's devices at this lane, as the status message reports them."""
        faulted = self.state.faulted
        return {spec.part: "fault" if spec.part in faulted else "ok"
                for spec in at_lane(self.config) if spec.contract}

    def tell(self, *signals: Signal) -> None:
        """Light, voice and screen for what just happened; one step's cues in one breath."""
        for signal in signals:
            level = logging.WARNING if signal.pattern in ("refused", "fault", "duplicate") \
                else logging.INFO
            why = f" [{signal.cue}]" if signal.cue != signal.pattern else ""
            log.log(level, "%s: %s%s", signal.pattern, signal.message, why)
            self.devices.lights.show(signal.pattern, steady=signal.hold)
        if not signals:
            return
        if self.sim is not None:
            self.sim.heard(signals)
        said = [self.prompts.speech(s) for s in signals if not s.quiet]
        if said:
            self.devices.voice.say("，".join(said))
        news = [s for s in signals if not s.again]   # a reminder keeps the last outcome
        if news:
            at = self.now().astimezone(self.config.station.timezone).strftime("%H:%M:%S")
            last = news[-1]
            self._last = {"cue": last.cue, "pattern": last.pattern, "who": last.who, "at": at,
                          "line": "；".join(screen_line(s) for s in news)}
        if self.screen is not None:
            self.screen.changed()

    def view(self) -> dict[str, Any]:
        """What the kiosk screen shows, as JSON: masked people only."""
        state, s = self.state, self.config.station
        tube = state.tube
        return {
            "v": 1, "site": s.site, "station": s.id, "pool_size": s.pool_size,
            "tube": None if tube is None else {
                "id": tube.tube, "count": tube.count,
                "positions": [sample.shown for sample in tube.samples]},
            "last": self._last,
            "box": {"tubes": len(state.box), "samples": sum(b.count for b in state.box),
                    "waiting": len(state.waiting)},
            "operator": self.config.staff.shown(state.operator) if state.operator else None,
            "link": {"connected": self.uplink.connected.is_set(), "backlog": self.backlog()},
            "devices": self.health,
            "faults": [screen_line(Signal(cue, "")) for _, cue in state.faults],
            "clock_synced": self.clock.synced(),
            "seq": self.store.last_seq,
        }

    def backlog(self) -> int:
        """Events waiting for the broker, read at most once a second (the screen polls)."""
        at, value = self._backlog
        if time.monotonic() - at >= 1.0:
            read = readout.backlog(self.store.path)
            value = value if read is None else read
            self._backlog = (time.monotonic(), value)
        return value

    def _label(self, effect: PrintLabel, now: dt.datetime) -> LabelJob:
        when = now.astimezone(self.config.station.timezone).strftime("%m-%d %H:%M")
        courier = effect.label.courier if isinstance(effect.label, HandoverSlip) else ""
        return print_job(effect.label, self.config.station.site, self.config.station.id, when,
                         self.config.staff.shown(courier) if courier else "")

    def _tidy(self) -> None:
        try:
            self.store.tidy()
        except StoreError as exc:
            log.error("emptying the WAL failed: %s", exc)

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
