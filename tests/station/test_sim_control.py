"""The dry run's socket (station/sim_control.py) on its own: one daemon a data folder,
no typed numbers beside real parts, and every label of an act in its answer."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.printer.job import LabelJob
from drivers.printer.layout import LabelSize
from drivers.printer.printer import LabelPrinter, language
from drivers.printer.sim import PrinterSim
from station.core.messages import Event
from station.sim_control import SOCKET_NAME, SimControl, SocketTaken


def control(folder: Path, *, keypad: bool = False, printer: PrinterSim | None = None,
            last_job: Any = lambda: 0, emitted: list[Event] | None = None) -> SimControl:
    sink = emitted if emitted is not None else []
    return SimControl(folder, sink.append, scanner=None, card=None, printer=printer,
                      last_job=last_job, speech=lambda signal: "", keypad=keypad)


def ask(folder: Path, body: dict[str, Any]) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(20)
        conn.connect(str(folder / SOCKET_NAME))
        conn.sendall(json.dumps(body).encode() + b"\n")
        answer: dict[str, Any] = json.loads(conn.makefile("rb").readline())
        return answer


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    tmp_path.chmod(0o700)
    return tmp_path


def test_a_second_daemon_on_one_folder_takes_nothing_over(folder: Path) -> None:
    first = control(folder)
    first.start()
    try:
        with pytest.raises(SocketTaken, match="another station daemon"):
            control(folder)
        assert ask(folder, {"nothing": 1}) == {"error": "nothing to do: scan, card or key"}
    finally:
        first.stop()
    assert not (folder / SOCKET_NAME).exists()


def test_a_late_stop_leaves_its_successors_socket(folder: Path) -> None:
    killed = control(folder)
    killed._server.close()              # as a daemon killed before its stop: no answer
    successor = control(folder)         # takes the stale path over
    successor.start()
    try:
        killed.stop()                   # the old one's cleanup comes late
        assert (folder / SOCKET_NAME).exists()
        assert "error" in ask(folder, {"nothing": 1})   # still answering
    finally:
        successor.stop()


def test_no_typed_number_beside_real_parts(folder: Path) -> None:
    emitted: list[Event] = []
    bench = control(folder, keypad=False, emitted=emitted)
    bench.start()
    try:
        answer = ask(folder, {"key": "11010519491231002X"})
        assert "not one" in answer["error"]
        assert emitted == []
        bench.heard(())                 # a refused request collects no later cues
        assert bench._told is None
    finally:
        bench.stop()


@pytest.fixture
def printer() -> Iterator[PrinterSim]:
    sim = PrinterSim(language="tspl")
    yield sim
    sim.close()


def test_an_acts_label_is_waited_for_though_the_queue_is_already_empty(
        folder: Path, printer: PrinterSim) -> None:
    """The spooler marks a job printed once it is sent; the simulator reads it a moment
    later. The answer counts the act's jobs in the store, not the queue."""
    jobs = [0]
    lane = control(folder, printer=printer, last_job=lambda: jobs[0])
    mark = lane._mark()
    jobs[0] += 1                        # the act committed one label job...
    label = LabelJob("tube", "0107000001", ("张*丰",))
    sender = threading.Timer(0.5, LabelPrinter(language("tspl"), printer.uri,
                                               LabelSize()).print, [label])
    sender.start()                      # ...which reaches the printer only later
    try:
        labels = lane._wait_labels(mark)
    finally:
        sender.join()
        lane.stop()
    assert labels == [{"barcode": "0107000001", "lines": ["张*丰"]}]
