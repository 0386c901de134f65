"""station/exit_status.py: how the `station` command ends on each error. Each row of its
tables has a case here: the error, said after the command's prefix on stderr, ends the
command with the row's status; and a few end so through the command itself."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from contract.sealed import KeyFileError
from drivers.lights.gpio import GpioUnavailable
from drivers.printer.job import PrinterFault
from drivers.printer.png import NoCjkFont
from station.cli import main
from station.config import ConfigError, CredentialError, load
from station.core.errors import StationError
from station.digest_secret import DigestKeyError
from station.exit_status import BY_COMMAND, STATUS, Usage, failed
from station.readout import NotReadable
from station.store import StoreError
from tests.conftest import write_config

TOML = "/etc/natest-station/station.toml"
NO_GPIO = ("RPi.GPIO cannot be used here (No module named 'RPi'). On a Raspberry Pi "
           "install RPi.GPIO, or rpi-lgpio on a Pi 5; elsewhere use [lights] driver = \"sim\"")
PROBLEMS = [f"{TOML}: [station] site: is required",
            f"{TOML}: [privacy] central_key: is required"]

# (the error, the command, its prefix, the status, what stderr says)
CASES: list[tuple[Exception, str, str, int, str]] = [
    (ConfigError(PROBLEMS), "run", "", 78, "".join(f"{p}\n" for p in PROBLEMS)),
    (ConfigError(PROBLEMS), "check-config", "", 1, "".join(f"{p}\n" for p in PROBLEMS)),
    (CredentialError("[mqtt] password_file: '/x': no such file"), "run", TOML, 78,
     f"{TOML}: [mqtt] password_file: '/x': no such file\n"),
    (DigestKeyError("no OTP key: `rpi-otp-private-key` is not installed"), "run",
     f'{TOML}: [privacy] digest_key = "otp"', 78,
     f'{TOML}: [privacy] digest_key = "otp": no OTP key: `rpi-otp-private-key` is not '
     "installed\n"),
    (GpioUnavailable(NO_GPIO), "run", f'{TOML}: [lights] driver = "gpio"', 78,
     f'{TOML}: [lights] driver = "gpio": {NO_GPIO}\n'),
    (GpioUnavailable(NO_GPIO), "safe-state", "[lights]", 1, f"[lights]: {NO_GPIO}\n"),
    (NotReadable("/var/lib/natest-station/station.db: file is not a database"), "status",
     "cannot read the station's database", 2, "cannot read the station's database: "
     "/var/lib/natest-station/station.db: file is not a database\n"),
    (Usage("--from and --count: serials run from FORM-000001 to FORM-999999"), "label", "",
     2, "--from and --count: serials run from FORM-000001 to FORM-999999\n"),
    (StoreError("/var/lib/natest-station/station.db: unable to open database file"), "run",
     "cannot start", 1,
     "cannot start: /var/lib/natest-station/station.db: unable to open database file\n"),
    (PrinterFault("tcp://10.0.0.5:9100: [Errno 111] Connection refused", "no_answer"),
     "label", "printer", 1, "printer: tcp://10.0.0.5:9100: [Errno 111] Connection refused\n"),
    (NoCjkFont("no font with Chinese found"), "label", "", 1, "no font with Chinese found\n"),
    (KeyFileError("central.pub.jwk: cannot read"), "run", "cannot start", 1,
     "cannot start: central.pub.jwk: cannot read\n"),
    (StationError("[printer] driver = 'sim': nothing to print on"), "label", "", 1,
     "[printer] driver = 'sim': nothing to print on\n"),
    (PermissionError(13, "Permission denied", "/var/lib/natest-station"), "run",
     "cannot start", 1, "cannot start: [Errno 13] Permission denied: "
                        "'/var/lib/natest-station'\n"),
]


@pytest.mark.parametrize("case", CASES,
                         ids=[f"{type(c[0]).__name__}-{c[1]}-{c[3]}" for c in CASES])
def test_an_error_ends_a_command_with_its_status_and_says_itself(
        case: tuple[Exception, str, str, int, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    error, command, prefix, code, said = case
    assert failed(error, prefix, command) == code
    assert capsys.readouterr() == ("", said)


def test_every_row_of_the_tables_has_a_case() -> None:
    rows: set[object] = set()
    for error, command, *_ in CASES:
        for cls in type(error).__mro__:
            name = f"{cls.__module__}.{cls.__qualname__}"
            if (row := (command, name) if (command, name) in BY_COMMAND else name) in (
                    BY_COMMAND.keys() | STATUS.keys()):
                rows.add(row)
                break
    assert rows == BY_COMMAND.keys() | STATUS.keys()


BROKEN = "[station]\nid = 1\n"


@pytest.mark.parametrize("command", [["run"], ["safe-state"], ["status"]])
def test_a_config_that_does_not_load_ends_a_service_command_with_78(
        command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """78: systemd does not restart on it; every problem said, one a line."""
    config = tmp_path / "station.toml"
    config.write_text(BROKEN)
    assert main([*command, "--config", str(config)]) == 78
    said = capsys.readouterr().err.splitlines()
    assert said[:2] == [f"{config}: [station] id: must be a string in quotes, not 1",
                        f"{config}: [station] site: is required"]


def test_the_service_refuses_the_example_prefix_with_78_where_a_dry_run_reads_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """systemd starts `run --service`: the check is the main process's, so its 78 stops
    the restarts (an ExecStartPre's status does not); by hand, `run` still reads it."""
    config = write_config(tmp_path, "mqtt://127.0.0.1:1", tube_prefix="110101")
    assert main(["run", "--service", "--config", str(config)]) == 78
    said = capsys.readouterr().err
    assert "[station] tube_prefix: '110101' is the shipped example, not this lane's" in said
    assert load(config).station.tube_prefix == "110101"   # what `run` by hand reads


def test_check_config_lists_the_problems_and_ends_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "station.toml"
    config.write_text(BROKEN)
    assert main(["check-config", str(config)]) == 1
    said = capsys.readouterr().err.splitlines()
    assert said[0] == "3 problem(s) in the configuration:"
    assert said[1] == f"  {config}: [station] id: must be a string in quotes, not 1"


@pytest.mark.skipif(importlib.util.find_spec("RPi") is not None, reason="a Pi: GPIO loads")
def test_safe_state_without_gpio_ends_1_where_run_ends_78(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, "mqtt://127.0.0.1:1")
    with config.open("a") as f:
        f.write('[lights]\ndriver = "gpio"\n')
    assert main(["safe-state", "--config", str(config)]) == 1
    assert capsys.readouterr().err == f"[lights]: {NO_GPIO}\n"


def test_a_label_the_station_prints_itself_is_refused_with_2(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["label", "print", "tube"]) == 2
    assert capsys.readouterr().err == ("only the command sheet is printed from here; the "
                                       "station prints the rest\n")
