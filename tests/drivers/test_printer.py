"""Label printers: byte-exact TSPL and ZPL, status parsing, printing over TCP to a sim."""

from __future__ import annotations

import os
import re
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.printer import tspl, zpl
from drivers.printer.job import LabelJob, PrinterFault
from drivers.printer.layout import LabelSize, pages
from drivers.printer.printer import LabelPrinter, language
from drivers.printer.sim import Printed, PrinterSim
from drivers.printer.status import NotAStatus, Problem, first_kind
from drivers.printer.transport import open_transport
from drivers.printer.uri import check_uri

TUBE = LabelJob("tube", "L1T000001",
                ("L1T000001", "西城/L1", "11-22 08:00", "张*丰 1101**********002X"))


def test_tspl_tube_label_is_byte_exact() -> None:
    expected = (
        'SIZE 40 mm,30 mm\r\nGAP 2 mm,0 mm\r\nDIRECTION 1\r\nCLS\r\n'
        # 112 modules (start B, L 1 T, CODE C, 00 00 01, check, stop) at 2 dots,
        # centred: (320 - 224) / 2 = 48, leaving 24 modules of quiet zone each side.
        'BARCODE 48,16,"128",64,1,0,2,2,"L1T000001"\r\n'
        'TEXT 16,112,"TSS24.BF2",0,1,1,"L1T000001"\r\n'
        'TEXT 16,140,"TSS24.BF2",0,1,1,"西城/L1"\r\n'
        'TEXT 16,168,"TSS24.BF2",0,1,1,"11-22 08:00"\r\n'
        'TEXT 16,196,"TSS24.BF2",0,1,1,"张*丰 1101**********002X"\r\n'
        'PRINT 1,1\r\n').encode("gb18030")
    assert tspl.render(TUBE, LabelSize()) == expected
    assert "张*丰".encode("gbk") in expected  # GBK bytes for the built-in font


def test_tspl_escapes_quotes() -> None:
    out = tspl.render(LabelJob("x", "", ('say "hi"',)), LabelSize())
    assert b'"say \\["]hi\\["]"' in out


def test_zpl_tube_label_is_byte_exact() -> None:
    expected = ("^XA\n^CI28\n^PW320\n^LL240\n"
                "^BY2^FO48,16^BCN,64,Y,N,N,A^FH\\^FDL1T000001^FS\n"
                "^FO16,112^A@N,24,24,E:SIMSUN.TTF^FH\\^FDL1T000001^FS\n"
                "^FO16,140^A@N,24,24,E:SIMSUN.TTF^FH\\^FD西城/L1^FS\n"
                "^FO16,168^A@N,24,24,E:SIMSUN.TTF^FH\\^FD11-22 08:00^FS\n"
                "^FO16,196^A@N,24,24,E:SIMSUN.TTF^FH\\^FD张*丰 1101**********002X^FS\n"
                "^XZ").encode()
    assert zpl.render(TUBE, LabelSize(), font="E:SIMSUN.TTF") == expected


def test_zpl_field_data_cannot_inject_commands() -> None:
    out = zpl.render(LabelJob("x", "", ("a^XZ~JR\\b",)), LabelSize())
    assert b"a\\5EXZ\\7EJR\\5Cb" in out and out.count(b"^XZ") == 1


@pytest.mark.parametrize(("byte", "problems"), [
    (0x00, []), (0x20, []), (0x04, [("paper_out", "out of paper")]),
    (0x01, [("head_open", "head open")]), (0x02, [("paper_jam", "paper jam")]),
    (0x08, [("ribbon_out", "out of ribbon")]),
    (0x45, [("head_open", "head open"), ("paper_out", "out of paper"),
            ("head_open", "cover open")]),
    (0x80, [("other", "printer error")]), (0x10, [("other", "paused")]),
])
def test_tspl_status(byte: int, problems: list[tuple[str, str]]) -> None:
    assert tspl.parse_status(bytes([byte])) == [Problem(k, d) for k, d in problems]  # type: ignore[arg-type]
    assert tspl.parse_status(b"") is None


@pytest.mark.parametrize(("kinds", "said"), [
    (["paper_out", "head_open"], "head_open"), (["other", "paper_jam"], "paper_jam"),
    (["ribbon_out"], "ribbon_out"), ([], "other")])
def test_several_problems_tell_the_operator_the_first_to_fix(kinds: list[str],
                                                             said: str) -> None:
    assert first_kind([Problem(k, k) for k in kinds]) == said  # type: ignore[arg-type]


def test_zpl_status() -> None:
    ok = (b"\x02030,0,0,0240,000,0,0,0,000,0,0,0\x03\r\n"
          b"\x02001,0,0,0,1,2,6,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n")
    assert zpl.parse_status(ok) == []
    assert zpl.parse_status(ok[:40]) is None  # not all three strings yet
    bad = ok.replace(b"030,0,0,", b"030,1,1,").replace(b"001,0,0,0", b"001,0,1,1")
    assert zpl.parse_status(bad) == [
        Problem("paper_out", "out of paper"), Problem("other", "paused"),
        Problem("head_open", "head open"), Problem("ribbon_out", "out of ribbon")]


def test_long_slips_flow_onto_more_labels() -> None:
    slip = LabelJob("handover", "L1B00001", tuple(f"line {n}" for n in range(12)))
    laid = pages(slip, LabelSize())
    assert laid[0].barcode == "L1B00001" and all(not p.barcode for p in laid[1:])
    assert [t for p in laid for _, t in p.lines] == list(slip.lines)
    assert all(y + 24 <= 240 for p in laid for y, _ in p.lines)


def test_printer_uri_check() -> None:
    assert check_uri("tcp://10.0.0.5:9100") is None
    assert check_uri("file:///dev/usb/lp0") is None
    assert check_uri("serial:///dev/ttyUSB1?baud=9600") is None
    assert check_uri("spy:///dev/ttyUSB1?file=printer.txt") is None
    assert "not allowed" in str(check_uri("lpt1"))


@pytest.fixture(params=["tspl", "zpl"])
def sim(request: pytest.FixtureRequest) -> Iterator[PrinterSim]:
    printer = PrinterSim(language=request.param)
    yield printer
    printer.close()


def test_prints_over_tcp_with_chinese_intact(sim: PrinterSim) -> None:
    printer = LabelPrinter(language(sim.language), sim.uri, LabelSize())
    assert printer.status() == []
    printer.print(TUBE)
    assert sim.wait_printed(1)
    assert sim.printed == [Printed("L1T000001", TUBE.lines)]


def test_prints_through_pyserials_url_opener(sim: PrinterSim) -> None:
    """socket:// is pyserial's own TCP client: the serial transport, end to end."""
    url = sim.uri.replace("tcp://", "socket://")
    printer = LabelPrinter(language(sim.language), url, LabelSize())
    assert printer.status() == []
    printer.print(TUBE)
    assert sim.wait_printed(1)
    assert sim.printed == [Printed("L1T000001", TUBE.lines)]


def test_a_spy_url_records_what_the_printer_is_sent(tmp_path: Path) -> None:
    """Field debugging: spy:// wraps the printer's serial port and logs every byte."""
    master, slave = os.openpty()
    tty.setraw(slave)
    log = tmp_path / "spy.txt"
    transport = open_transport(f"spy://{os.ttyname(slave)}?file={log}")
    try:
        transport.write(b"CLS\r\nPRINT 1,1\r\n")
        assert os.read(master, 100) == b"CLS\r\nPRINT 1,1\r\n"
    finally:
        transport.close()
        os.close(master)
        os.close(slave)
    assert "PRINT 1,1" in log.read_text()


def test_paper_out_refuses_the_job_and_loses_nothing(sim: PrinterSim) -> None:
    printer = LabelPrinter(language(sim.language), sim.uri, LabelSize())
    sim.paper_out = True
    with pytest.raises(PrinterFault) as fault:
        printer.print(TUBE)
    # A TSPL printer says so in its status byte; a Zebra out of paper does not answer
    # ~HS at all, which is a fault of its own kind: it cannot tell which.
    if sim.language == "tspl":
        assert fault.value.kind == "paper_out" and "out of paper" in str(fault.value)
    else:
        assert fault.value.kind == "no_answer" and "no status answer" in str(fault.value)
    assert sim.printed == [] and sim.lost == []
    sim.paper_out = False
    printer.print(TUBE)
    assert sim.wait_printed(1)


def test_a_printer_that_is_gone_is_a_fault_naming_it() -> None:
    gone = PrinterSim()
    uri = gone.uri
    gone.close()
    with pytest.raises(PrinterFault, match=re.escape(uri)) as fault:
        LabelPrinter(language("tspl"), uri, LabelSize()).print(TUBE)
    assert fault.value.kind == "no_answer"


def test_an_answer_that_is_no_status_is_named_not_read_as_faults() -> None:
    """An HTTP server's bytes on a printer's port are no paper jam (#42)."""
    web = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
    for parse, expected in ((tspl.parse_status, "TSPL"), (zpl.parse_status, "~HS")):
        with pytest.raises(NotAStatus, match=rf"an HTTP server answered \('HTTP/1.1 400 Bad "
                                             rf"Request'\), not .*{expected}"):
            parse(web)
