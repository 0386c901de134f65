"""The collection workflow as a pure state machine: (state, event, now) → (state, effects).

Rules follow real pooled-sampling practice (10混1, 5混1, 20混1, 单采): a tube is opened by its
barcode, people join it at the next position, it seals itself when full, operator
commands are barcodes. Every refusal is a visible, audible effect and records nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from msgspec.structs import replace

from contract.events import (
    BoxClosed,
    Person,
    SampleCancelled,
    SampleRegistered,
    SealReason,
    Source,
    TubeOpened,
    TubeReleased,
    TubeSealed,
    TubeVoided,
    VoidedWas,
)
from station.core.attention import link_changed, part_changed, started, steady, ticked
from station.core.codes import (
    BadCode,
    BadgeCode,
    BoxCode,
    Command,
    CommandCode,
    FormCode,
    PersonCode,
    TubeCode,
    typed_person,
)
from station.core.custody_flow import (
    badge_scanned,
    box_closed,
    box_reminder,
    other_scan,
    signed_out,
    slip_scanned,
)
from station.core.digests import DayDigests, duplicate_key
from station.core.identity import mask_id, mask_name, masked
from station.core.messages import (
    CardFailed,
    CardRead,
    CodeScanned,
    Cue,
    DeviceFaulted,
    DeviceRecovered,
    Effect,
    EntryCleared,
    Event,
    Fact,
    HandoverSlip,
    LinkChanged,
    Mark,
    NumberTyped,
    PrintLabel,
    Record,
    Refusal,
    Signal,
    Started,
    Ticked,
    TubeLabel,
)
from station.core.minting import BOX_DIGITS, box_id, tube_id
from station.core.phone_flow import card_read, typed_alone, while_held
from station.core.state import (
    BoxedTube,
    Result,
    Rules,
    Sample,
    State,
    Tube,
    WaitingBox,
)


def refuse(state: State, reason: Refusal, message: str, who: str = "") -> Result:
    return state, (Signal(reason, message, who=who),)


def record(state: State, facts: list[Fact], *after: Effect, marks: tuple[Mark, ...] = ()) -> Result:
    return state, (Record(tuple(facts), marks), *after)


def closed(tube: str) -> Mark:
    return Mark("closed_tubes", tube, present=True)


def sampled(key: str, present: bool) -> Mark:
    return Mark("sampled_today", key, present)


class Workflow:
    def __init__(self, rules: Rules,
                 digests: Callable[[dt.date, str], str] | None = None) -> None:
        """`digests`: (day, ID number) → the digest the duplicate checks compare (the
        station's DayDigests, under a secret the card does not hold); by default under a
        secret of this process's."""
        self.rules = rules
        self.digests = digests if digests is not None else DayDigests.fresh()

    def step(self, state: State, event: Event, now: dt.datetime) -> Result:
        new, effects = self._step(state, event, now)
        pool = self.rules.pool_size
        return new, tuple(replace(e, hold=steady(new, e.pattern, pool))
                          if isinstance(e, Signal) else e for e in effects)

    def _step(self, state: State, event: Event, now: dt.datetime) -> Result:
        today = now.astimezone(self.rules.timezone).date()
        if state.day != today:   # a new day: nobody sampled yet, yesterday's keys useless
            sealed = state.last_sealed and state.last_sealed.forgotten()
            state = replace(state, day=today, sampled_today=frozenset(), last_sealed=sealed)
        if state.held is not None and isinstance(event, CodeScanned | CardRead | NumberTyped):
            return while_held(self.rules, state, event, today, self._register)
        match event:
            case CodeScanned(text=text):
                return self._scanned(state, text, today, now)
            case CardRead(person=person):
                return card_read(self.rules, state, person, self._register)
            case CardFailed(reason=reason):
                return refuse(state, "card_not_read", f"card not read: {reason}")
            case NumberTyped():
                return self._typed(state, event, today)
        return self._attention(state, event, now)

    def _attention(self, state: State, event: Event, now: dt.datetime) -> Result:
        """What the runner saw of the parts, the link and the time (station.core.attention),
        and of the keypad an entry it cleared."""
        match event:
            case EntryCleared():
                return state, (Signal("entry_cleared", "keypad entry cleared after the timeout"),)
            case DeviceFaulted() | DeviceRecovered():
                return part_changed(state, event)
            case LinkChanged():
                return link_changed(state, event)
            case Ticked():
                state, told = ticked(self.rules, state, event)
                state, boxes = box_reminder(self.rules, state, now)
                return state, (*told, *boxes)
            case Started():
                return started(self.rules, state)
        raise TypeError(f"not a workflow event: {event!r}")

    # --- scanning --------------------------------------------------------------------

    def _scanned(self, state: State, text: str, today: dt.date, now: dt.datetime) -> Result:
        try:
            code = self.rules.classifier.classify(text, today)
        except BadCode as exc:
            return refuse(other_scan(state), exc.reason, str(exc))
        if isinstance(code, BadgeCode | BoxCode):
            return self._custody(state, code)
        state = other_scan(state)
        match code:
            case TubeCode(tube=tube):
                return self._open(state, tube, printed=False)
            case PersonCode(person=person, source=source):
                return self._register(state, person, source)
            case FormCode(serial=serial):
                # A placeholder: the serial stands for the person until central has the
                # card's typed data; duplicate checks work on it as on an ID number.
                placeholder = Person("other", serial, "", "unknown", "")
                return self._register(state, placeholder, "form", form=serial)
            case CommandCode(command=command):
                return self._command(state, command, now)
        raise TypeError(code)

    @staticmethod
    def _custody(state: State, code: BadgeCode | BoxCode) -> Result:
        if isinstance(code, BadgeCode):
            return badge_scanned(state, code.badge)
        minted = int(code.box[-BOX_DIGITS:]) <= state.boxes
        return slip_scanned(state, code.box, minted=minted)

    def _typed(self, state: State, typed: NumberTyped, today: dt.date) -> Result:
        """An entry typed by hand: an ID number (a phone may follow after "+"), or a
        document (station.core.codes.typed_person); never a tube or a command.
        Registered with source "manual", checked as a scanned one."""
        alone = typed_alone(self.rules, state, typed.text)
        if alone is not None:
            return alone
        try:
            person = typed_person(typed.text, typed.document, today, self.rules.classifier)
        except BadCode as exc:
            return refuse(state, exc.reason, str(exc))
        return self._register(state, person, "manual")

    def _command(self, state: State, command: Command, now: dt.datetime) -> Result:
        handlers: dict[Command, Callable[[State], Result]] = {
            "SEAL": self._seal_early, "UNDO": self._undo, "VOID": self._void,
            "BOX": lambda s: self._close_box(s, now), "NEWTUBE": self._new_tube,
            "SIGNOUT": signed_out}
        return handlers[command](state)

    def _seal_early(self, state: State) -> Result:
        if state.tube is None or state.tube.count == 0:
            return refuse(state, "nothing_to_do", "SEAL: no tube with samples is open")
        return self._seal(state, state.tube, "operator", [])

    def _new_tube(self, state: State) -> Result:
        if self.rules.tubes != "print":
            return refuse(state, "not_in_print_mode", "NEWTUBE: this station uses preprinted tubes")
        if "printer" in state.faulted:
            return refuse(state, "printer_fault",
                          "NEWTUBE: the printer is faulted, its label would not come out")
        if state.tube is not None and state.tube.count > 0:
            return refuse(state, "tube_busy",
                          f"NEWTUBE: tube {state.tube.tube} is open: seal or void it first")
        state, tube = self._mint(state)
        return self._open(state, tube, printed=True)

    # --- tubes -----------------------------------------------------------------------

    def _mint(self, state: State) -> tuple[State, str]:
        minted = state.minted + 1
        return replace(state, minted=minted), tube_id(self.rules.tube_prefix, minted)

    def _open(self, state: State, tube: str, printed: bool) -> Result:
        if tube in state.closed_tubes:
            return refuse(state, "tube_closed", f"tube {tube} is already sealed or voided")
        facts: list[Fact] = []
        if state.tube is not None:
            if state.tube.tube == tube:
                return state, (Signal("tube_still_open", f"tube {tube} is open",
                                      state.tube.count, self.rules.pool_size),)
            if state.tube.count > 0:
                return refuse(state, "tube_busy",
                              f"tube {state.tube.tube} is open: seal or void it first")
            # An empty tube goes back on the table unused; it may be opened again later.
            facts.append(TubeReleased(state.tube.tube))
        facts.append(TubeOpened(tube, self.rules.pool_size))
        after: list[Effect] = []
        if printed:
            after.append(PrintLabel(TubeLabel(tube, self.rules.pool_size)))
        after.append(Signal("tube_opened", f"tube {tube} opened", 0, self.rules.pool_size))
        return record(replace(state, tube=Tube(tube, day=state.day)), facts, *after)

    def _seal(self, state: State, tube: Tube, reason: SealReason, facts: list[Fact],
              marks: tuple[Mark, ...] = ()) -> Result:
        facts.append(TubeSealed(tube.tube, tube.count, reason))
        state = replace(
            state,
            tube=None,
            box=(*state.box, BoxedTube(tube.tube, tube.count)),
            last_sealed=tube,
            closed_tubes=state.closed_tubes | {tube.tube},
        )
        cue: Cue = "sealed_full" if reason == "full" else "sealed_early"
        told = Signal(cue, f"tube {tube.tube} sealed ({reason}, {tube.count} samples)",
                      pool_size=self.rules.pool_size, count=tube.count)
        return record(state, facts, told,
                      marks=(*marks, closed(tube.tube)))

    def _void(self, state: State) -> Result:
        if state.tube is not None:
            was: VoidedWas = "open"
            target, box = state.tube, state.box
            state = replace(state, tube=None)
        elif state.last_sealed is not None:
            target, was = state.last_sealed, "sealed"
            box = tuple(b for b in state.box if b.tube != target.tube)
            state = replace(state, last_sealed=None)
        else:
            return refuse(state, "nothing_to_do",
                          "VOID: no open tube and no sealed tube left to void")
        # Everyone in a voided tube must be sampled again: forget today's mark for them.
        fresh = {s.key for s in target.samples if not s.repeat_today}
        state = replace(
            state,
            box=box,
            closed_tubes=state.closed_tubes | {target.tube},
            sampled_today=state.sampled_today - fresh,
        )
        fact = TubeVoided(target.tube, target.count, was)
        return record(state, [fact], Signal("voided", f"tube {target.tube} voided: "
                                                       f"{target.count} to sample again",
                                            count=target.count),
                      marks=(closed(target.tube), *(sampled(i, False) for i in sorted(fresh))))

    def _undo(self, state: State) -> Result:
        tube = state.tube
        if tube is None or tube.count == 0:
            return refuse(state, "nothing_to_do", "UNDO: the open tube has nobody to cancel")
        last = tube.samples[-1]
        today = state.sampled_today
        marks: tuple[Mark, ...] = ()
        if not last.repeat_today:
            today = today - {last.key}
            marks = (sampled(last.key, False),)
        state = replace(state, tube=replace(tube, samples=tube.samples[:-1]),
                        sampled_today=today)
        fact = SampleCancelled(tube.tube, tube.count)
        return record(state, [fact], Signal("undone", f"cancelled {last.who} "
                                                       f"at position {tube.count}", tube.count,
                                            self.rules.pool_size, last.shown),
                      marks=marks)

    def _close_box(self, state: State, now: dt.datetime) -> Result:
        if state.tube is not None and state.tube.count > 0:
            return refuse(state, "tube_busy",
                          f"BOX: tube {state.tube.tube} is still open: seal it first")
        if not state.box:
            return refuse(state, "nothing_to_do", "BOX: no sealed tube since the last box")
        boxes = state.boxes + 1
        box = box_id(self.rules.tube_prefix, self.rules.station_id, boxes)
        tubes = tuple(b.tube for b in state.box)
        samples = sum(b.count for b in state.box)
        fact = BoxClosed(box, tubes, len(tubes), samples)
        state = replace(state, box=(), last_sealed=None, boxes=boxes)
        state = box_closed(state, WaitingBox(box, tubes, samples, now))
        return record(state, [fact],
                      PrintLabel(HandoverSlip(box, tubes, samples)),
                      Signal("box_closed", f"box {box} closed: {len(tubes)} tubes, "
                                           f"{samples} samples", count=samples, tubes=len(tubes)))

    # --- people ----------------------------------------------------------------------

    def _register(self, state: State, person: Person, source: Source, *,
                  form: str = "") -> Result:
        if self.rules.staff_required and not state.operator:
            return refuse(state, "not_signed_in", "nobody is signed in: scan a staff badge",
                          masked(person))
        return self._register_signed(state, person, source, form=form)

    def _single_tube(self, state: State, who: str) -> tuple[State, list[Fact], list[Effect]]:
        """Single sampling: a tube minted for the person, and its label with the name's
        mask (the ID number's would wait on the card, in the spooler's table, #39)."""
        state, tube_id = self._mint(state)
        return (replace(state, tube=Tube(tube_id, day=state.day)), [TubeOpened(tube_id, 1)],
                [PrintLabel(TubeLabel(tube_id, 1, who))])

    def _register_signed(self, state: State, person: Person, source: Source, *,
                         form: str = "") -> Result:
        before = state  # a refusal must leave no trace, not even a minted tube id
        facts: list[Fact] = []
        after: list[Effect] = []
        # The log says the name masked and the place; the ID number's mask goes to the
        # screen only (Signal.who), never beside a digest on the card (#39).
        name, who = mask_name(person.name), masked(person)
        if self.rules.single_sampling and state.tube is None:
            if "printer" in state.faulted:
                return refuse(before, "printer_fault",
                              f"{name}: the printer is faulted, the tube label would not "
                              "come out", who)
            state, facts, after = self._single_tube(state, name)
        tube = state.tube
        if tube is None or state.day is None:
            return refuse(before, "no_tube_open",
                          f"{name}: no tube is open, scan a tube first", who)
        # The digest: no number is kept in the state.
        key, in_tube = tube.digest_of(duplicate_key(person), state.day, self.digests)
        if in_tube:
            return refuse(before, "already_in_tube", f"{name} is already in tube {tube.tube}",
                          who)
        repeat = key in state.sampled_today
        if repeat and self.rules.duplicate_today == "refuse":
            return refuse(before, "sampled_today", f"{name} was already sampled today", who)
        position = tube.count + 1
        facts.append(SampleRegistered(tube.tube, position, source, person, repeat, form))
        sample = Sample(name, key, repeat, number=mask_id(person.id_number))
        tube = replace(tube, samples=(*tube.samples, sample))
        state = replace(state, tube=tube, sampled_today=state.sampled_today | {key})
        marks = (sampled(key, True),)
        where = f"{name} at {tube.tube}/{position}"
        if tube.count >= self.rules.pool_size:
            state, effects = self._seal(state, tube, "full", facts, marks)
            if repeat:  # the warning must not vanish behind the seal signal
                after.append(Signal("duplicate", f"{where}: already sampled today", position,
                                    self.rules.pool_size, who))
            return state, (*effects[:1], *after, *effects[1:])
        cue: Cue
        if repeat:
            cue, where = "duplicate", f"{where} (already sampled today)"
        elif position == self.rules.pool_size - 1:
            cue = "one_left"
        else:
            cue = "accepted"
        return record(state, facts, *after,
                      Signal(cue, where, position, self.rules.pool_size, who), marks=marks)
