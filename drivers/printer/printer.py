"""A label printer: one language over one transport. Status before every job."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from drivers.printer import tspl, zpl
from drivers.printer.job import LabelJob, PrinterFault
from drivers.printer.layout import LabelSize
from drivers.printer.status import NotAStatus, Problem, describe, first_kind
from drivers.printer.transport import Transport, open_transport

STATUS_TIMEOUT_S = 2.0


class Language(msgspec.Struct, frozen=True):
    name: str
    status_query: bytes
    parse_status: Callable[[bytes], list[Problem] | None]
    render: Callable[[LabelJob, LabelSize], bytes]


def language(name: str, zpl_font: str = "0") -> Language:
    if name == "tspl":
        return Language("tspl", tspl.STATUS_QUERY, tspl.parse_status, tspl.render)
    if name == "zpl":
        return Language("zpl", zpl.STATUS_QUERY, zpl.parse_status,
                        lambda job, size: zpl.render(job, size, zpl_font))
    raise ValueError(f"unknown printer language {name!r}")


class LabelPrinter:
    def __init__(self, lang: Language, uri: str, size: LabelSize,
                 connect: Callable[[str], Transport] = open_transport) -> None:
        self.lang, self.uri, self.size, self.connect = lang, uri, size, connect

    def _problems(self, transport: Transport) -> list[Problem]:
        transport.write(self.lang.status_query)
        received = b""
        while True:
            chunk = transport.read(STATUS_TIMEOUT_S)
            if not chunk:
                # A Zebra is silent while paper is out or the head is open.
                raise PrinterFault(f"{self.uri}: no status answer (paper out, head open, "
                                   f"or not a {self.lang.name} printer?)", "no_answer")
            received += chunk
            try:
                problems = self.lang.parse_status(received)
            except NotAStatus as exc:
                raise PrinterFault(f"{self.uri}: {exc}", "no_answer") from None
            if problems is not None:
                return problems

    def status(self) -> list[Problem]:
        """The printer's problems now ([] = ready). Raises PrinterFault if unreachable."""
        transport = self.connect(self.uri)
        try:
            return self._problems(transport)
        except OSError as exc:
            raise PrinterFault(f"{self.uri}: {exc}", "no_answer") from exc
        finally:
            transport.close()

    def print(self, job: LabelJob) -> None:
        transport = self.connect(self.uri)
        try:
            problems = self._problems(transport)
            if problems:
                raise PrinterFault(describe(problems), first_kind(problems))
            transport.write(self.lang.render(job, self.size))
        except OSError as exc:
            raise PrinterFault(f"{self.uri}: {exc}", "no_answer") from exc
        finally:
            transport.close()
