"""`station check-config --probe`: try each configured device, and name what is wrong.

A config can be valid and still not run: a port that is not there, a GPIO library that
cannot load on this board, a printer out of paper, no sound card. The probe tries each
part the config names, as the daemon would open it, without starting the station.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable

import msgspec
import serial

from drivers.common.files import missing_dirs
from station.config import Config
from station.core.parts import PARTS, Part
from station.digest_secret import DigestKeyError, described


class Finding(msgspec.Struct, frozen=True):
    part: str
    ok: bool
    detail: str


def _lights(config: Config) -> str:
    if config.lights.driver != "gpio":
        return "simulated"
    from drivers.lights.gpio import load_gpio  # noqa: PLC0415 - only when configured

    load_gpio()
    pins = config.lights.pins
    return f"RPi.GPIO loads; BCM pins {', '.join(f'{k} {v}' for k, v in pins.items())}"


def _scanner(config: Config) -> str:
    s = config.scanner
    if s.driver == "serial":
        with serial.Serial(s.port, s.baudrate, timeout=0.1, exclusive=True):
            return f"{s.port} opens"
    if s.driver == "evdev":
        return _input_device(s.device)
    return "simulated"


def _keypad(config: Config) -> str:
    k = config.keypad
    return _input_device(k.device) if k.driver == "evdev" else "none configured"


def _input_device(device: str) -> str:
    if not os.access(device, os.R_OK):
        raise OSError(f"{device}: not there or not readable "
                      "(is the service user in the input group?)")
    return f"{device} readable"


def _card_reader(config: Config) -> str:
    c = config.card_reader
    if c.driver != "sam":
        return "simulated"
    from station.tech.discover import probe_sam  # noqa: PLC0415

    return f"{c.port}: SAM id {probe_sam(c.port, c.baudrate)}"


def _printer(config: Config) -> str:
    p = config.printer
    if p.driver in ("none", "sim"):
        return "none at this lane" if p.driver == "none" else "simulated"
    from station.tech.discover import probe_printer  # noqa: PLC0415

    status = probe_printer(p.uri, p.driver)
    if status != "ready":
        raise OSError(f"{p.uri}: {status}")
    return f"{p.uri}: ready"


def _voice(config: Config) -> str:
    v = config.voice
    if v.driver != "espeak":
        return "simulated" if v.driver == "sim" else "none"
    missing = [p for p in ("espeak-ng", "aplay") if shutil.which(p) is None]
    if missing:
        raise OSError(f"{' and '.join(missing)} not installed: apt-get install espeak-ng "
                      "alsa-utils")
    cards = subprocess.run(["aplay", "-l"], capture_output=True, text=True, timeout=10,
                           check=False)
    if "card " not in cards.stdout:
        raise OSError("no sound card (aplay -l lists none): prompts would be a voice fault")
    return f"espeak-ng and aplay; ALSA device {v.device!r}"


def _broker(config: Config) -> str:
    m = config.mqtt
    with socket.create_connection((m.host, m.port), timeout=3):
        return f"{m.host}:{m.port} accepts connections"


def _storage(config: Config) -> str:
    folder = config.station.data_dir
    missing = missing_dirs(folder)
    at = missing[0].parent if missing else folder   # where the daemon would create it
    if not os.access(at, os.W_OK):
        raise OSError(f"{at}: not writable by this user (data_dir = '{folder}')")
    free = shutil.disk_usage(at).free / 1e6
    return f"{folder} ({free:,.0f} MB free)"


def _digests(config: Config) -> str:
    return described(config.privacy.digest_key)


# One check per part of the lane (station.core.parts), then the broker and the digests' key.
PROBES: dict[Part, Callable[[Config], str]] = {
    "lights": _lights, "scanner": _scanner, "keypad": _keypad, "card_reader": _card_reader,
    "printer": _printer, "voice": _voice, "storage": _storage,
}


def probe(config: Config) -> list[Finding]:
    findings = []
    checks = [(spec.part, PROBES[spec.part]) for spec in PARTS]
    for part, check in [*checks, ("mqtt", _broker), ("privacy", _digests)]:
        try:
            findings.append(Finding(part, True, check(config)))
        except (OSError, TimeoutError, RuntimeError, serial.SerialException,
                DigestKeyError) as exc:
            findings.append(Finding(part, False, str(exc) or type(exc).__name__))
    return findings


def report(findings: list[Finding]) -> str:
    return "\n".join(f"  {'ok  ' if f.ok else 'FAIL'} [{f.part}] {f.detail}" for f in findings)
