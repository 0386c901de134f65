"""A card on the reader → the operator's "accepted": what a resident waits for.

The card reader's simulator keeps a real reader's time (find, select and read over the
air, the answer paced at 115,200 baud), so the figure is the station's share on top of
the reader's own. The floor is that reader's own time for the same read, measured in the
same run by a bare loop that asks find → select → read back to back over pyserial, with
nothing of ours between.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import serial
from msgspec.structs import replace

from drivers.sam import protocol as p
from drivers.sam.sim import SamSimulator
from drivers.sam.text import CardText
from station.core.identity import nth_synthetic_id
from station.core.messages import NumberTyped
from station.runner import Station
from tools.bench.common import percentile, station_config

ACCEPTED = {"accepted", "one_left", "sealed", "duplicate"}


def card(n: int) -> CardText:
    return CardText("resident", nth_synthetic_id(n), "测试", "male", "1950-01-01")


def card_to_accept(cards: int, work: Path, mqtt_url: str) -> dict[str, Any]:
    station = Station(station_config(work / "card", mqtt_url))
    return _cards(station, cards, phone=False)


def card_phone_to_accept(cards: int, work: Path, mqtt_url: str) -> dict[str, Any]:
    """A lane that asks for phones ([station] phone = "ask"): the card read, the lane's
    请输入电话, the phone entered (no typing time: the operator's own is theirs), accepted.
    card_phone_to_accept is read to accepted; phone_to_accept the phone's entry alone."""
    config = station_config(work / "card-phone", mqtt_url)
    config = replace(config, station=replace(config.station, phone="ask"))
    return _cards(Station(config), cards, phone=True)


def _cards(station: Station, cards: int, *, phone: bool) -> dict[str, Any]:
    sim, reader = station.devices.card_sim, station.devices.scanner_sim
    assert sim is not None and reader is not None
    lights = station.devices.lights
    stop = threading.Event()
    core = threading.Thread(target=station.run, args=(stop,), name="core")
    core.start()
    samples: list[float] = []
    entered: list[float] = []
    rng = random.Random(26)  # noqa: S311 - a spread of moments, not a secret
    try:
        station.ready.wait(10)
        station.devices.card_reader.opened.wait(10)
        for n in range(1, cards + 1):
            if n % 10 == 1:
                _shown_after(lights, lambda t=n: reader.scan(f"T{t:06d}"))
            took, pattern = _shown_after(lights, lambda n=n: sim.present(card(n)))
            if phone and pattern == "asking":
                typed, pattern = _shown_after(lights, lambda n=n: station.events.put(
                    NumberTyped(f"139{n:08d}")))
                entered.append(typed)
                took += typed
            if pattern in ACCEPTED:
                samples.append(took)
            sim.lift()
            # The card is taken away and the next resident steps up, at no particular
            # moment of the reader's polling: an even spread over its cycle.
            time.sleep(rng.uniform(0.3, 0.8))
    finally:
        stop.set()
        core.join(10)
    if phone:
        return {"card_phone_to_accept_p50_ms": percentile(samples, 50),
                "card_phone_to_accept_p99_ms": percentile(samples, 99),
                "phone_to_accept_p99_ms": percentile(entered, 99),
                "card_phone_to_accept_samples": len(samples)}
    floor = _reader_floor(max(3, min(cards, 30)))
    return {"card_to_accept_p50_ms": percentile(samples, 50),
            "card_to_accept_p99_ms": percentile(samples, 99),
            "card_read_floor_p50_ms": percentile(floor, 50),
            "card_read_floor_p99_ms": percentile(floor, 99),
            "card_to_accept_samples": len(samples)}


def _shown_after(lights: Any, act: Any) -> tuple[float, str]:
    """Do `act`; the milliseconds until the next pattern shows, and which."""
    with lights.changed:
        seen = lights.shown
        began = time.monotonic()
        act()
        lights.changed.wait_for(lambda: lights.shown > seen, timeout=10)
    at, pattern = lights.history[-1]
    return (at - began) * 1000, pattern


def _reader_floor(reads: int) -> list[float]:
    """The reader alone: a card placed, then find, select, read back to back until the
    read's last byte is in, for the same simulated reader."""
    sim = SamSimulator()
    samples: list[float] = []
    try:
        with serial.Serial(sim.port, 115200, timeout=0.05) as port:
            for n in range(1, reads + 1):
                began = time.monotonic()
                sim.present(card(n))
                while _ask(port, p.FIND_CARD).sw3 != p.FIND_OK:
                    pass
                _ask(port, p.SELECT_CARD)
                assert _ask(port, p.READ_TEXT_PHOTO).sw3 == p.OK
                samples.append((time.monotonic() - began) * 1000)
                sim.lift()
    finally:
        sim.close()
    return samples


def _ask(port: serial.Serial, command: tuple[int, int]) -> p.Frame:
    parser = p.FrameParser()
    port.write(p.command(command))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for item in parser.data_received(port.read(port.in_waiting or 1)):
            if isinstance(item, p.Frame):
                return item
    raise RuntimeError(f"the simulated reader did not answer {command} within 5 s")
