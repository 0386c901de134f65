"""`station check-config --probe`: try each configured device, and name what is wrong.

A config can be valid and still not run: a port that is not there, a GPIO library that
cannot load on this board, a printer out of paper, no sound card. The probe tries each
part the config names, as the daemon would open it, without starting the station.
"""

from __future__ import annotations

import errno
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


FIND_DEVICES = "`station devices` lists the serial ports and their stable names"


def opening(port: str, exc: serial.SerialException) -> OSError:
    """pyserial's text repeats the port and the errno ("[Errno 2] could not open port P:
    [Errno 2] No such file or directory: 'P'"): say it once, and where to look."""
    if exc.errno == errno.ENOENT:
        return OSError(f"{port}: no such device (unplugged, or another name? {FIND_DEVICES})")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return OSError(f"{port}: permission denied (is the service user in the dialout "
                       "group?)")
    if exc.errno is not None:
        return OSError(f"{port}: {os.strerror(exc.errno)} ({FIND_DEVICES})")
    return OSError(f"{port}: {exc}")


def _scanner(config: Config) -> str:
    s = config.scanner
    if s.driver == "serial":
        try:
            with serial.Serial(s.port, s.baudrate, timeout=0.1, exclusive=True):
                return f"{s.port} opens"
        except serial.SerialException as exc:
            raise opening(s.port, exc) from None
    if s.driver == "evdev":
        return _input_device(s.device)
    return "simulated"


def _keypad(config: Config) -> str:
    k = config.keypad
    return _input_device(k.device) if k.driver == "evdev" else "none configured"


def _input_device(device: str) -> str:
    if not os.access(device, os.R_OK):
        raise OSError(f"{device}: not there or not readable (is the service user in the "
                      "input group? `station devices` lists the keyboard-like devices)")
    return f"{device} readable"


def _card_reader(config: Config) -> str:
    c = config.card_reader
    if c.driver != "sam":
        return "simulated"
    from station.tech.discover import probe_sam  # noqa: PLC0415

    try:
        return f"{c.port}: SAM id {probe_sam(c.port, c.baudrate)}"
    except serial.SerialException as exc:
        raise opening(c.port, exc) from None


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
    try:
        with socket.create_connection((m.host, m.port), timeout=3):
            return f"{m.host}:{m.port} accepts connections"
    except ConnectionRefusedError:
        raise OSError(f"{m.host}:{m.port}: connection refused (no broker listens there; "
                      "[mqtt] url)") from None
    except OSError as exc:
        raise OSError(f"{m.host}:{m.port}: {exc.strerror or str(exc) or 'no answer in 3 s'}") \
            from None


def _storage(config: Config) -> str:
    folder = config.station.data_dir
    missing = missing_dirs(folder)
    at = missing[0].parent if missing else folder   # where the daemon would create it
    if not os.access(at, os.W_OK):
        raise OSError(f"{at}: not writable by this user (data_dir = '{folder}')")
    free = shutil.disk_usage(at).free / 1e6
    if missing:   # said, not passed over: a typo in data_dir looks just like this
        return (f"{folder} does not exist yet: the daemon will create it in {at} "
                f"({free:,.0f} MB free there)")
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
