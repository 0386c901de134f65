"""What keeps the operator's attention, decided in the pure core: faulted parts, the
link to the broker, the reminders the passing of time brings, and the steady light the
tower holds after each cue.

The runner reports what it sees (`DeviceFaulted`, `LinkChanged`, `Ticked` with a
monotonic time) and performs the signals it gets back; it decides nothing the operator
sees. A table test steps through hours of reminders without a clock.
"""

from __future__ import annotations

from msgspec.structs import replace

from contract.events import DeviceFault, DeviceRecovery
from drivers.lights.patterns import PATTERNS, PatternName
from station.core.messages import (
    DeviceFaulted,
    DeviceRecovered,
    Fact,
    LinkChanged,
    Record,
    Signal,
    Ticked,
)
from station.core.parts import contract_device, fault_cue
from station.core.state import Result, Rules, State


def steady(state: State, pattern: PatternName, pool_size: int) -> PatternName | None:
    """What the tower holds after a cue: `fault` while anything is faulted, so an
    accepted scan never hides an empty printer; `asking` while a card waits for its
    phone; else the tube's state. None: the pattern's own steady part."""
    if state.faults:
        return "fault"
    if state.held is not None:   # a card waits for its phone, after any refusal too
        return "asking"
    if PATTERNS[pattern].steady:
        return None
    tube = state.tube
    if tube is None:
        return "ready"
    return "one_left" if tube.count == pool_size - 1 else "tube_open"


def started(rules: Rules, state: State) -> Result:
    if state.tube is None:
        return state, (Signal("ready", "ready"),)
    return state, (Signal("tube_still_open", "resumed", state.tube.count, rules.pool_size),)


def part_changed(state: State, event: DeviceFaulted | DeviceRecovered) -> Result:
    """The set of faulted parts is state: the tower shows `fault` until it is empty.
    Central hears of its devices' faults as events, except the storage's own, which
    cannot be recorded in the storage: central learns of it from the status."""
    part = event.device
    device = contract_device(part) if part != "storage" else None
    facts: list[Fact] = []
    others = tuple((p, c) for p, c in state.faults if p != part)
    if isinstance(event, DeviceFaulted):
        cue = fault_cue(part, event.kind)
        signal = Signal(cue, f"{part}: {event.reason}")
        state = replace(state, faults=(*others, (part, cue)))
        if device is not None:
            facts.append(DeviceFault(device, event.reason))
    else:
        state = replace(state, faults=others)
        still = f" ({', '.join(sorted(state.faulted))} still faulted)" \
            if state.faulted else ""
        signal = Signal("device_back", f"{part} is back{still}")
        if device is not None:
            facts.append(DeviceRecovery(device))
    return state, ((Record(tuple(facts)), signal) if facts else (signal,))


def link_changed(state: State, event: LinkChanged) -> Result:
    if event.up:
        return replace(state, online=True, offline_due=None, offline_said=False), ()
    return replace(state, online=False), ()


def ticked(rules: Rules, state: State, event: Ticked) -> Result:
    """Reminders: the broker gone for `offline_remind_s` winks the tower (said once an
    outage, not all day); a fault is said again every `fault_remind_s` until it clears,
    since a suited operator may miss one prompt."""
    at, told = event.at, []
    offline_due, said = state.offline_due, state.offline_said
    if state.online:
        offline_due, said = None, False
    elif offline_due is None:
        offline_due = at + rules.offline_remind_s
    elif at >= offline_due:
        told.append(Signal("offline", f"no broker for {rules.offline_remind_s:.0f} s or more",
                           again=True, quiet=said))
        offline_due, said = at + rules.offline_remind_s, True
    fault_due = state.fault_due
    if not state.faults:
        fault_due = None
    elif fault_due is None:
        fault_due = at + rules.fault_remind_s
    elif at >= fault_due:
        told += [Signal(cue, f"{part} still faulted", again=True) for part, cue in state.faults]
        fault_due = at + rules.fault_remind_s
    state = replace(state, offline_due=offline_due, offline_said=said, fault_due=fault_due)
    return state, tuple(told)
