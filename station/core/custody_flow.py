"""Who registers and who carries the boxes away, in the pure core.

A badge scanned signs its holder in (nobody was), hands over (another was: the open
tube stays open) or signs out (the same badge again; also CMD:SIGNOUT). After CMD:BOX,
or after a waiting box's handover slip is scanned again, the next badge is the courier
of every box waiting at the lane: each gets a box.dispatched, and a slip naming the
courier prints. The same courier's badge at once again is refused and said: a box
leaves once. Any other scan in between means the courier is not here yet.
"""

from __future__ import annotations

import datetime as dt

from msgspec.structs import replace

from contract.events import BoxDispatched, OperatorSignedIn, OperatorSignedOut
from station.core.messages import Effect, Fact, HandoverSlip, PrintLabel, Record, Signal
from station.core.state import Result, Rules, State, WaitingBox


def badge_scanned(state: State, badge: str) -> Result:
    if state.courier_wanted and state.waiting:
        return dispatched(state, badge)
    if badge == state.last_courier:
        return state, (Signal("already_dispatched",
                              f"badge {badge} took the boxes already: a box leaves once"),)
    if not state.operator:
        return _recorded(replace(state, operator=badge), [OperatorSignedIn(badge)],
                         Signal("signed_in", f"operator {badge} signed in"))
    if badge == state.operator:
        return signed_out(state)
    facts: list[Fact] = [OperatorSignedOut(state.operator, "handover"), OperatorSignedIn(badge)]
    return _recorded(replace(state, operator=badge), facts,
                     Signal("handed_over", f"operator {badge} took over from "
                                           f"{state.operator}"))


def signed_out(state: State) -> Result:
    if not state.operator:
        return state, (Signal("nothing_to_do", "SIGNOUT: nobody is signed in"),)
    return _recorded(replace(state, operator=""),
                     [OperatorSignedOut(state.operator, "operator")],
                     Signal("signed_out", f"operator {state.operator} signed out"))


def box_closed(state: State, box: WaitingBox) -> State:
    """A box closed: it waits at the lane, and the next badge is its courier."""
    return replace(state, waiting=(*state.waiting, box), courier_wanted=True, last_courier="")


def slip_scanned(state: State, box: str, minted: bool) -> Result:
    """A box's slip scanned again: its courier is wanted, or it left already."""
    if any(w.box == box for w in state.waiting):
        return replace(state, courier_wanted=True, last_courier=""), (
            Signal("courier_wanted", f"box {box}: scan the courier's badge",
                   tubes=len(state.waiting)),)
    if minted:
        return state, (Signal("already_dispatched", f"box {box} left the lane already"),)
    return state, (Signal("unrecognised_code", f"box {box} is not one of this lane's"),)


def dispatched(state: State, courier: str) -> Result:
    facts: list[Fact] = [BoxDispatched(w.box, courier, len(w.tubes), w.sample_count)
                         for w in state.waiting]
    slips: list[Effect] = [PrintLabel(HandoverSlip(w.box, w.tubes, w.sample_count, courier))
                           for w in state.waiting]
    told = Signal("dispatched", f"{len(facts)} box(es) taken by courier {courier}",
                  count=sum(w.sample_count for w in state.waiting),
                  tubes=sum(len(w.tubes) for w in state.waiting))
    state = replace(state, waiting=(), courier_wanted=False, last_courier=courier,
                    box_reminded=None)
    return state, (Record(tuple(facts)), *slips, told)


def other_scan(state: State) -> State:
    """Anything but a badge or a slip: the courier is not here yet."""
    if state.courier_wanted or state.last_courier:
        return replace(state, courier_wanted=False, last_courier="")
    return state


def box_reminder(rules: Rules, state: State, now: dt.datetime) -> Result:
    """A box closed longer than the reminder's period is said, and again each period
    (the samples go to the lab the same day)."""
    if not state.waiting:
        return (replace(state, box_reminded=None), ()) if state.box_reminded else (state, ())
    since = state.box_reminded or state.waiting[0].closed_at
    if (now - since).total_seconds() < rules.box_reminder_s:
        return state, ()
    told = Signal("box_waiting", f"{len(state.waiting)} closed box(es) still at the lane",
                  again=True, tubes=len(state.waiting))
    return replace(state, box_reminded=now), (told,)


def _recorded(state: State, facts: list[Fact], signal: Signal) -> Result:
    return state, (Record(tuple(facts)), signal)
