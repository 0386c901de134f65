"""The station's configuration: TOML in, frozen typed objects out.

Every problem is collected and reported at once, each naming the file, the key and
what is allowed, so a technician fixes a config in one pass. No raw dict leaves here;
values are parsed once (a compiled tube pattern, a ZoneInfo, Paths). The [station] and
[mqtt] sections are read here; each device's section is declared beside its driver
(drivers/sam/config.py, drivers/scanner/config.py, drivers/printer/config.py,
drivers/lights/config.py, drivers/voice/config.py) and only assembled here.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import msgspec

from drivers.common.config_section import Section, in_range, one_of
from drivers.keypad import config as keypad_config
from drivers.keypad.config import KeypadConfig
from drivers.lights import config as lights_config
from drivers.lights.config import LightsConfig
from drivers.printer import config as printer_config
from drivers.printer.config import PrinterConfig
from drivers.printer.layout import BarcodeTooWide, place_barcode
from drivers.sam import config as card_reader_config
from drivers.sam.config import CardReaderConfig
from drivers.scanner import config as scanner_config
from drivers.scanner.config import ScannerConfig
from drivers.voice import config as voice_config
from drivers.voice.config import VoiceConfig
from station.config_values import (
    listen_address,
    matches,
    readable_file,
    valid_mqtt_url,
    valid_person_codes,
    valid_regex,
    valid_timezone,
)
from station.core import minting
from station.core.errors import StationError
from station.core.parts import BY_PART, PARTS, SECTIONS, Part, PartSpec
from station.core.prompts import PromptError, check_templates
from station.core.state import (
    DUPLICATE_POLICIES,
    PHONE_POLICIES,
    TUBE_SUPPLIES,
    DuplicatePolicy,
    PhonePolicy,
    TubeSupply,
)
from station.custody import BoxConfig, StaffConfig, read_box, read_staff
from station.privacy import PrivacyConfig, read_privacy

DEFAULT_TUBE_PATTERN = r"[A-Z]{0,4}[0-9]{6,14}"
DEFAULT_FORM_PATTERN = r"FORM-[0-9]{6}"
DEFAULT_DATA_DIR = "/var/lib/natest-station"
# Topic levels must not hold MQTT wildcards or separators.
STATION_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
SITE = re.compile(r"(?!central$)[^/+#\s]{1,64}")
TUBE_PREFIX = re.compile(r"[0-9]{2,12}")
# What an unattended install writes when given no prefix (scripts/install-station): read as
# none by the daemon, refused by check-config until the district's digits are there.
UNASSIGNED_PREFIX = ""
# The skeleton's example values (config/station.toml): a lab's, never a lane's. The prefix
# is refused by check-config (every lane that kept it would mint the same ids); the rest
# is said wherever the config is (station.lab_settings).
SHIPPED_EXAMPLES = {"id": "lane-01", "site": "site-001", "tube_prefix": "110101"}


class CredentialError(StationError, OSError):
    """The broker password named in the config cannot be read: a configuration problem,
    which no amount of reconnecting will fix."""


class ConfigError(StationError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class StationConfig(msgspec.Struct, frozen=True):
    id: str
    site: str
    pool_size: int = 10
    tubes: TubeSupply = "preprinted"
    tube_pattern: re.Pattern[str] = re.compile(DEFAULT_TUBE_PATTERN)
    # Paper information cards (核酸采集信息卡) for people with neither card nor code.
    form_pattern: re.Pattern[str] = re.compile(DEFAULT_FORM_PATTERN)
    tube_prefix: str = ""   # digits the district assigns the lane: minted ids start so
    duplicate_today: DuplicatePolicy = "warn"
    phone: PhonePolicy = "off"   # a card-holder's phone, typed after the read
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    timezone: ZoneInfo = ZoneInfo("Asia/Shanghai")
    retention_days: int = 7
    person_codes: tuple[str, ...] = ("id_number", "json", "key_values")


def _secret(key: str, path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CredentialError(f"{key}: cannot read {path}: {exc.strerror or exc}") from exc


class MqttConfig(msgspec.Struct, frozen=True):
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
    # A collector group that must be online before events leave the station (they are
    # recorded all the same): "delivered" then means a collector was there to take them.
    require_central: str = ""

    def password(self) -> str | None:
        """Read when connecting, never kept in the config or logged."""
        if self.password_credential:
            key = f"[mqtt] password_credential = {self.password_credential!r}"
            folder = os.environ.get("CREDENTIALS_DIRECTORY", "")
            if not folder:
                raise CredentialError(f"{key}: no CREDENTIALS_DIRECTORY: add LoadCredential="
                                      f"{self.password_credential}:FILE to the unit")
            return _secret(key, Path(folder) / self.password_credential)
        if self.password_file is not None:
            return _secret(f"[mqtt] password_file = '{self.password_file}'", self.password_file)
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


class Config(msgspec.Struct, frozen=True):
    source: str
    station: StationConfig
    mqtt: MqttConfig
    card_reader: CardReaderConfig
    scanner: ScannerConfig
    printer: PrinterConfig
    lights: LightsConfig
    voice: VoiceConfig
    screen: ScreenConfig
    keypad: KeypadConfig = msgspec.field(default_factory=KeypadConfig)
    staff: StaffConfig = msgspec.field(default_factory=StaffConfig)
    box: BoxConfig = msgspec.field(default_factory=BoxConfig)
    privacy: PrivacyConfig = msgspec.field(default_factory=PrivacyConfig)


class ScreenConfig(msgspec.Struct, frozen=True):
    """The kiosk page: host and port, or off. Loopback unless a site decides otherwise."""

    listen: str = "127.0.0.1:8080"

    @property
    def address(self) -> tuple[str, int] | None:
        if not self.listen:
            return None
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


# Each device declares its own section: a frozen record and its reader, beside its driver.
DEVICE_SECTIONS = SECTIONS   # the parts' sections, from the one table of parts
LANE_SECTIONS = ("station", "mqtt", "screen", "staff", "box", "privacy")
def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _station(r: Section) -> StationConfig:
    d = StationConfig(id="", site="")
    return StationConfig(
        id=r.required("id", matches(STATION_ID, "1–32 of A–Z a–z 0–9 _ -")),
        site=r.required("site", matches(SITE, "1–64 characters, no spaces, '/', '+', '#', "
                                              "not 'central' (reserved for collectors)")),
        pool_size=r.get("pool_size", int, d.pool_size, in_range(1, 50)),
        tubes=r.get("tubes", str, d.tubes, one_of(*TUBE_SUPPLIES)),
        tube_pattern=re.compile(r.get("tube_pattern", str, d.tube_pattern.pattern,
                                      valid_regex)),
        form_pattern=re.compile(r.get("form_pattern", str, d.form_pattern.pattern,
                                      valid_regex)),
        tube_prefix=r.get("tube_prefix", str, d.tube_prefix, lambda v: None
                          if v == UNASSIGNED_PREFIX else matches(
                              TUBE_PREFIX, "2–12 digits, as the district assigns")(v)),
        duplicate_today=r.get("duplicate_today", str, d.duplicate_today,
                              one_of(*DUPLICATE_POLICIES)),
        phone=r.get("phone", str, d.phone, one_of(*PHONE_POLICIES)),
        data_dir=Path(r.get("data_dir", str, str(d.data_dir))),
        timezone=ZoneInfo(r.get("timezone", str, d.timezone.key, valid_timezone)),
        retention_days=r.get("retention_days", int, d.retention_days, in_range(1, 365)),
        person_codes=tuple(r.get("person_codes", list, list(d.person_codes),
                                 valid_person_codes)),
    )


def _mqtt(r: Section) -> MqttConfig:
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
        require_central=r.get("require_central", str, d.require_central,
                              matches(STATION_ID, "a collector group: 1–32 of A–Z a–z 0–9 _ -")),
    )


def parse(text: str, source: str, refuse_examples: bool = False) -> Config:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: not valid TOML: {exc}"]) from None
    problems: list[str] = []

    def section(name: str) -> Section:
        table = doc.get(name, {})
        if not isinstance(table, dict):
            problems.append(f"{source}: [{name}] must be a table")
            table = {}
        return Section(source, name, table, problems)

    for name in sorted(set(doc) - {*LANE_SECTIONS, *DEVICE_SECTIONS}):
        problems.append(f"{source}: [{name}]: unknown section; allowed: "
                        + ", ".join((*LANE_SECTIONS, *DEVICE_SECTIONS)))
    readers = {name: section(name) for name in (*LANE_SECTIONS, *DEVICE_SECTIONS)}
    config = Config(
        source=source,
        station=_station(readers["station"]),
        mqtt=_mqtt(readers["mqtt"]),
        card_reader=card_reader_config.read(readers["card_reader"]),
        scanner=scanner_config.read(readers["scanner"]),
        keypad=keypad_config.read(readers["keypad"]),
        printer=printer_config.read(readers["printer"]),
        lights=lights_config.read(readers["lights"]),
        voice=voice_config.read(readers["voice"]),
        screen=ScreenConfig(readers["screen"].get("listen", str, ScreenConfig().listen,
                                                  listen_address)),
        staff=read_staff(readers["staff"]),
        box=read_box(readers["box"]),
        privacy=read_privacy(readers["privacy"]),
    )
    try:
        check_templates(config.voice.prompts)
    except PromptError as exc:
        problems.append(f"{source}: [voice.prompts] {exc}")
    for reader in readers.values():
        reader.finish()
    problems += _parts_wanted(config)
    table = doc.get("station")
    unassigned = isinstance(table, dict) and table.get("tube_prefix") == UNASSIGNED_PREFIX
    if not any("] tube_prefix:" in p for p in problems):  # one line for one mistake
        problems += minted_id_problems(config, refuse_examples, unassigned)
    if problems:
        raise ConfigError(problems)
    return config


def _parts_wanted(config: Config) -> list[str]:
    """A part a [station] choice needs but the lane has none of: said at check-config,
    not found at the first person."""
    source, problems = config.source, []
    if config.station.tubes == "print" and config.printer.driver == "none":
        problems.append(f"{source}: [printer] driver: 'none' cannot print the tube labels "
                        "that [station] tubes = 'print' needs")
    # A held card waits for a phone or Enter, which only a keypad types: without one
    # every card would wait for ever. A dry run's simulated reader has `station sim key`.
    if (config.station.phone != "off" and config.keypad.driver == "none"
            and config.card_reader.driver != "sim"):
        problems.append(f"{source}: [station] phone = {config.station.phone!r} needs a "
                        "keypad to type the phone (or Enter) after each card, but "
                        "[keypad] driver = 'none': every card would wait for ever")
    return problems


def minted_id_problems(config: Config, refuse_examples: bool = False,
                       unassigned: bool = False) -> list[str]:
    """What is wrong with the ids this config would mint and print, one line each: no
    prefix in print mode, minted tubes the station could not scan back, barcodes wider
    than the label; with `refuse_examples`, the skeleton's example prefix and the one an
    unattended install left `unassigned`."""
    s, where = config.station, f"{config.source}: [station] tube_prefix"
    if refuse_examples and unassigned:
        return [f"{where}: not set yet (installed without one): put the digits the "
                "district's testing office assigned this lane (README, \"Tube ids unique "
                "across a city\"); until then the lane does not start as a service"]
    if refuse_examples and s.tube_prefix == SHIPPED_EXAMPLES["tube_prefix"]:
        return [f"{where}: {s.tube_prefix!r} is the shipped example, not this lane's: every "
                "lane that kept it would mint the same box and tube ids; put the digits the "
                "district assigned this lane (README, \"Tube ids unique across a city\")"]
    problems = []
    if s.tubes == "print" and not s.tube_prefix:
        return [f"{where}: is required with tubes = 'print': digits the district assigns "
                "to this lane, so minted tube ids are unique in the city"]
    minted = minting.tube_id(s.tube_prefix, 1)
    if s.tubes == "print" and s.tube_prefix and not s.tube_pattern.fullmatch(minted):
        problems.append(f"{where}: minted tube ids such as {minted!r} do not match tube_pattern "
                        f"{s.tube_pattern.pattern!r}: the station could not scan them back")
    if config.printer.driver == "none":
        return problems
    printed = [("box ids", minting.longest_box_id(s.tube_prefix, s.id))]
    if s.tubes == "print" and s.tube_prefix:
        printed.insert(0, ("minted tube ids", minting.longest_tube_id(s.tube_prefix)))
    for what, longest in printed:
        try:
            place_barcode(longest, config.printer.size)
        except BarcodeTooWide as exc:
            hint = ("a shorter tube_prefix" if s.tube_prefix
                    else "a tube_prefix (digits: short box ids)")
            problems.append(f"{config.source}: [printer] width_mm: {what} do not fit: {exc}; "
                            f"use a wider label or {hint}")
    return problems


def load(path: str | Path, refuse_examples: bool = False) -> Config:
    """The config; `refuse_examples`: check-config's stricter reading, which also refuses
    the skeleton's example tube prefix (the daemon, a demo and the tests run on it)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    return parse(text, str(path), refuse_examples)


def present(config: Config, part: Part) -> bool:
    """Whether this lane has the part: a part whose section says driver = "none" (a lane
    without a keypad, a printer or a voice) is not shown as always "ok". Derived from the
    parts table: a section that offers "none" may be absent."""
    spec = BY_PART[part]
    if spec.section is None or "none" not in spec.drivers:
        return True
    return str(getattr(config, spec.section).driver) != "none"


def at_lane(config: Config) -> tuple[PartSpec, ...]:
    """The parts of this lane, in the table's order."""
    return tuple(spec for spec in PARTS if present(config, spec.part))
