"""Labels a lab can scan, proven with zbar, a decoder nobody here wrote.

Every preview decodes to exactly its text; ids of every length a config allows, at both
resolutions and on three label sizes, either scan or are refused by check-config; and
the TSPL and ZPL streams put the barcode where the preview does.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from drivers.printer import code128, tspl, zpl
from drivers.printer.job import LabelJob
from drivers.printer.layout import BARCODE_H, MARGIN, BarcodeTooWide, LabelSize, place_barcode
from drivers.printer.png import render, save
from drivers.printer.sim import PrinterSim
from station.cli import main
from station.config import ConfigError
from station.core import minting
from station.core.codes import COMMANDS
from station.core.labels import COMMAND_SHEET
from tests.central_keys import parse, with_key

needs_zbar = pytest.mark.skipif(shutil.which("zbarimg") is None,
                                reason="zbarimg not installed (Debian: zbar-tools)")


def zbar(path: Path) -> list[str]:
    """What zbar reads in an image: every barcode's text."""
    out = subprocess.run(["zbarimg", "--quiet", "--raw", str(path)], capture_output=True,
                         text=True, check=False)
    return out.stdout.splitlines()


def test_the_drawn_bars_are_the_code_128_modules_at_their_placement() -> None:
    size = LabelSize()
    (image,) = render(LabelJob("tube", "L1T000001", ("site/L1", "11-22 08:00")), size)
    assert image.size == (320, 240)  # 40 × 30 mm at 203 dpi
    at = place_barcode("L1T000001", size)
    y = MARGIN + BARCODE_H // 2
    drawn = "".join("1" if image.getpixel((at.x + i * at.module, y)) == 0 else "0"
                    for i in range(at.modules))
    assert drawn == code128.modules("L1T000001")
    quiet = code128.QUIET_ZONE * at.module
    for x in (*range(at.x - quiet, at.x), *range(at.x + at.width, at.x + at.width + quiet)):
        assert image.getpixel((x, y)) == 1  # white on both sides


def test_code_128_takes_digit_runs_two_at_a_time() -> None:
    assert code128.width("lane-01T000001") == 167          # DOMAIN.md's figure
    assert code128.width("110101000001") == 11 * 8 + 13    # start C, 6 pairs, check, stop
    assert code128.width("1101019") < code128.width("lane-01")


def test_a_long_slip_renders_as_several_labels_with_text(tmp_path: Path) -> None:
    job = LabelJob("handover", "L1B00001", tuple(f"L1T{n:06d}" for n in range(12)))
    images = render(job, LabelSize())
    assert len(images) >= 2
    assert all(img.getbbox() is not None for img in images)  # every page has ink


def test_preview_cli_writes_pngs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["label", "preview", "single", "--out", str(tmp_path)]) == 0
    (path,) = capsys.readouterr().out.split()
    assert Path(path).is_file() and Image.open(path).size == (320, 240)


@needs_zbar
@pytest.mark.parametrize("kind", ["tube", "single", "handover", "commands"])
def test_every_preview_decodes_to_its_text(kind: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "station.toml"
    config.write_text(with_key('[station]\nid = "lane-01"\nsite = "site-001"\n'
                               'tube_prefix = "110101"\ntubes = "print"\npool_size = 1\n'))
    assert main(["label", "preview", kind, "--config", str(config),
                 "--out", str(tmp_path / "out")]) == 0
    paths = [Path(p) for p in capsys.readouterr().out.split()]
    read = [zbar(p) for p in paths]
    expected = {"tube": [["110101999999"]], "single": [["110101999999"]],
                "handover": [["110101B99999"]] + [[]] * (len(paths) - 1),
                "commands": [[code] for code, _ in COMMAND_SHEET]}[kind]
    assert read == expected


def readme_fits() -> dict[int, tuple[set[int], set[int]]]:
    """The README's "what fits" table: label width → (tube, box) prefix lengths that fit."""
    text = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    rows = re.findall(r"^\| (\d+) mm \| (.+?) \| (.+?) \|$", text, re.M)
    assert len(rows) == 3, "the README's label-width table is gone or changed shape"

    def lengths(cell: str) -> set[int]:
        if cell.startswith("none"):
            return set()
        cell = re.sub(r"\bor\b", ",", cell)
        return {n for a, b in re.findall(r"(\d+)(?:–(\d+))?", cell)
                for n in range(int(a), int(b or a) + 1)}

    return {int(w): (lengths(tube), lengths(box)) for w, tube, box in rows}


FITS = readme_fits()
# Every prefix length the config allows, at both resolutions, on three label sizes.
CASES = [(prefix_len, dpi, width, height) for prefix_len in range(2, 13)
         for dpi in (203, 300) for width, height in ((40, 30), (50, 30), (30, 20))]


def fits(barcode: str, size: LabelSize) -> bool:
    try:
        place_barcode(barcode, size)
    except BarcodeTooWide:
        return False
    return True


@needs_zbar
@pytest.mark.parametrize(("prefix_len", "dpi", "width", "height"), CASES)
def test_an_id_of_any_allowed_length_scans_or_the_config_is_refused_as_the_readme_says(
        prefix_len: int, dpi: int, width: int, height: int, tmp_path: Path) -> None:
    prefix = "1234567890ab"[:prefix_len].replace("a", "1").replace("b", "2")
    text = (f'[station]\nid = "L1"\nsite = "s"\ntubes = "print"\ntube_prefix = "{prefix}"\n'
            'tube_pattern = "[0-9]{8,18}"\n'
            f'[printer]\nwidth_mm = {width}\nheight_mm = {height}\ndpi = {dpi}\n')
    size = LabelSize(width, height, 2, dpi)
    tube, box = minting.longest_tube_id(prefix), minting.longest_box_id(prefix, "L1")
    tube_fits, box_fits = FITS[width]
    assert fits(tube, size) == (prefix_len in tube_fits)      # the README's table, as is
    assert fits(box, size) == (prefix_len in box_fits)
    if prefix_len in tube_fits and prefix_len in box_fits:
        parse(text, "x.toml")                                  # accepted: and both scan
        for barcode in (tube, box):
            (path,) = save(LabelJob("tube", barcode, ("site/L1",)), size, tmp_path, barcode)
            assert zbar(path) == [barcode]
            assert_streams_match_the_preview(barcode, size)
    else:
        with pytest.raises(ConfigError) as refused:
            parse(text, "x.toml")
        problem = refused.value.problems[0]
        assert "[printer] width_mm:" in problem and "dots wide" in problem


def assert_streams_match_the_preview(barcode: str, size: LabelSize) -> None:
    """TSPL's BARCODE and ZPL's ^BY/^FO put the bars where the preview draws them, inside
    the label with both quiet zones."""
    at = place_barcode(barcode, size)
    job = LabelJob("tube", barcode, ())
    tspl_line = re.search(rb'BARCODE (\d+),\d+,"128",\d+,1,0,(\d+),(\d+),', tspl.render(job, size))
    zpl_line = re.search(rb"\^BY(\d+)\^FO(\d+),", zpl.render(job, size))
    assert tspl_line is not None and zpl_line is not None
    assert (int(tspl_line[1]), int(tspl_line[2]), int(tspl_line[3])) == (at.x, at.module,
                                                                        at.module)
    assert (int(zpl_line[2]), int(zpl_line[1])) == (at.x, at.module)
    quiet = code128.QUIET_ZONE * at.module
    assert at.x >= quiet and at.x + at.width + quiet <= size.width
    assert at.module >= size.narrowest


@pytest.fixture
def tspl_printer() -> Iterator[PrinterSim]:
    printer = PrinterSim(language="tspl")
    yield printer
    printer.close()


def print_commands(printer: PrinterSim, tmp_path: Path, width_mm: int) -> int:
    """`station label print commands` on this printer, loaded with labels this wide."""
    config = tmp_path / "station.toml"
    config.write_text(with_key(f'[station]\nid = "L1"\nsite = "s"\n[printer]\n'
                               f'driver = "tspl"\nuri = "{printer.uri}"\nwidth_mm = {width_mm}\n'))
    return main(["label", "print", "commands", "--config", str(config)])


def test_the_command_sheet_prints_on_a_label_wide_enough(
        tmp_path: Path, tspl_printer: PrinterSim) -> None:
    assert print_commands(tspl_printer, tmp_path, 50) == 0
    assert tspl_printer.wait_printed(len(COMMAND_SHEET))
    assert [p.barcode for p in tspl_printer.printed] == [code for code, _ in COMMAND_SHEET]
    assert [code for code, _ in COMMAND_SHEET] == [f"CMD:{c}" for c in COMMANDS]  # all, once
    assert tspl_printer.printed[0].lines == ("封管 提前封闭当前试管",)


def test_the_command_sheet_is_refused_on_a_label_too_narrow(
        tmp_path: Path, tspl_printer: PrinterSim, capsys: pytest.CaptureFixture[str]) -> None:
    assert print_commands(tspl_printer, tmp_path, 40) == 1
    err = capsys.readouterr().err
    assert "need 44 mm labels at 203 dpi, the printer has 40 mm" in err
    assert "label preview commands" in err
    assert tspl_printer.printed == []


# --- paper information cards (核酸采集信息卡) -------------------------------------------

@needs_zbar
def test_information_cards_and_their_a4_sheets_decode_to_their_serials(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "forms"
    assert main(["label", "preview", "form", "--from", "7", "--count", "40",
                 "--out", str(out)]) == 0
    serials = [f"FORM-{n:06d}" for n in range(7, 47)]
    for serial in serials:
        assert zbar(out / f"{serial.lower()}-1.png") == [serial]
    pages = sorted(out.glob("form-sheet-*.png"))
    assert len(pages) == 2            # 32 cards of 40 × 30 mm to an A4 page
    found = [code for page in pages for code in zbar(page)]
    assert sorted(found) == serials
    assert (out / "form-sheet.pdf").read_bytes().startswith(b"%PDF")
    with Image.open(pages[0]) as page:
        assert page.size == (210 * 8, 297 * 8)   # A4 at the labels' 203 dpi
    assert str(out / "form-sheet.pdf") in capsys.readouterr().out


def test_cards_the_station_would_not_read_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "station.toml"
    config.write_text(with_key('[station]\nid = "L1"\nsite = "S"\n'
                               'form_pattern = "CARD-[0-9]{8}"\n'
                               '[mqtt]\nurl = "mqtt://127.0.0.1:1883"\n'))
    assert main(["label", "preview", "form", "--config", str(config), "--out",
                 str(tmp_path / "x")]) == 2
    assert "form_pattern" in capsys.readouterr().err
    assert main(["label", "preview", "form", "--from", "999999", "--count", "2", "--out",
                 str(tmp_path / "x")]) == 2
