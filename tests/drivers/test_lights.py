"""Lights and buzzer: the pattern table, the engine's timing rules, the GPIO backend."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from drivers.lights.engine import PatternEngine
from drivers.lights.gpio import GpioOutputs, GpioUnavailable, load_gpio
from drivers.lights.patterns import PATTERN_NAMES, PATTERNS
from drivers.lights.sim import SimOutputs
from drivers.lights.sim_gpio import SimGPIO


def test_every_station_pattern_has_a_light_pattern() -> None:
    assert set(PATTERN_NAMES) == set(PATTERNS)  # every name the station may show has lamps
    refusal = PATTERNS["refused"]
    assert any("red" in s.on for s in refusal.cue) and any("buzzer" in s.on for s in refusal.cue)


def test_a_refusal_beeps_then_returns_to_the_steady_state() -> None:
    outputs = SimOutputs()
    engine = PatternEngine(outputs)
    try:
        engine.show("tube_open")
        green = outputs.wait_seen({"green"})
        assert green is not None
        engine.show("refused")
        beep = outputs.wait_seen({"red", "buzzer"}, after=green + 1)
        assert beep is not None
        assert outputs.wait_seen({"green"}, after=beep) is not None  # back by itself
        beeps = [on for _, on in outputs.changes if on == {"red", "buzzer"}]
        assert len(beeps) == 3
    finally:
        engine.off()


def test_a_new_pattern_cancels_the_one_playing() -> None:
    outputs = SimOutputs()
    engine = PatternEngine(outputs)
    try:
        engine.show("fault")                         # blinks red forever
        assert outputs.wait_seen({"red", "buzzer"}) is not None
        engine.show("ready")
        assert outputs.wait_seen({"yellow"}) is not None
        time.sleep(0.6)                              # longer than a fault blink
        assert outputs.lit == {"yellow"}
        assert [p for _, p in engine.history] == ["fault", "ready"]
    finally:
        engine.off()


def test_off_leaves_every_output_released() -> None:
    outputs = SimOutputs()
    engine = PatternEngine(outputs)
    engine.show("fault")
    assert outputs.wait_seen({"red", "buzzer"}) is not None
    engine.off()
    assert outputs.released and outputs.lit == frozenset()


def test_outputs_that_fail_are_a_lights_fault_told_once_and_recovered() -> None:
    outputs, told, faulted = SimOutputs(), [], threading.Event()

    def on_fault(reason: str) -> None:
        told.append(reason)
        faulted.set()

    engine = PatternEngine(outputs, on_fault=on_fault, on_recovered=lambda: told.append("back"))
    try:
        outputs.broken = True
        engine.show("fault")                         # blinks: many writes, all failing
        assert faulted.wait(3)
        assert outputs.wait_seen({"red", "buzzer"}, timeout=0.3) is None   # none went out
        outputs.broken = False
        engine.show("ready")
        assert outputs.wait_seen({"yellow"}) is not None
        assert told == ["lights: cannot drive the outputs (simulated)", "back"]
    finally:
        engine.off()


@pytest.mark.parametrize(("active_low", "on_level"), [(False, 1), (True, 0)])
def test_gpio_levels_follow_active_low(active_low: bool, on_level: int) -> None:
    gpio = SimGPIO()
    pins = {"red": 17, "yellow": 27, "green": 22, "buzzer": 23}
    outputs = GpioOutputs(pins, active_low, gpio=gpio)
    assert all(level == 1 - on_level for level in gpio.level.values())  # start off
    outputs.set(frozenset({"green", "buzzer"}))
    assert gpio.level == {17: 1 - on_level, 27: 1 - on_level, 22: on_level, 23: on_level}
    outputs.release()
    assert all(direction == SimGPIO.IN for direction in gpio.direction.values())


def test_the_gpio_simulator_refuses_what_the_real_library_refuses() -> None:
    gpio = SimGPIO()
    with pytest.raises(RuntimeError, match="setmode"):
        gpio.setup(17, gpio.OUT)
    gpio.setmode(gpio.BCM)
    with pytest.raises(RuntimeError, match="OUTPUT"):
        gpio.output(17, 1)


def test_no_gpio_off_the_pi_is_a_clear_error() -> None:
    with pytest.raises(GpioUnavailable, match='driver = "sim"'):
        load_gpio()


def test_the_readme_documents_every_pattern() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [name for name, p in PATTERNS.items()
               if f"`{name}` | {p.description} |" not in readme]
    assert missing == []
