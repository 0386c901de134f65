"""The lane's parts are declared once (station.core.parts); every place that lists them
derives from that table. Each test walks the table and finds every part where it must be."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from contract.events import DEVICES
from station.config import DEVICE_SECTIONS, Config, ConfigError, at_lane, load
from station.core.messages import CUE_PATTERNS
from station.core.parts import PARTS
from station.core.prompts import DEFAULT
from station.runner import Station
from station.screen_page import PAGE
from station.tech.probe import probe
from tests.browser import Browser
from tests.central_keys import parse
from tests.conftest import eventually, in_process, write_config
from tools.broker import free_port

ALL_PARTS = {spec.part for spec in PARTS}

# A lane with every optional part: a keypad that is not plugged in (a fault at once).
EVERY_PART = '[keypad]\ndriver = "evdev"\ndevice = "/dev/input/by-id/no-such-keypad"\n'


def lane_config(tmp_path: Path, extra: str = EVERY_PART) -> Path:
    config = write_config(tmp_path, f"mqtt://127.0.0.1:{free_port()}")
    text = config.read_text().replace('listen = ""', f'listen = "127.0.0.1:{free_port()}"')
    config.write_text(text + extra)
    return config


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Station]:
    pytest.importorskip("evdev", reason="the keypad driver needs python-evdev")
    with in_process(lane_config(tmp_path)) as running:
        yield running


def test_every_part_has_its_config_section_a_label_and_a_prompt_for_each_fault() -> None:
    fields = {f.name for f in msgspec.structs.fields(Config)}
    for spec in PARTS:
        if spec.section is not None:
            assert spec.section in DEVICE_SECTIONS and spec.section in fields, spec.part
            assert spec.drivers, spec.part
        assert spec.label and spec.label in PAGE, spec.part
        assert "fault" in spec.cues, spec.part
        for cue in spec.cues.values():
            assert cue in DEFAULT and CUE_PATTERNS[cue] == "fault", (spec.part, cue)
    assert len({spec.label for spec in PARTS}) == len(PARTS)


def test_a_part_s_driver_choices_are_what_its_config_section_accepts() -> None:
    for spec in PARTS:
        if spec.section is None:
            continue
        for driver in spec.drivers:   # every choice is known to the reader (or needs keys)
            try:
                parse(f'[station]\nid = "L1"\nsite = "s"\n[{spec.section}]\n'
                      f'driver = "{driver}"\n', "x.toml")
            except ConfigError as exc:
                assert not any("driver:" in p for p in exc.problems), exc.problems
        with pytest.raises(ConfigError) as refused:
            parse(f'[station]\nid = "L1"\nsite = "s"\n[{spec.section}]\ndriver = "nope"\n',
                  "x.toml")
        (problem,) = [p for p in refused.value.problems if "driver" in p]
        assert all(repr(d) in problem or d in problem for d in spec.drivers), problem


def test_the_status_message_reports_exactly_the_contract_s_devices() -> None:
    assert tuple(spec.part for spec in PARTS if spec.contract) == tuple(
        d for d in (s.part for s in PARTS) if d in DEVICES)
    assert {spec.part for spec in PARTS if spec.contract} == set(DEVICES)


def test_the_probe_tries_every_part(tmp_path: Path) -> None:
    findings = probe(load(lane_config(tmp_path)))
    assert [f.part for f in findings] == [*(spec.part for spec in PARTS), "mqtt", "privacy"]


def test_a_lane_without_a_keypad_printer_or_voice_does_not_show_them(tmp_path: Path) -> None:
    bare = load(lane_config(tmp_path, '[printer]\ndriver = "none"\n[voice]\ndriver = "none"\n'))
    assert {s.part for s in at_lane(bare)} == ALL_PARTS - {"keypad", "printer", "voice"}
    assert {s.part for s in at_lane(load(lane_config(tmp_path)))} == ALL_PARTS


def test_every_part_is_in_the_state_api_the_status_and_on_the_screen(
        station: Station) -> None:
    # The keypad is not plugged in: its fault reaches the state, the API and the page.
    assert eventually(lambda: "keypad" in station.state.faulted)
    assert station.screen is not None
    with urllib.request.urlopen(station.screen.url + "api/state", timeout=5) as reply:
        state = json.load(reply)
    assert set(state["devices"]) == ALL_PARTS
    assert state["devices"]["keypad"] == "fault"
    assert "数字键盘断开或故障：可扫码或读卡" in state["faults"]
    assert set(station.contract_health()) == set(DEVICES)
    with Browser() as browser:
        browser.open(station.screen.url)
        assert browser.wait_for("document.querySelector('#devices [data-part=keypad]') !== null")
        shown = browser.evaluate(
            "[...document.querySelectorAll('#devices span')].map(s => "
            "[s.dataset.part, s.className, s.innerText])")
    assert {part for part, _, _ in shown} == ALL_PARTS
    assert ["keypad", "fault", "数字键盘 ✗"] in shown
    assert ["printer", "ok", "打印机 ✓"] in shown
