"""`natest-central report`: what a district asks of the collected events.

`run` makes the report of a period and writes it: as CSV text, or to a file as CSV or a
plain xlsx (files.py), or in its printed form (printed.py). Which reports there are, and
their columns, are in catalogue.py; `BUILT` (builders.py) makes each one's rows from a
`Day` (day.py): the period's events opened (opening_pool.unsealed), then folded station
by station (projection.py), each station's rows made by rows.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from central.errors import Usage
from central.reports import chinese
from central.reports.builders import BUILT
from central.reports.catalogue import REPORTS, Report, ReportName
from central.reports.custody import Rules
from central.reports.day import Asked, Chunks, Day
from central.reports.files import to_csv, to_xlsx, write_csv
from central.reports.followup import Bounds
from central.reports.opening import Persons
from central.reports.period import Period, period
from central.reports.printed import printed
from central.reports.progress import Progress
from central.reports.roster_fill import filled
from central.reports.sites import Sites, read_sites
from central.site_facts import ZONE, time_zone
from central.store.event_store import SqlEventStore

# Its callers' names: `run`, and `BUILT`, each report the catalogue declares, made
# (tests/central/test_catalogue.py holds the two to each other).
__all__ = ["BUILT", "run"]

log = logging.getLogger("central.reports")


def run(name: ReportName, db: str, output: Path | None, roster: Path | None, *,
        fmt: str = "csv", columns: str = "zh", tz: str = ZONE,
        site: str = "", span: Period | None = None, progress: Progress | None = None,
        rules: Rules | None = None, box: str = "", persons: Persons | None = None,
        mark: bool = True, encoding: str = "", bounds: Bounds | None = None,
        metrics_file: Path | None = None, sites: Path | None = None) -> str:
    """The report of a period (`span`, default today in `tz`) as CSV text; or, given
    `output`, written there (mode 0600) as CSV or xlsx, station by station as the events
    stream in, and "" returned: a city's register is never held whole. `columns`: "zh",
    as a district office reads it (chinese.py), or "en", the machine form. `mark`:
    positives marks the results it lists as recalled (the store changes: the collector's
    natest_recall_waiting falls), unless told not to. `roster` (its CSV `encoding`, or
    told by its bytes): missing's list; positives', results' and resample's phones.
    `bounds`: followup's time and limits; `metrics_file`: its figures for Prometheus;
    `sites`: the sites file (sites.py) a report that groups by site rolls up by."""
    from central.store.open import open_store  # noqa: PLC0415

    report = REPORTS[name]
    roster_taken(report, roster)
    ask = Asked(name, site, span or period(None, None, None, time_zone(tz)), roster,
                time_zone(tz) if columns == "zh" and report.columns else None,
                progress or Progress(name, live=False), rules or Rules(dt.datetime.now(dt.UTC)),
                columns, box, persons or Persons(needed=report.opens), encoding=encoding,
                bounds=bounds or Bounds(), metrics_file=metrics_file,
                sites=sites_of(report, sites))
    store = open_store(db)
    try:   # open while the rows are written: the events stream from it
        fields, chunks = rows_of(ask, store)
        written = [0]
        chunks = counted_rows(chunks, written)
        if output is None:
            text = to_csv([row for chunk in chunks for row in chunk], fields)
        else:
            output.touch(mode=0o600)  # names and ID numbers: the clerk's alone
            if fmt == "csv":
                write_csv(chunks, fields, name, output)
            elif ask.columns == "en":     # the machine form: a plain sheet
                to_xlsx(chunks, fields, name, output)
            else:
                printed(ask, chunks, fields, output, fmt)
            text = ""
        if ask.recalled and mark:   # listed, so no longer waiting for a recall list
            mark_listed(ask, store)
        ask.progress.done(written[0])
        return text
    except Exception as exc:   # a report cut short (no key, say): its event streams are
        traceback.clear_frames(exc.__traceback__)   # closed while the store is open
        raise
    finally:
        store.close()


def mark_listed(ask: Asked, store: SqlEventStore) -> None:
    """Mark the listed results as recalled, only if the list names everyone in them: a
    person not opened (未能解密) cannot be called, and a marked result no longer counts
    in natest_recall_waiting, so the alert would fall silent over them."""
    persons = ask.persons
    if persons.errors or persons.not_held:
        log.warning("marked none of the %d results as recalled: %d persons on the list were "
                    "not opened (未能解密), so not everyone can be called; make it again "
                    "with every key", len(ask.recalled),
                    len(persons.errors) + sum(persons.not_held.values()))
        return
    store.mark_recalled(ask.recalled, dt.datetime.now(dt.UTC))
    log.info("marked %d results as listed by a recall list (--no-mark: none)",
             len(ask.recalled))


def roster_taken(report: Report, roster: Path | None) -> None:
    """--roster where the report reads it, and only there."""
    if report.roster and roster is None:
        raise ValueError(f"{report.name} needs --roster FILE (the roster: xlsx or CSV with "
                         "a column 身份证号 or 证件号码)")
    if roster is not None and not (report.roster or report.fills or report.links):
        takes = ", ".join(n for n, r in REPORTS.items()
                          if r.roster or r.fills or r.links)
        raise Usage(f"--roster: for {takes}, not {report.name}")


def sites_of(report: Report, sites: Path | None) -> Sites:
    """--sites, read whole before a row is written, where the report groups by site."""
    if sites is None:
        return Sites()
    if not report.sites:
        takes = ", ".join(n for n, r in REPORTS.items() if r.sites)
        raise Usage(f"--sites: for {takes}, not {report.name}")
    return read_sites(sites)


def rows_of(ask: Asked, store: SqlEventStore) -> tuple[list[str], Chunks]:
    """The report's header and its rows, chunk by chunk."""
    report = ask.report
    machine = BUILT[ask.name](ask, Day(ask, store))
    if report.fills and ask.roster is not None:   # read before a row is written
        machine = filled(machine, ask.roster, ask.encoding)
    if not report.columns:   # the roster's own columns (missing), the usual ones in Chinese
        rows = [row for chunk in machine for row in chunk]
        if ask.columns == "zh":
            rows = [chinese.roster_row(row) for row in rows]
        return (list(rows[0]) if rows else []), [rows]
    zone = ask.zone
    if zone is None:
        return report.keys, machine
    return report.headers, (chinese.rows(report.columns, chunk, zone)[0] for chunk in machine)


def counted_rows(chunks: Iterable[list[dict[str, Any]]], written: list[int]) -> Iterator[
        list[dict[str, Any]]]:
    for chunk in chunks:
        written[0] += len(chunk)
        yield chunk
