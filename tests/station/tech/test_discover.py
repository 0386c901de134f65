"""`station devices`: real probes against the emulators, and a config that checks out."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.printer.sim import PrinterSim
from drivers.sam.sim import SamSimulator
from station.cli import main
from tests.central_keys import parse


def test_probes_a_sam_reader_and_a_printer_and_prints_a_valid_config(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sam, printer = SamSimulator(), PrinterSim(language="zpl")
    try:
        assert main(["devices", "--sam", sam.port, "--printer", printer.uri,
                     "--language", "zpl"]) == 0
        out = capsys.readouterr().out
        assert f"SAM reader on {sam.port}: yes, SAM id 0501" in out
        assert f"ZPL printer at {printer.uri}: ready" in out
        snippet = out.split("check it with station check-config):\n", 1)[1].split("\n\n")[0]
        config = parse('[station]\nid = "L1"\nsite = "s"\n' + snippet, "snippet")
        assert config.card_reader.port == sam.port and config.printer.driver == "zpl"
        printer.head_open = True                       # a Zebra then says nothing
        assert main(["devices", "--printer", printer.uri, "--language", "zpl"]) == 0
        assert "not ready: " in capsys.readouterr().out
    finally:
        sam.close()
        printer.close()


def test_a_port_without_a_reader_is_a_clear_no(capsys: pytest.CaptureFixture[str]) -> None:
    sam = SamSimulator()
    sam.close()   # the pty exists no more
    assert main(["devices", "--sam", sam.port]) == 0
    assert f"SAM reader on {sam.port}: no (" in capsys.readouterr().out
