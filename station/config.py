"""The station's configuration: TOML in, frozen typed objects out.

Every problem is collected and reported at once, each naming the file, the key and
what is allowed, so a technician fixes a config in one pass. No raw dict leaves here.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import contract
from drivers.printer.transport import check_uri
from station.codes import PERSON_DECODERS
from station.workflow import DUPLICATE_POLICIES, TUBE_SUPPLIES, DuplicatePolicy, TubeSupply

DEFAULT_TUBE_PATTERN = r"[A-Z]{0,4}[0-9]{6,14}"
DEFAULT_DATA_DIR = "/var/lib/natest-station"
# Topic levels must not hold MQTT wildcards or separators.
STATION_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
SITE = re.compile(r"[^/+#\s]{1,64}")


KIND_NAMES = {int: "a whole number", str: "a string in quotes", list: "a list [ … ]",
              bool: "true or false"}


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class StationConfig:
    id: str
    site: str
    pool_size: int = 10
    tubes: TubeSupply = "preprinted"
    tube_pattern: re.Pattern[str] = re.compile(DEFAULT_TUBE_PATTERN)
    duplicate_today: DuplicatePolicy = "warn"
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    timezone: ZoneInfo = ZoneInfo("Asia/Shanghai")  # noqa: RUF009 - immutable, cached
    retention_days: int = 7
    person_codes: tuple[str, ...] = ("id_number", "json")


@dataclass(frozen=True)
class MqttConfig:
    url: str = "mqtt://localhost:1883"
    username: str = ""
    password_file: Path | None = None
    password_credential: str = ""  # a systemd credential's name (LoadCredential=)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    window: int = 64
    keepalive: int = 30
    reconnect_max_s: int = 30

    def password(self) -> str | None:
        """Read when connecting, never kept in the config or logged."""
        if self.password_credential:
            folder = os.environ.get("CREDENTIALS_DIRECTORY", "")
            if not folder:
                raise OSError(f"password_credential = {self.password_credential!r} but no "
                              "CREDENTIALS_DIRECTORY: add LoadCredential= to the unit")
            return (Path(folder) / self.password_credential).read_text("utf-8").strip()
        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").strip()
        return None

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "localhost"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"


@dataclass(frozen=True)
class DeviceConfig:
    """A device section: which driver, and that driver's own settings."""

    driver: str = "sim"
    port: str = ""
    baudrate: int = 0  # 0: the driver's own default (SAM readers 115200, scanners 9600)
    device: str = ""   # evdev scanners: /dev/input/by-id/…-event-kbd


@dataclass(frozen=True)
class PrinterConfig:
    driver: str = "sim"         # "tspl", "zpl", "sim" (a TSPL printer emulator), "none"
    uri: str = ""               # tcp://host:9100, file:///dev/usb/lp0, serial:///dev/ttyUSB1?baud=9600
    width_mm: int = 40
    height_mm: int = 30
    gap_mm: int = 2
    dpi: int = 203
    font: str = "0"             # ZPL: a CJK font on the printer, e.g. "E:SIMSUN.TTF"


@dataclass(frozen=True)
class LightsConfig:
    driver: str = "sim"         # "gpio" or "sim"
    red: int = 17               # BCM pin numbers
    yellow: int = 27
    green: int = 22
    buzzer: int = 23
    active_low: bool = False    # True when a pin pulled low switches the output on

    @property
    def pins(self) -> dict[str, int]:
        return {"red": self.red, "yellow": self.yellow, "green": self.green,
                "buzzer": self.buzzer}


@dataclass(frozen=True)
class Config:
    source: str
    station: StationConfig
    mqtt: MqttConfig
    card_reader: DeviceConfig
    scanner: DeviceConfig
    printer: PrinterConfig
    lights: LightsConfig

    @property
    def topic_root(self) -> str:
        return contract.station_root(self.station.site, self.station.id)


DRIVERS = {
    "card_reader": ("sim", "sam"),
    "scanner": ("sim", "serial", "evdev"),
    "printer": ("sim", "tspl", "zpl", "none"),
    "lights": ("sim", "gpio"),
}


class _Reader:
    """Reads one section, remembering every problem instead of stopping at the first."""

    def __init__(self, source: str, section: str, table: dict[str, Any],
                 problems: list[str]) -> None:
        self.source, self.section, self.table, self.problems = source, section, table, problems
        self.seen: set[str] = set()

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.source}: [{self.section}] {key}: {message}")

    def get(self, key: str, kind: type, default: Any, check: Callable[[Any], str | None]
            | None = None) -> Any:
        self.seen.add(key)
        if key not in self.table:
            return default
        value = self.table[key]
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            self.problem(key, f"must be {KIND_NAMES[kind]}, not {value!r}")
            return default
        if check is not None and (message := check(value)) is not None:
            self.problem(key, message)
            return default
        return value

    def required(self, key: str, check: Callable[[Any], str | None]) -> str:
        if key not in self.table:
            self.seen.add(key)
            self.problem(key, "is required")
            return "?"
        value: str = self.get(key, str, "?", check)
        return value

    def finish(self) -> None:
        for key in sorted(set(self.table) - self.seen):
            self.problem(key, "unknown key (a typo?); allowed: " + ", ".join(sorted(self.seen)))


def one_of(*allowed: object) -> Callable[[Any], str | None]:
    return lambda v: None if v in allowed else f"{v!r} is not allowed; use one of " + \
        ", ".join(repr(a) for a in allowed)


def in_range(low: int, high: int) -> Callable[[Any], str | None]:
    return lambda v: None if low <= v <= high else f"{v} is out of range {low}–{high}"


def matches(pattern: re.Pattern[str], hint: str) -> Callable[[Any], str | None]:
    return lambda v: None if pattern.fullmatch(v) else f"{v!r} is not allowed: {hint}"


def valid_regex(value: str) -> str | None:
    try:
        re.compile(value)
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    return None


def valid_timezone(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{value!r} is not a known time zone (e.g. 'Asia/Shanghai')"
    return None


def valid_mqtt_url(value: str) -> str | None:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:  # a bad port, a broken [IPv6] host
        return f"{value!r} is not a valid URL ({exc})"
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        return f"{value!r} is not allowed; use mqtt://host:port or mqtts://host:port"
    return None


def valid_person_codes(value: list[Any]) -> str | None:
    unknown = [v for v in value if v not in PERSON_DECODERS]
    if unknown or not value:
        return f"{unknown or value!r}: choose from " + ", ".join(PERSON_DECODERS)
    return None


def readable_file(value: str) -> str | None:
    path = Path(value)
    if not path.is_file():
        return f"{value!r}: no such file"
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        return f"{value!r}: cannot read ({exc.strerror}); the service user must be able to"
    return None


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _station(r: _Reader) -> StationConfig:
    d = StationConfig(id="", site="")
    return StationConfig(
        id=r.required("id", matches(STATION_ID, "1–32 of A–Z a–z 0–9 _ -")),
        site=r.required("site", matches(SITE, "1–64 characters, no spaces, '/', '+', '#'")),
        pool_size=r.get("pool_size", int, d.pool_size, in_range(1, 50)),
        tubes=r.get("tubes", str, d.tubes, one_of(*TUBE_SUPPLIES)),
        tube_pattern=re.compile(r.get("tube_pattern", str, d.tube_pattern.pattern,
                                      valid_regex)),
        duplicate_today=r.get("duplicate_today", str, d.duplicate_today,
                              one_of(*DUPLICATE_POLICIES)),
        data_dir=Path(r.get("data_dir", str, str(d.data_dir))),
        timezone=ZoneInfo(r.get("timezone", str, d.timezone.key, valid_timezone)),
        retention_days=r.get("retention_days", int, d.retention_days, in_range(1, 365)),
        person_codes=tuple(r.get("person_codes", list, list(d.person_codes),
                                 valid_person_codes)),
    )


def _mqtt(r: _Reader) -> MqttConfig:
    d = MqttConfig()
    return MqttConfig(
        url=r.get("url", str, d.url, valid_mqtt_url),
        username=r.get("username", str, d.username),
        password_file=_path(r.get("password_file", str, None, readable_file)),
        password_credential=r.get("password_credential", str, "",
                                  matches(re.compile(r"[A-Za-z0-9_.-]{1,64}"),
                                          "a credential name, e.g. 'mqtt-password'")),
        ca_file=_path(r.get("ca_file", str, None, readable_file)),
        cert_file=_path(r.get("cert_file", str, None, readable_file)),
        key_file=_path(r.get("key_file", str, None, readable_file)),
        window=r.get("window", int, d.window, in_range(1, 1000)),
        keepalive=r.get("keepalive", int, d.keepalive, in_range(5, 600)),
        reconnect_max_s=r.get("reconnect_max_s", int, d.reconnect_max_s, in_range(1, 3600)),
    )


def _device(r: _Reader) -> DeviceConfig:
    d = DeviceConfig()
    config = DeviceConfig(
        driver=r.get("driver", str, d.driver, one_of(*DRIVERS[r.section])),
        port=r.get("port", str, d.port),
        baudrate=r.get("baudrate", int, d.baudrate, in_range(1200, 921600)),
        device=r.get("device", str, d.device) if r.section == "scanner" else "",
    )
    if config.driver == "evdev" and not config.device:
        r.problem("device", "is required with driver = 'evdev' "
                            "(e.g. '/dev/input/by-id/usb-…-event-kbd')")
    if config.driver in ("serial", "sam") and not config.port:
        r.problem("port", f"is required with driver = '{config.driver}' "
                          "(best a stable name from /dev/serial/by-id/)")
    return config


def _printer(r: _Reader) -> PrinterConfig:
    d = PrinterConfig()
    config = PrinterConfig(
        driver=r.get("driver", str, d.driver, one_of(*DRIVERS["printer"])),
        uri=r.get("uri", str, d.uri, check_uri),
        width_mm=r.get("width_mm", int, d.width_mm, in_range(10, 120)),
        height_mm=r.get("height_mm", int, d.height_mm, in_range(10, 300)),
        gap_mm=r.get("gap_mm", int, d.gap_mm, in_range(0, 20)),
        dpi=r.get("dpi", int, d.dpi, one_of(203, 300)),
        font=r.get("font", str, d.font),
    )
    if config.driver in ("tspl", "zpl") and not config.uri:
        r.problem("uri", f"is required with driver = '{config.driver}' "
                         "(e.g. 'tcp://192.168.1.50:9100' or 'file:///dev/usb/lp0')")
    return config


def _lights(r: _Reader) -> LightsConfig:
    d = LightsConfig()
    pin = in_range(2, 27)  # the BCM GPIOs on the 40-pin header
    config = LightsConfig(
        driver=r.get("driver", str, d.driver, one_of(*DRIVERS["lights"])),
        red=r.get("red", int, d.red, pin),
        yellow=r.get("yellow", int, d.yellow, pin),
        green=r.get("green", int, d.green, pin),
        buzzer=r.get("buzzer", int, d.buzzer, pin),
        active_low=r.get("active_low", bool, d.active_low),
    )
    if len(set(config.pins.values())) < 4:
        r.problem("red/yellow/green/buzzer", f"two outputs share a pin: {config.pins}")
    return config


def parse(text: str, source: str) -> Config:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: not valid TOML: {exc}"]) from None
    problems: list[str] = []

    def section(name: str) -> _Reader:
        table = doc.get(name, {})
        if not isinstance(table, dict):
            problems.append(f"{source}: [{name}] must be a table")
            table = {}
        return _Reader(source, name, table, problems)

    for name in sorted(set(doc) - {"station", "mqtt", *DRIVERS}):
        problems.append(f"{source}: [{name}]: unknown section; allowed: station, mqtt, "
                        + ", ".join(DRIVERS))
    readers = {name: section(name) for name in ("station", "mqtt", *DRIVERS)}
    config = Config(
        source=source,
        station=_station(readers["station"]),
        mqtt=_mqtt(readers["mqtt"]),
        card_reader=_device(readers["card_reader"]),
        scanner=_device(readers["scanner"]),
        printer=_printer(readers["printer"]),
        lights=_lights(readers["lights"]),
    )
    for reader in readers.values():
        reader.finish()
    if config.station.tubes == "print" and config.printer.driver == "none":
        problems.append(f"{source}: [printer] driver: 'none' cannot print the tube labels "
                        "that [station] tubes = 'print' needs")
    if problems:
        raise ConfigError(problems)
    return config


def load(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    return parse(text, str(path))
