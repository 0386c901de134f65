"""`natest-central report`: what a district asks of the collected events.

register  one row per registration, cancelled and voided ones shown as such (核酸混采登记表)
totals    per site, station and hour: people, tubes, boxes
reconcile each box against the register, open tubes, missing seq ranges, and tube or box
          ids that arrived from more than one station (a lab keys on them: a collision
          means two sites share a tube_prefix, or a preprinted batch was duplicated)
missing   roster entries with no valid registration: the re-sampling list (待补采), and
          the roster's rows whose ID number cannot be anyone's (名单有误; roster.py)
positives, results, resample (recall.py): who to call; --roster fills their phones

Which reports there are, and their columns, are in catalogue.py; BUILT makes each one's
rows from a `Day`: the period's events opened (opening_pool.unsealed), then folded
station by station (projection.py).

CSV and a plain xlsx are written by files.py, the printed layout by sheets.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from central.errors import Usage
from central.reports import chinese
from central.reports.catalogue import REPORTS, Report, ReportName
from central.reports.custody import Rules, custody_rows
from central.reports.files import to_csv, to_xlsx, write_csv
from central.reports.opening import Persons
from central.reports.opening_pool import unsealed
from central.reports.period import Period, period
from central.reports.progress import Progress
from central.reports.projection import (
    Projection,
    Registration,
    Station,
    by_station,
    collisions,
    per_station,
)
from central.reports.recall import positives, resample_rows, results_rows
from central.reports.roster import not_sampled
from central.reports.roster_fill import filled
from central.reports.sheets import Layout, Signers, to_pdf, write_printable
from central.site_facts import ZONE, time_zone
from central.store.event_store import SqlEventStore

log = logging.getLogger("central.reports")

def register(p: Projection) -> list[dict[str, Any]]:
    """A row per registration, in the order they happened, with its tube's valid count and
    sealing time (empty while open)."""
    valid: Counter[tuple[str, str, str]] = Counter(
        (r.site, r.station, r.tube) for r in p.registrations if r.status == "registered")
    # Where each tube sits in its box, as the box's handover slip lists them; its courier.
    packed = {tube: (n, box.get("courier", "")) for box in p.boxes
              for n, tube in enumerate(box["tubes"])}
    return [{**asdict(r), "tube_count": valid[(r.site, r.station, r.tube)],
             "sealed_at": p.sealed.get((r.site, r.station, r.tube), ""),
             "in_box": packed.get(r.tube, (0, ""))[0],
             "courier": packed.get(r.tube, (0, ""))[1] if r.box else ""}
            for r in p.registrations]


def by_tube(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The register grouped as on paper: box by box (those not yet boxed last), tube by
    tube in the order of the box's handover slip, position by position."""
    return sorted(rows, key=lambda r: (r["site"], r["station"], r["box"] == "", r["box"],
                                       r.get("in_box", 0), r["tube"], r["position"]))


def utc_hour(ts: str) -> str:
    return ts[:13] + ":00Z"


def totals(p: Projection, hour: Callable[[str], str] = utc_hour) -> list[dict[str, Any]]:
    """Per site, station and hour (`hour` turns a ts into its hour: UTC, or local)."""
    people: Counter[tuple[str, str, str]] = Counter(
        (r.site, r.station, hour(r.time)) for r in p.registrations if r.status == "registered")
    tubes: Counter[tuple[str, str, str]] = Counter(
        (site, station, hour(ts)) for (site, station, _), ts in p.sealed.items()
        if p.counts(ts))
    boxes: Counter[tuple[str, str, str]] = Counter(
        (b["site"], b["station"], hour(b["ts"])) for b in p.boxes)
    keys = sorted(set(people) | set(tubes) | set(boxes))
    return [{"site": s, "station": st, "hour": h, "people": people[(s, st, h)],
             "tubes": tubes[(s, st, h)], "boxes": boxes[(s, st, h)]} for s, st, h in keys]


def reconcile(p: Projection) -> list[dict[str, Any]]:
    valid: Counter[tuple[str, str, str]] = Counter(
        (r.site, r.station, r.box) for r in p.registrations if r.status == "registered")
    forms: Counter[tuple[str, str, str]] = Counter(
        (r.site, r.station, r.box) for r in p.registrations
        if r.status == "registered" and r.form)
    awaiting: Counter[tuple[str, str, str]] = Counter(
        (r.site, r.station, r.box) for r in p.registrations
        if r.status == "registered" and r.form and not r.typed)
    rows = []
    for box in p.boxes:
        key = (box["site"], box["station"], box["box"])
        counted = valid[key]
        problems: list[tuple[str, Any, Any]] = []
        if box["tube_count"] != len(box["tubes"]):
            problems.append(("tube_count", box["tube_count"], len(box["tubes"])))
        if box["sample_count"] != counted:
            problems.append(("sample_count", box["sample_count"], counted))
        rows.append(finding(box["site"], box["station"], "box", box["box"],
                            problems or [("matches", None, None)], box["tube_count"],
                            box["sample_count"], counted, forms[key], awaiting[key]))
    # Each tube's paper cards: the stubs a site bundles with the tube are counted by it.
    cards: dict[tuple[str, str, str], list[Registration]] = defaultdict(list)
    for r in p.registrations:
        if r.status == "registered" and r.form:
            cards[(r.site, r.station, r.tube)].append(r)
    for (s, st, t), held in sorted(cards.items()):
        waiting = sum(not r.typed for r in held)
        rows.append(finding(s, st, "tube", t, [("cards", len(held), waiting)], "", "",
                            "", len(held), waiting))
    rows += [finding(s, st, "tube", t, [("open", None, None)]) for s, st, t in p.open_tubes]
    rows += [finding(s, st, "seq", f"{a}-{b}", [("missing", None, None)])
             for s, st, a, b in p.gaps]
    rows += [finding("; ".join(s for s, _ in stations), "; ".join(st for _, st in stations),
                     kind, name, [("collision", kind, len(stations))])
             for kind, name, stations in p.collisions]
    return rows


RESULTS_EN: dict[str, Callable[[Any, Any], str]] = {
    "matches": lambda a, b: "matches",
    "tube_count": lambda a, b: f"tube_count {a} but {b} tubes listed",
    "sample_count": lambda a, b: f"sample_count {a} but {b} in the register",
    "open": lambda a, b: "open: not sealed or voided",
    "cards": lambda a, b: f"{a} paper cards, {b} awaiting their data",
    "missing": lambda a, b: "missing: not received yet",
    "collision": lambda a, b: f"collision: the same {a} id from {b} stations",
}


def finding(site: str, station: str, kind: str, name: str,
            problems: list[tuple[str, Any, Any]], *counts: Any) -> dict[str, Any]:
    """A reconcile row: the English text, and its parts for other languages."""
    tubes, samples, counted, forms, awaiting = counts or ("", "", "", "", "")
    return {"site": site, "station": station, "what": f"{kind} {name}", "tubes": tubes,
            "samples": samples, "register_samples": counted, "forms": forms,
            "forms_awaiting": awaiting,
            "result": "; ".join(RESULTS_EN[code](a, b) for code, a, b in problems),
            "kind": kind, "id": name, "problems": problems}


def forms_awaiting(p: Projection) -> list[dict[str, Any]]:
    """Paper cards in the register whose typed data has not been imported yet."""
    return by_tube([{**asdict(r), "data": "awaiting"} for r in p.registrations
                    if r.form and not r.typed and r.status == "registered"])


def sampled(p: Projection) -> set[str]:
    """The ID numbers of everyone validly registered."""
    return {r.id_number.upper() for r in p.registrations if r.status == "registered"}


def missing(p: Projection, roster: Path) -> list[dict[str, Any]]:
    return not_sampled(sampled(p), roster)


def run(name: ReportName, db: str, output: Path | None, roster: Path | None, *,
        fmt: str = "csv", columns: str = "zh", tz: str = ZONE,
        site: str = "", span: Period | None = None, progress: Progress | None = None,
        rules: Rules | None = None, box: str = "", persons: Persons | None = None,
        mark: bool = True, encoding: str = "") -> str:
    """The report of a period (`span`, default today in `tz`) as CSV text; or, given
    `output`, written there (mode 0600) as CSV or xlsx, station by station as the events
    stream in, and "" returned: a city's register is never held whole. `columns`: "zh",
    as a district office reads it (chinese.py), or "en", the machine form. `mark`:
    positives marks the results it lists as recalled (the store changes: the collector's
    natest_recall_waiting falls), unless told not to. `roster` (its CSV `encoding`, or
    told by its bytes): missing's list; positives', results' and resample's phones."""
    from central.store.open import open_store  # noqa: PLC0415

    report = REPORTS[name]
    roster_taken(report, roster)
    ask = Asked(name, site, span or period(None, None, None, time_zone(tz)), roster,
                time_zone(tz) if columns == "zh" and report.columns else None,
                progress or Progress(name, live=False),
                rules or Rules(dt.datetime.now(dt.UTC)),
                columns, box, persons or Persons(needed=report.people), encoding=encoding)
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
            store.mark_recalled(ask.recalled, dt.datetime.now(dt.UTC))
            log.info("marked %d results as listed by a recall list (--no-mark: none)",
                     len(ask.recalled))
        ask.progress.done(written[0])
        return text
    except Exception as exc:   # a report cut short (no key, say): its event streams are
        traceback.clear_frames(exc.__traceback__)   # closed while the store is open
        raise
    finally:
        store.close()


def roster_taken(report: Report, roster: Path | None) -> None:
    """--roster where the report reads it, and only there."""
    if report.roster and roster is None:
        raise ValueError(f"{report.name} needs --roster FILE (the roster: xlsx or CSV with "
                         "a column 身份证号 or 证件号码)")
    if roster is not None and not (report.roster or report.fills):
        takes = ", ".join(n for n, r in REPORTS.items() if r.roster or r.fills)
        raise Usage(f"--roster: for {takes}, not {report.name}")


@dataclass
class Asked:
    name: ReportName
    site: str
    span: Period
    roster: Path | None
    zone: ZoneInfo | None     # Chinese columns and local times, or the machine form
    progress: Progress
    rules: Rules
    columns: str = "zh"       # zh: as an office reads and prints it; en: for programs
    box: str = ""             # the register of one box: its record beside its slip
    persons: Persons = field(default_factory=Persons)   # sealed persons: opened or counted
    recalled: list[tuple[str, str, str]] = field(default_factory=list)
    signers: Signers = field(default_factory=Signers)
    encoding: str = ""        # the roster CSV's, or "": told by its bytes

    @property
    def report(self) -> Report:
        report = REPORTS[self.name]
        return report.with_roster() if self.roster else report


def printed(ask: Asked, chunks: Iterable[list[dict[str, Any]]], fields: list[str],
            output: Path, fmt: str) -> None:
    """The Chinese report laid out for A4 (xlsx), or printed from that layout (pdf)."""
    made = dt.datetime.now(dt.UTC).astimezone(ask.span.zone).strftime("%Y-%m-%d %H:%M")

    def facts() -> list[str]:   # after the first rows: the sites they came from
        seen = sorted(ask.signers.sites)
        sites = ask.site or ("、".join(seen) if 0 < len(seen) <= SITES_NAMED else "全部")
        return [f"采样点：{sites}", f"日期：{ask.span}",
                *([f"转运箱：{ask.box}"] if ask.box else []), f"制表时间：{made}"]

    report = ask.report
    layout = Layout(report.title, facts,
                    tube_column=report.header_of("tube") if report.tubes else None,
                    box_column=report.header_of("box") if report.boxes else None,
                    footer=ask.signers.lines if report.signed else list,
                    couriers=ask.signers.couriers,
                    times=frozenset(header for key, header in report.columns
                                    if key in chinese.TIMES),
                    titled=frozenset({"采样点"}),
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

Chunks = Iterable[list[dict[str, Any]]]


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


@dataclass
class Day:
    """What a report reads of its period: the events opened (opening_pool.unsealed), then
    folded station by station, when it asks for them (positives reads its tubes' own)."""

    ask: Asked
    store: SqlEventStore
    # Which stations used each tube and box id: the collisions reconcile lists.
    used: dict[tuple[str, str], set[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(set))

    def stations(self) -> Iterator[tuple[Station, Projection]]:
        ask, span = self.ask, self.ask.span
        day = unsealed(ask.progress.counted(self.store.iter_events(ask.site, span.padded())),
                       self.store.form_data(), ask.persons)
        return ((key, clip(p, span, ask.box))
                for key, p in by_station(day.events, day.forms, self.used))


def _register(ask: Asked, day: Day) -> Chunks:
    """A station at a time, as the database orders stations; in Chinese grouped tube by
    tube, in the machine form in the order events came in."""
    return ask.signers.watch(by_tube(register(p)) if ask.zone else register(p)
                             for _, p in day.stations())


def _totals(ask: Asked, day: Day) -> Chunks:
    zone = ask.zone
    hour = utc_hour if zone is None else (lambda ts: local_hour(ts, zone))
    return ask.signers.watch([sorted(per_station(day.stations(), lambda p: totals(p, hour)),
                                     key=itemgetter("site", "station", "hour"))])


def _reconcile(ask: Asked, day: Day) -> Chunks:
    """Boxes of every station, then paper cards, then open tubes, as one projection's;
    after them the gaps and collisions of every station."""
    rows = per_station(day.stations(), reconcile)
    order = {"box": 0, "tube": 1}
    found = [*ask.signers.watch([sorted(rows, key=lambda r: (order[r["kind"]],
                                                            r["problems"][0][0] == "open"))])]
    gaps = [gap for gap in day.store.gaps() if not ask.site or gap[0] == ask.site]
    return [*found, reconcile(Projection([], [], {}, [], gaps, collisions(day.used)))]


def _missing(ask: Asked, day: Day) -> Chunks:
    assert ask.roster is not None
    return [not_sampled({n for _, p in day.stations() for n in sampled(p)}, ask.roster,
                        ask.encoding)]


def _positives(ask: Asked, day: Day) -> Chunks:
    rows, ask.recalled = positives(day.store, ask.span, ask.persons)
    return [rows]


BUILT: dict[ReportName, Callable[[Asked, Day], Chunks]] = {
    "register": _register, "totals": _totals, "reconcile": _reconcile, "missing": _missing,
    "forms": lambda ask, day: ask.signers.watch([per_station(day.stations(),
                                                             forms_awaiting)]),
    "positives": _positives,
    "results": lambda ask, day: results_rows(day.store, day.stations()),
    "resample": lambda ask, day: [resample_rows(day.store, day.stations(), ask.span,
                                                ask.persons)],
    "custody": lambda ask, day: custody_rows(day.store, day.stations(), ask.rules, ask.span),
}


def counted_rows(chunks: Iterable[list[dict[str, Any]]], written: list[int]) -> Iterator[
        list[dict[str, Any]]]:
    for chunk in chunks:
        written[0] += len(chunk)
        yield chunk


def clip(p: Projection, span: Period, box: str = "") -> Projection:
    """What a station did in the period, of what its events around it made: the
    registrations and boxes of the period (of one box, given one). Sealing times stay
    whole (a tube of the period's last minute is sealed after it); totals count only the
    period's."""
    return Projection([r for r in p.registrations if span.holds(r.time)
                       and (not box or r.box == box)],
                      [b for b in p.boxes if span.holds(b["ts"])
                       and (not box or b["box"] == box)], p.sealed,
                      p.open_tubes, p.gaps, p.collisions, span.holds)


def local_hour(ts: str, zone: ZoneInfo) -> str:
    return chinese.local_time(ts, zone)[:13] + ":00"
