"""The pure core decides what keeps the operator's attention: faults, the link, reminders
and the light the tower holds. Hours of reminders, stepped without a clock."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from drivers.voice.sim import SimSpeaker
from station import runner
from station.core.messages import (
    CodeScanned,
    DeviceFaulted,
    DeviceRecovered,
    Event,
    LinkChanged,
    Record,
    Signal,
    Started,
    Ticked,
)
from station.core.state import State
from station.core.workflow import Workflow
from tests.conftest import eventually, in_process, write_config
from tests.people import LI, ZHANG
from tests.station.core.test_workflow import NOW, rules
from tools.broker import free_port

FLOW = Workflow(rules(pool_size=3, offline_remind_s=30.0, fault_remind_s=20.0))


def feed(events: Iterable[Event], state: State | None = None
         ) -> tuple[State, list[tuple[float, Signal]]]:
    """Step through events; return the final state and every signal with its tick time."""
    state, told, at = state or State(), [], 0.0
    for event in events:
        at = event.at if isinstance(event, Ticked) else at
        state, effects = FLOW.step(state, event, NOW)
        told += [(at, e) for e in effects if isinstance(e, Signal)]
    return state, told


def ticks(start: float, stop: float, every: float = 0.2) -> list[Ticked]:
    return [Ticked(start + n * every) for n in range(int((stop - start) / every) + 1)]


def test_the_broker_gone_winks_every_30_s_and_is_said_once_an_outage() -> None:
    state, told = feed([LinkChanged(True), LinkChanged(False), *ticks(0, 95)])
    offline = [(at, s) for at, s in told if s.cue == "offline"]
    assert [round(at) for at, _ in offline] == [30, 60, 90]
    assert [s.quiet for _, s in offline] == [False, True, True]   # said once, then winks
    assert all(s.again for _, s in offline)         # the screen keeps the last outcome
    state, told = feed([LinkChanged(True), *ticks(95, 200)], state)
    assert told == []                               # back: nothing more
    _, told = feed([LinkChanged(False), *ticks(200, 231)], state)
    assert [(round(at), s.quiet) for at, s in told] == [(230, False)]   # a new outage: said


def test_a_station_that_never_reaches_its_broker_is_told_after_30_s() -> None:
    _, told = feed([Started(), *ticks(0, 31)])
    assert [s.cue for _, s in told] == ["ready", "offline"]


def test_a_fault_is_said_again_every_20_s_until_it_clears_and_then_never() -> None:
    fault = DeviceFaulted("printer", "paper jam", "paper_jam")
    state, told = feed([LinkChanged(True), fault, *ticks(0, 65)])
    said = [(round(at), s.cue, s.again) for at, s in told]
    assert said == [(0, "printer_jam", False), (20, "printer_jam", True),
                    (40, "printer_jam", True), (60, "printer_jam", True)]
    state, told = feed([DeviceRecovered("printer"), *ticks(65, 3600, every=1.0)], state)
    assert [s.cue for _, s in told] == ["device_back"]
    assert state.fault_due is None


def test_every_faulted_part_is_said_in_a_reminder_oldest_first() -> None:
    _, told = feed([LinkChanged(True), DeviceFaulted("voice", "no card"),
                    DeviceFaulted("keypad", "gone"), *ticks(0, 21)])
    assert [s.cue for _, s in told if s.again] == ["voice_fault", "keypad_fault"]


def test_the_tower_holds_fault_while_anything_is_faulted_else_the_tube_state() -> None:
    state, told = feed([Started(), CodeScanned("T000001"), CodeScanned(ZHANG)])
    assert [(s.cue, s.hold) for _, s in told] == [
        ("ready", None), ("tube_opened", None), ("accepted", None)]   # their own
    state, told = feed([DeviceFaulted("scanner", "gone"), CodeScanned(LI)], state)
    assert [(s.cue, s.hold) for _, s in told] == [("scanner_fault", "fault"),
                                                  ("one_left", "fault")]
    _, told = feed([DeviceRecovered("scanner")], state)
    assert [(s.cue, s.hold) for _, s in told] == [("device_back", "one_left")]


def test_a_restart_with_a_tube_open_says_so() -> None:
    state, _ = feed([CodeScanned("T000001"), CodeScanned(ZHANG)])
    _, told = feed([Started()], state)
    assert [(s.cue, s.position, s.pool_size) for _, s in told] == [("tube_still_open", 1, 3)]


def test_the_storage_fault_is_not_recorded_in_the_storage_other_faults_are() -> None:
    _, effects = FLOW.step(State(), DeviceFaulted("storage", "disk full"), NOW)
    assert not [e for e in effects if isinstance(e, Record)]
    _, effects = FLOW.step(State(), DeviceFaulted("printer", "gone", "no_answer"), NOW)
    (record,) = [e for e in effects if isinstance(e, Record)]
    assert [type(f).__name__ for f in record.facts] == ["DeviceFault"]


def test_a_running_station_without_its_broker_says_so_once_and_winks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's promise, on a running station: 网络断开 once the broker has been gone
    for the reminder's period (30 s at a lane), then winks only."""
    monkeypatch.setattr(runner, "OFFLINE_REMIND_S", 0.5)
    config = write_config(tmp_path, f"mqtt://127.0.0.1:{free_port()}")   # nobody there
    with in_process(config) as station:
        voice, lights = station.devices.voice, station.devices.lights
        assert isinstance(voice, SimSpeaker)
        assert eventually(lambda: [p for _, p in lights.history].count("offline") >= 3)
        assert list(voice.said).count("网络断开") == 1
        assert lights.holding == "ready"      # the winks return to the lane's state
