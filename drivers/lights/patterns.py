"""What each station state looks and sounds like on a red/yellow/green tower with a buzzer.

A pattern is a short cue (blinks, beeps) and then a steady state that lasts until the
next pattern. Pure data: the engine plays it, a table in the README documents it.
"""

from __future__ import annotations

from typing import Literal, get_args

import msgspec

LAMPS = ("red", "yellow", "green", "buzzer")


class Step(msgspec.Struct, frozen=True):
    on: frozenset[str]   # outputs on during this step; the others are off
    seconds: float


def steps(*parts: tuple[str, float]) -> tuple[Step, ...]:
    return tuple(Step(frozenset(p for p in names.split("+") if p), s) for names, s in parts)


class Pattern(msgspec.Struct, frozen=True):
    cue: tuple[Step, ...]      # played once
    steady: tuple[Step, ...]   # then repeated until the next pattern (one step: solid)
    description: str


# Every state the operator can be shown, declared once: the workflow's signals, the
# runner's reminders and the engine all take these names, so a typo fails mypy.
PatternName = Literal["ready", "tube_open", "accepted", "one_left", "sealed", "duplicate",
                      "refused", "done", "fault", "offline", "box_waiting", "asking",
                      "off"]
PATTERN_NAMES: tuple[PatternName, ...] = get_args(PatternName)

BEEP, GAP = 0.08, 0.08

PATTERNS: dict[PatternName, Pattern] = {
    "ready": Pattern((), steps(("yellow", 1)), "yellow: scan a tube to start"),
    "tube_open": Pattern((), steps(("green", 1)), "green: tube open, register people"),
    "accepted": Pattern(steps(("green+buzzer", BEEP)), steps(("green", 1)),
                        "one short beep, green"),
    "one_left": Pattern(steps(("green+buzzer", BEEP), ("green", GAP), ("green+buzzer", BEEP)),
                        steps(("green", 0.25), ("", 0.25)),
                        "two short beeps, green blinking: one place left"),
    "sealed": Pattern(steps(("green+yellow+buzzer", 0.6), ("", 0.15), ("green+yellow", 0.3),
                            ("", 0.15), ("green+yellow", 0.3)),
                      steps(("yellow", 1)),
                      "long beep, green+yellow flash, then yellow: seal it, scan the next tube"),
    "duplicate": Pattern(steps(("yellow+buzzer", BEEP), ("yellow", GAP),
                               ("yellow+buzzer", BEEP), ("yellow", 1.0)),
                         steps(("green", 1)),
                         "yellow with two beeps: sampled earlier today (accepted)"),
    "refused": Pattern(steps(("red+buzzer", BEEP), ("red", GAP), ("red+buzzer", BEEP),
                             ("red", GAP), ("red+buzzer", BEEP), ("red", 1.5)),
                       (), "red with three beeps: refused, nothing recorded"),
    "done": Pattern(steps(("green+buzzer", BEEP), ("", 0.15), ("green", 0.3)), (),
                    "beep and green flash: undo, void, box, sign-in or handover done"),
    "fault": Pattern(steps(("red+buzzer", 0.8)), steps(("red", 0.5), ("", 0.5)),
                     "long beep, red blinking: a device or the storage needs attention"),
    "offline": Pattern(steps(("yellow", 0.2), ("", 0.2), ("yellow", 0.2), ("", 0.2)), (),
                       "two yellow winks every 30 s, then the tube state again: no broker, "
                       "records are kept on the station"),
    "box_waiting": Pattern(steps(("yellow+green+buzzer", BEEP), ("", 0.2),
                                 ("yellow+green", 0.3), ("", 0.2)), (),
                           "a beep and a yellow+green flash, every 30 min: a closed box "
                           "still waits for its courier"),
    # Held until answered: nothing is recorded yet, so neither green nor red.
    "asking": Pattern(steps(("yellow+buzzer", BEEP)), steps(("yellow", 0.25), ("", 0.25)),
                      "one short beep, yellow blinking: the card is read, type the phone "
                      "(nothing recorded yet)"),
    "off": Pattern((), (), "all off (stopped)"),
}
