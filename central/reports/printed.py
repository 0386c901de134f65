"""A report's printed form: the Chinese report laid out for A4 with the facts of its
header (sites, period, box, when it was made), as an xlsx or printed from it to PDF
(sheets.py lays it out)."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from central.reports import chinese
from central.reports.day import Asked
from central.reports.sheets import Layout, to_pdf, write_printable


def printed(ask: Asked, chunks: Iterable[list[dict[str, Any]]], fields: list[str],
            output: Path, fmt: str) -> None:
    """The Chinese report laid out for A4 (xlsx), or printed from that layout (pdf)."""
    made = dt.datetime.now(dt.UTC).astimezone(ask.span.zone).strftime("%Y-%m-%d %H:%M")

    def facts() -> list[str]:   # after the first rows: the sites they came from
        seen = sorted(ask.signers.sites)
        sites = ask.site or ("、".join(seen) if 0 < len(seen) <= SITES_NAMED else "全部")
        return [f"采样点：{sites}", f"日期：{ask.span}",
                *([f"转运箱：{ask.box}"] if ask.box else []), f"制表时间：{made}"]

    if ask.name == "brief":   # a page a level (brief_sheets.py)
        from central.reports.brief_sheets import write_brief  # noqa: PLC0415

        at = ask.rules.at.astimezone(ask.span.zone).strftime("%Y-%m-%d %H:%M")
        write_brief((row for chunk in chunks for row in chunk),
                    [f"截至：{at}", f"本轮：{ask.span.first} 起", f"制表时间：{made}"],
                    output, fmt)
        return
    report = ask.report
    layout = Layout(report.title, facts,
                    tube_column=report.header_of("tube") if report.tubes else None,
                    box_column=report.header_of("box") if report.boxes else None,
                    footer=ask.signers.lines if report.signed else list,
                    couriers=ask.signers.couriers,
                    times=frozenset(header for key, header in report.columns
                                    if key in chinese.TIMES),
                    titled=frozenset({"采样点"}), blank=frozenset({"社区", "街道", "区"}),
                    fixed=frozenset({*(["采样点"] if ask.site else []),
                                     *(["转运箱"] if ask.box else [])}))
    if fmt == "xlsx":
        write_printable(chunks, fields, layout, output)
        return
    with tempfile.TemporaryDirectory(prefix="natest-report-") as tmp:
        sheet = Path(tmp) / f"{report.title}.xlsx"
        write_printable(chunks, fields, layout, sheet)
        to_pdf(sheet, output)


SITES_NAMED = 3   # a title names up to this many sites; more is a district's 全部
