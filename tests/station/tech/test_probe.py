"""`station check-config --probe` tries each configured part; GPIO that cannot load is a
configuration problem (exit 78), not a restart loop."""

from __future__ import annotations

import importlib.util
import shutil
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.printer.sim import PrinterSim
from drivers.sam.sim import SamSimulator
from drivers.scanner.sim import ScannerSim
from station.cli import main
from tests.conftest import write_config
from tools.broker import LocalBroker, free_port

NO_GPIO = importlib.util.find_spec("RPi") is None
off_a_pi = pytest.mark.skipif(not NO_GPIO, reason="RPi.GPIO loads here: this is a Pi")


@pytest.fixture
def parts() -> Iterator[tuple[ScannerSim, SamSimulator, PrinterSim]]:
    scanner, card, printer = ScannerSim(), SamSimulator(), PrinterSim(language="tspl")
    yield scanner, card, printer
    for part in (scanner, card, printer):
        part.close()


def probed(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[int, str]:
    code = main(["check-config", "--probe", str(config)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_every_part_that_answers_is_ok(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], broker: LocalBroker,
        parts: tuple[ScannerSim, SamSimulator, PrinterSim]) -> None:
    scanner, card, printer = parts
    config = write_config(tmp_path, broker.url, scanner.port, card.port)
    with config.open("a") as f:
        f.write(f'[printer]\ndriver = "tspl"\nuri = "{printer.uri}"\n')
    code, said = probed(capsys, config)
    assert code == 0, said
    assert f"ok   [scanner] {scanner.port} opens" in said
    assert "ok   [card_reader]" in said and "SAM id 0501000000" in said
    assert f"ok   [printer] {printer.uri}: ready" in said
    assert f"ok   [mqtt] 127.0.0.1:{broker.port} accepts connections" in said
    assert "ok   [privacy] duplicate checks keyed by a secret in RAM" in said
    assert "FAIL" not in said


def test_a_lane_that_wants_the_otp_key_where_there_is_none_is_told_and_not_started(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], broker: LocalBroker,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")   # no rpi-otp-private-key: not a Pi
    config = write_config(tmp_path, broker.url)
    config.write_text(config.read_text().replace("[privacy]\n",
                                                 '[privacy]\ndigest_key = "otp"\n'))
    code, said = probed(capsys, config)
    assert code == 1 and "FAIL [privacy] no OTP key: `rpi-otp-private-key` is not" in said
    assert main(["run", "--config", str(config)]) == 78
    err = capsys.readouterr().err
    assert '[privacy] digest_key = "otp": no OTP key' in err
    assert not (tmp_path / "data").exists()   # stopped before anything was written


@off_a_pi
def test_each_part_that_fails_is_named_with_why(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        parts: tuple[ScannerSim, SamSimulator, PrinterSim]) -> None:
    _, _, printer = parts
    printer.paper_out = True
    dead = free_port()
    config = write_config(tmp_path, f"mqtt://127.0.0.1:{dead}", "/dev/ttyNOPE0")
    with config.open("a") as f:
        f.write(f'[printer]\ndriver = "tspl"\nuri = "{printer.uri}"\n'
                '[lights]\ndriver = "gpio"\n'
                '[keypad]\ndriver = "evdev"\ndevice = "/dev/input/by-id/no-keypad"\n')
    code, said = probed(capsys, config)
    assert code == 1
    assert "FAIL [scanner]" in said and "/dev/ttyNOPE0" in said
    assert "FAIL [keypad] /dev/input/by-id/no-keypad: not there" in said
    assert "FAIL [printer]" in said and "paper" in said
    assert "FAIL [lights] RPi.GPIO cannot be used here" in said
    assert "FAIL [mqtt]" in said
    assert "5 part(s) will not work: scanner, keypad, printer, lights, mqtt" in said


@off_a_pi
def test_gpio_that_cannot_load_ends_the_daemon_with_ex_config(tmp_path: Path) -> None:
    config = write_config(tmp_path, "mqtt://127.0.0.1:1")
    with config.open("a") as f:
        f.write('[lights]\ndriver = "gpio"\n')
    # A subprocess: a daemon that started anyway would run until the timeout.
    done = subprocess.run([sys.executable, "-m", "station.cli", "run", "--config", str(config)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 78, done.stderr     # RestartPreventExitStatus: no loop
    assert '[lights] driver = "gpio": RPi.GPIO cannot be used here' in done.stderr


def sound_cards() -> str:
    if shutil.which("aplay") is None:
        return ""
    return subprocess.run(["aplay", "-l"], capture_output=True, text=True, check=False).stdout


@pytest.mark.skipif(shutil.which("espeak-ng") is None or "card " in sound_cards(),
                    reason="needs espeak-ng and aplay on a machine with no sound card")
def test_espeak_without_a_sound_card_is_named_by_the_probe(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], broker: LocalBroker) -> None:
    config = write_config(tmp_path, broker.url)
    with config.open("a") as f:
        f.write('[voice]\ndriver = "espeak"\n')
    code, said = probed(capsys, config)
    assert code == 1
    assert "FAIL [voice] no sound card (aplay -l lists none)" in said
    assert "1 part(s) will not work: voice" in said


class NotAPrinter(socketserver.BaseRequestHandler):
    """A web server's answer to bytes that are no request, at once."""

    def handle(self) -> None:
        self.request.recv(64)
        self.request.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")


@off_a_pi
def test_each_failure_is_said_once_in_words_with_where_to_look(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A web server on the printer's port is named as such (its bytes are no paper jam);
    a missing port, a refused broker or printer are said once, without pyserial's doubled
    errno; a data folder that is not there yet is said (#42)."""
    with socketserver.TCPServer(("127.0.0.1", 0), NotAPrinter) as web:
        threading.Thread(target=web.serve_forever, daemon=True).start()
        web_uri = f"tcp://127.0.0.1:{web.server_address[1]}"
        config = write_config(tmp_path, f"mqtt://127.0.0.1:{free_port()}", "/dev/ttyNOPE0",
                              "/dev/ttyNOPE1")
        config.write_text(config.read_text().replace(str(tmp_path / "data"),
                                                     str(tmp_path / "not-yet" / "data")))
        with config.open("a") as f:
            f.write(f'[printer]\ndriver = "tspl"\nuri = "{web_uri}"\n')
        code, said = probed(capsys, config)
        web.shutdown()
    lines = {line.split("]", 1)[0].split("[")[-1]: line for line in said.splitlines()
             if line.startswith(("  ok", "  FAIL"))}
    assert code == 1 and "[Errno" not in said, said
    for part, port in (("scanner", "/dev/ttyNOPE0"), ("card_reader", "/dev/ttyNOPE1")):
        assert lines[part].count(port) == 1 and "no such device" in lines[part], said
        assert "`station devices` lists the serial ports" in lines[part]
    printer = lines["printer"]
    assert printer.count(web_uri) == 1 and "an HTTP server answered ('HTTP/1.1 400 Bad " \
        "Request'), not a TSPL printer's one status byte" in printer, said
    assert not any(w in printer for w in ("paper", "ribbon", "head")), printer
    assert lines["mqtt"].endswith("connection refused (no broker listens there; [mqtt] url)")
    assert f"ok   [storage] {tmp_path}/not-yet/data does not exist yet: the daemon will " \
        f"create it in {tmp_path}" in lines["storage"]
    dead = f"tcp://127.0.0.1:{free_port()}"                 # nothing listens: refused
    config.write_text(config.read_text().replace(web_uri, dead))
    _, said = probed(capsys, config)
    printer = next(line for line in said.splitlines() if "[printer]" in line)
    assert printer.count(dead) == 1 and "connection refused: nothing listens there" in printer
