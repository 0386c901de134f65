"""A dry run's hands: how `station sim` reaches a daemon on simulated devices.

The simulators live inside the daemon (the scanner's and the card reader's pty masters,
the printer's TCP port), so nothing outside it can type into them. While any of them is
configured, the daemon listens on a Unix socket in its data folder (the socket mode
0600, in a folder of mode 0700: the service user's and root's alone) for one request a
connection, a JSON line: `{"scan": CODE}`, `{"card": {"number": …, "name": …}}` or
`{"key": TEXT}`. It hands the code to the simulator as the device would (the scanner's
bytes on its pty, the card on the emulated reader, a number entered as the keypad's
driver hands it on), waits for what the lane did, and answers with what the operator was
shown: each cue's light pattern, log line, screen line and spoken prompt (masked, as the
screen shows them), and the labels the simulated printer printed. A lane on real devices
never listens, and a typed number is taken only when the lane has no real keypad and its
card reader is simulated: a lane with one part on the bench lets nobody type numbers
into its queue.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from drivers.sam.text import CardText
from station.core.errors import StationError
from station.core.messages import Event, NumberTyped, Signal
from station.core.prompts import screen_line

if TYPE_CHECKING:   # the simulators are built by station.devices, only when chosen
    from drivers.printer.sim import PrinterSim
    from drivers.sam.sim import SamSimulator
    from drivers.scanner.sim import ScannerSim

log = logging.getLogger("station.sim")

SOCKET_NAME = "sim.sock"
ANSWER_S = 8.0     # a card's read takes about 0.6 s; a label's print a moment more
SETTLE_S = 0.3     # cues of one step come together; a second batch soon after is the same act


class Told(msgspec.Struct, frozen=True):
    """One cue as the operator got it (all masked)."""

    pattern: str
    message: str
    screen: str
    said: str


def card_for(number: str, name: str) -> CardText:
    """A resident card for this number, as a reader's chip would hold it: birth date and
    gender from the number where it has them; the lane judges the number, not this."""
    birth = number[6:14]
    iso = f"{birth[:4]}-{birth[4:6]}-{birth[6:]}" if birth.isdigit() else ""
    gender = ("male" if int(number[16]) % 2 else "female") \
        if len(number) == 18 and number[16].isdigit() else "unknown"
    return CardText(id_type="resident", number=number, name=name, gender=gender, birth=iso,
                    nation="01", address="", valid_from="2020-01-01", valid_to="长期")


class SocketTaken(StationError, OSError):
    """Another daemon answers on this data folder's socket."""


def answering(path: Path) -> bool:
    """Whether a daemon listens at `path` now (a socket left by a killed one does not)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True


class SimControl:
    def __init__(self, folder: Path, emit: Callable[[Event], None], *,
                 scanner: ScannerSim | None, card: SamSimulator | None,
                 printer: PrinterSim | None, last_job: Callable[[], int],
                 speech: Callable[[Signal], str], keypad: bool = False) -> None:
        self.path = folder / SOCKET_NAME
        self.emit, self.scanner, self.card, self.printer = emit, scanner, card, printer
        self.last_job, self.speech, self.keypad = last_job, speech, keypad
        self._told: list[Told] | None = None   # a list while a request waits for its cues
        self._changed = threading.Condition()
        if answering(self.path):   # a second daemon on one data folder takes nothing over
            raise SocketTaken(f"{self.path}: another station daemon answers there")
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()   # left by a daemon that was killed
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.path))
        os.chmod(self.path, 0o600)
        self._server.listen(4)
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="sim-control", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:   # started
            self._thread.join(2)
        self._server.close()
        if not answering(self.path):   # ours, now closed; a successor's answers: kept
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def heard(self, signals: tuple[Signal, ...]) -> None:
        """The runner's cues, as they are performed (kept only while a request waits)."""
        with self._changed:
            if self._told is not None:
                self._told += [Told(s.pattern, s.message, screen_line(s), self.speech(s))
                               for s in signals]
                self._changed.notify_all()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(ANSWER_S)
                try:
                    request = json.loads(conn.makefile("rb").readline() or b"{}")
                    answer = self._act(request) if isinstance(request, dict) else \
                        {"error": "a request is one JSON object"}
                except (ValueError, OSError, KeyError, TypeError) as exc:
                    answer = {"error": f"{type(exc).__name__}: {exc}"}
                except Exception as exc:   # the dry run's hands must outlive one bad request
                    log.exception("dry run: a request failed")
                    answer = {"error": f"{type(exc).__name__}: {exc}"}
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps(answer, ensure_ascii=False).encode() + b"\n")

    def _act(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._changed:
            self._told = []
        mark = self._mark()
        refused = "not handed on"
        try:
            refused = self._hand_on(request)
        finally:
            if refused:   # no act, so no cues to collect: later ones are not this request's
                with self._changed:
                    self._told = None
        if refused:
            return {"error": refused}
        told = self._wait_told()
        labels = self._wait_labels(mark)
        return {"told": [msgspec.to_builtins(t) for t in told], "labels": labels}

    def _mark(self) -> tuple[int, int]:
        """Where the store's print jobs and the printer's received jobs stand now."""
        if self.printer is None:
            return 0, 0
        with self.printer.changed:
            return self.last_job(), len(self.printer.labels)

    def _hand_on(self, request: dict[str, Any]) -> str:
        """Give the request to its simulator; a reason when it cannot be."""
        if "scan" in request:
            if self.scanner is None:
                return 'the scanner is not simulated ([scanner] driver = "sim" for a dry run)'
            self.scanner.scan(str(request["scan"]))
        elif "card" in request:
            if self.card is None:
                return ('the card reader is not simulated ([card_reader] driver = "sim" for '
                        "a dry run)")
            card = request["card"]
            self.card.present(card_for(str(card["number"]), str(card["name"])))
        elif "key" in request:
            if not self.keypad:
                return ("a number is typed only on a bench: with a real keypad or card "
                        "reader this lane is not one")
            self.emit(NumberTyped(str(request["key"])))   # as the keypad's driver hands it on
        else:
            return "nothing to do: scan, card or key"
        return ""

    def _wait_told(self) -> list[Told]:
        with self._changed:
            self._changed.wait_for(lambda: bool(self._told), ANSWER_S)
            seen = -1
            while len(self._told or []) != seen:   # and whatever else the same act brought
                seen = len(self._told or [])
                self._changed.wait(SETTLE_S)        # until a quiet moment
            told, self._told = self._told or [], None
            return told

    def _wait_labels(self, mark: tuple[int, int]) -> list[dict[str, Any]]:
        """The labels this act printed. Its jobs were committed with it, so they are
        counted in the store now (ids past the mark); each is waited for until the
        printer has received it, which also holds a job the spooler has already marked
        printed while the simulator was still reading it."""
        if self.printer is None:
            return []
        last_job, received = mark
        made = self.last_job() - last_job
        printer = self.printer
        with printer.changed:
            printed = len(printer.printed) - sum(printer.labels[received:])
            printer.changed.wait_for(lambda: len(printer.labels) >= received + made, ANSWER_S)
            return [{"barcode": p.barcode, "lines": list(p.lines)}
                    for p in printer.printed[printed:]]
