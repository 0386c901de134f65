"""Label previews: the PNG shows the same layout and a barcode that reads back."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from drivers.labels import LabelJob
from drivers.printer.layout import BARCODE_H, MARGIN, LabelSize
from drivers.printer.png import MODULE, code128_modules, render
from drivers.printer.sim import PrinterSim
from station.cli import main
from station.codes import COMMANDS
from station.labels import COMMAND_SHEET

START_B = "11010010000"   # Code 128 start code B
STOP = "1100011101011"    # Code 128 stop pattern


def bars(image: Image.Image, count: int) -> str:
    y = MARGIN + BARCODE_H // 2
    return "".join("1" if image.getpixel((MARGIN + i * MODULE, y)) == 0 else "0"
                   for i in range(count))


def test_the_drawn_barcode_reads_back_as_code_128_of_the_tube_id() -> None:
    (image,) = render(LabelJob("tube", "L1T000001", ("site/L1", "11-22 08:00")), LabelSize())
    assert image.size == (320, 240)  # 40 × 30 mm at 203 dpi
    modules = code128_modules("L1T000001")
    assert modules.startswith(START_B) and modules.endswith(STOP)
    assert bars(image, len(modules)) == modules
    assert image.getpixel((MARGIN + len(modules) * MODULE + 4, MARGIN + 10)) == 1  # quiet


def test_a_long_slip_renders_as_several_labels_with_text(tmp_path: Path) -> None:
    job = LabelJob("handover", "L1B00001", tuple(f"L1T{n:06d}" for n in range(12)))
    images = render(job, LabelSize())
    assert len(images) >= 2
    assert all(img.getbbox() is not None for img in images)  # every page has ink


def test_preview_cli_writes_pngs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["label", "preview", "single", "--out", str(tmp_path)]) == 0
    (path,) = capsys.readouterr().out.split()
    assert Path(path).is_file() and Image.open(path).size == (320, 240)


def test_the_command_sheet_prints_on_the_configured_printer(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    printer = PrinterSim(language="tspl")
    try:
        config = tmp_path / "station.toml"
        config.write_text(f'[station]\nid = "L1"\nsite = "s"\n'
                          f'[printer]\ndriver = "tspl"\nuri = "{printer.uri}"\n')
        assert main(["label", "print", "commands", "--config", str(config)]) == 0
        assert printer.wait_printed(len(COMMAND_SHEET))
        assert [p.barcode for p in printer.printed] == [code for code, _ in COMMAND_SHEET]
        assert [code for code, _ in COMMAND_SHEET] == [f"CMD:{c}" for c in COMMANDS]  # all, once
        assert printer.printed[0].lines == ("封管 提前封闭当前试管",)
    finally:
        printer.close()
