"""Prints the durable print queue, oldest first, and holds jobs through printer faults.

A job leaves the queue only when the printer took it with a clean status. Paper out,
head open or a printer gone: one device.fault, the job waits, the status is asked
again every few seconds, and the job prints when the printer is back.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from drivers.common.fault_latch import FaultLatch
from drivers.printer.job import LabelJob, PrinterFault
from drivers.printer.status import Problem, ProblemKind, describe, first_kind
from station.core.messages import DeviceFaulted, DeviceRecovered, Event
from station.outbox import Outbox

log = logging.getLogger("station.printer")

RETRY_S = 2.0
STATUS_EVERY_S = 30.0


class Printer(Protocol):
    def print(self, job: LabelJob) -> None: ...
    def status(self) -> list[Problem]: ...


class Spooler:
    def __init__(self, db_path: Path, printer: Printer, emit: Callable[[Event], None],
                 retry_s: float = RETRY_S) -> None:
        self.db_path, self.printer, self.emit, self.retry_s = db_path, printer, emit, retry_s
        self.wake = threading.Event()
        self.wake.set()  # jobs may be waiting from before a restart
        self._stop = threading.Event()
        self.health = FaultLatch(self._faulted, lambda: emit(DeviceRecovered("printer")))
        self._kind: ProblemKind = "other"   # what the latest fault was, for the operator
        self._thread = threading.Thread(target=self._run, name="spooler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        self._thread.join(5)

    def _run(self) -> None:
        queue = Outbox(self.db_path)
        try:
            while not self._stop.is_set():
                try:
                    self._next(queue)
                except sqlite3.Error as exc:  # a full disk: the queue is intact, retry
                    log.error("print queue paused, database: %s", exc)
                    self._stop.wait(self.retry_s)
        finally:
            queue.close()

    def _next(self, queue: Outbox) -> None:
        pending = queue.next_job()
        if pending is None:
            if not self.wake.wait(STATUS_EVERY_S):
                self._check(self.printer.status)  # catch a fault before a job
            self.wake.clear()
            return
        job_id, job = pending
        if self._check(lambda: self.printer.print(job)):
            queue.job_printed(job_id, dt.datetime.now(dt.UTC))
        else:
            self._stop.wait(self.retry_s)

    def _check(self, attempt: Callable[[], object]) -> bool:
        try:
            problems = attempt()
            if isinstance(problems, list) and problems:
                raise PrinterFault(describe(problems), first_kind(problems))
        except PrinterFault as exc:
            self._kind = exc.kind
            self.health.fault(str(exc))
            return False
        self.health.ok()
        return True

    def _faulted(self, reason: str) -> None:
        log.error("printer: %s (labels wait in the queue)", reason)
        self.emit(DeviceFaulted("printer", reason, self._kind))
