"""central/errors.py: how `natest-central` ends on each error. Each row of the table of
exit statuses has a case here: the error, said after the command's prefix on stderr,
ends the command with the row's status; and the collector's ends through the command."""

from __future__ import annotations

import gc
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from central.cli import main
from central.errors import STATUS, CentralError, Usage, failed
from central.ingest import collector
from central.ingest.client_id import ClientIdInUse
from central.ingest.session_rules import CollectorRefused, SessionTakenOver
from central.intake.lab_files import FileRefused
from central.mqtt.connect import Refused
from central.reports.opening import NeedsKey
from contract.sealed import KeyFileError

COLLECT = "natest-central collect"
TAKEN = ("another collector connected with client id 'c-1': this one stopped rather than "
         "take it back (give each instance its own --instance or --client-id)")

# (the error, the command's prefix, the status, what stderr says)
CASES: list[tuple[Exception, str, int, str]] = [
    (Usage("--cert-file and --key-file go together"), COLLECT, 2,
     "natest-central collect: --cert-file and --key-file go together\n"),
    (Usage("--format xlsx needs --output FILE"), "", 2, "--format xlsx needs --output FILE\n"),
    (CollectorRefused("the broker refused the connection: reason code 0x87 (not "
                      "authorized): not trying again"), COLLECT, 77,
     "natest-central collect: the broker refused the connection: reason code 0x87 (not "
     "authorized): not trying again\n"),
    (SessionTakenOver(TAKEN), COLLECT, 1, f"natest-central collect: {TAKEN}\n"),
    (ClientIdInUse("another collector on this host runs with client id 'c-1'"), COLLECT, 1,
     "natest-central collect: another collector on this host runs with client id 'c-1'\n"),
    (Refused(0x87), COLLECT, 1, "natest-central collect: the broker refused the connection: "
                                "reason code 0x87 (not authorized)\n"),
    (FileRefused("lab.csv: line 1: no column for tube"), "import-results", 1,
     "import-results: lab.csv: line 1: no column for tube\n"),
    (NeedsKey("a sealed person, and no --private-key"), "report register", 1,
     "report register: a sealed person, and no --private-key\n"),
    (CentralError("c.db: no such database"), "", 1, "c.db: no such database\n"),
    (KeyFileError("k.jwk: cannot read: No such file or directory"), "import-forms", 1,
     "import-forms: k.jwk: cannot read: No such file or directory\n"),
    (FileNotFoundError(2, "No such file or directory", "x.csv"), "import-forms", 1,
     "import-forms: [Errno 2] No such file or directory: 'x.csv'\n"),
    (ValueError("--day '2026-13-01': not a day (YYYY-MM-DD)"), "report totals", 1,
     "report totals: --day '2026-13-01': not a day (YYYY-MM-DD)\n"),
]


@pytest.mark.parametrize(("error", "prefix", "code", "said"), CASES,
                         ids=[f"{type(c[0]).__name__}-{c[2]}" for c in CASES])
def test_an_error_ends_a_command_with_its_status_and_says_itself(
        error: Exception, prefix: str, code: int, said: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert failed(error, prefix) == code
    assert capsys.readouterr() == ("", said)


def test_every_row_of_the_table_has_a_case() -> None:
    rows = {next(name for cls in type(error).__mro__
                 if (name := f"{cls.__module__}.{cls.__qualname__}") in STATUS)
            for error, *_ in CASES}
    assert rows == set(STATUS)


@pytest.fixture
def collecting(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """`collect` in this process, with a collector that ends as the test says: the
    handlers and the collection thresholds it sets are the test process's own after."""
    ends: list[str] = []

    class Ending:
        def __init__(self, *_: Any, **__: Any) -> None:
            self.metrics = None

        def run(self, stop: threading.Event) -> None:
            if ends[0] == "refused":
                raise CollectorRefused("the broker refused the subscription: not authorized")
            raise SessionTakenOver(TAKEN)

    monkeypatch.setattr(collector, "Collector", Ending)
    monkeypatch.setattr(signal, "signal", lambda *_: None)
    threshold = gc.get_threshold()
    yield ends
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.parametrize(("end", "code_and_said"), [
    ("refused", (77, "natest-central collect: the broker refused the subscription: not "
                     "authorized\n")),
    ("taken over", (1, f"natest-central collect: {TAKEN}\n"))])
def test_the_collector_ends_the_command_with_its_status(
        collecting: list[str], end: str, code_and_said: tuple[int, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, said = code_and_said
    collecting.append(end)
    assert main(["collect", "--mqtt-url", "mqtt://127.0.0.1:1", "--db", str(tmp_path / "c.db"),
                 "--state-dir", str(tmp_path), "--client-id", "c-1"]) == code
    assert capsys.readouterr().err.endswith(said)


@pytest.mark.parametrize(("options", "said"), [
    (["--cert-file", "c.pem"], "--cert-file and --key-file go together"),
    (["--ca-file", "ca.pem"], "--ca-file/--cert-file need an mqtts:// url, not mqtt://x:1"),
    (["--tz", "Mars/Olympus"], "--tz 'Mars/Olympus': no such time zone (e.g. Asia/Shanghai)"),
    (["--cutoff", "25:99"], "--cutoff '25:99': not a time of day (HH:MM)"),
    (["--password-file", "pw"], "--password-file goes with --username"),
    (["--username", "u", "--password-file", "/nonexistent/pw"],
     "[Errno 2] No such file or directory: '/nonexistent/pw'")])
def test_options_that_will_not_do_end_the_collector_with_2(
        options: list[str], said: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """2, which its unit does not restart on: a zone, a cutoff or a password file that
    will not do now will not do at the next start either."""
    assert main(["collect", "--mqtt-url", "mqtt://x:1", "--db", str(tmp_path / "c.db"),
                 "--state-dir", str(tmp_path), *options]) == 2
    assert capsys.readouterr().err == f"natest-central collect: {said}\n"


def test_tls_files_that_cannot_be_read_end_the_collector_with_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = tmp_path / "none.pem"
    assert main(["collect", "--mqtt-url", "mqtts://x:1", "--db", str(tmp_path / "c.db"),
                 "--ca-file", str(ca)]) == 1
    assert capsys.readouterr().err == (f"natest-central collect: TLS files ({ca}, no "
                                       "certificate): [Errno 2] No such file or directory\n")
