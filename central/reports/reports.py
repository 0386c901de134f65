"""`natest-central report`: what a district asks of the collected events.

register  one row per registration, cancelled and voided ones shown as such (核酸混采登记表)
totals    per site, station and hour: people, tubes, boxes
reconcile each box against the register, open tubes, missing seq ranges, and tube or box
          ids that arrived from more than one station (a lab keys on them: a collision
          means two sites share a tube_prefix, or a preprinted batch was duplicated)
missing   roster entries with no valid registration: the re-sampling list (待补采)

CSV and a plain xlsx are written by files.py, the printed layout by sheets.py.
"""

from __future__ import annotations

import csv
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

from central.reports import chinese
from central.reports.custody import CUSTODY_FIELDS, Rules, custody_rows
from central.reports.files import to_csv, to_xlsx, write_csv
from central.reports.opening import PEOPLE_REPORTS, Persons
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
from central.reports.recall import RECALL_FIELDS, RESULT_FIELDS, positives, results_rows
from central.reports.sheets import TITLES, Layout, Signers, to_pdf, write_printable
from central.site_facts import ZONE, time_zone
from central.store.event_store import SqlEventStore

log = logging.getLogger("central.reports")

REGISTER_FIELDS = ["site", "station", "box", "tube", "position", "time", "id_type",
                   "id_number", "name", "gender", "source", "form", "status", "operator",
                   "clock"]


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


def not_sampled(sampled: set[str], roster: Path) -> list[dict[str, Any]]:
    with roster.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        column = next((name for name in ("id_number", "证件号码")
                       if name in (reader.fieldnames or [])), None)
        if column is None:
            raise ValueError(f"{roster}: needs an id_number (or 证件号码) column")
        return [row for row in reader if row[column].strip().upper() not in sampled]


def run(name: str, db: str, output: Path | None, roster: Path | None, *,
        fmt: str = "csv", columns: str = "zh", tz: str = ZONE,
        site: str = "", span: Period | None = None, progress: Progress | None = None,
        rules: Rules | None = None, box: str = "", persons: Persons | None = None,
        mark: bool = True) -> str:
    """The report of a period (`span`, default today in `tz`) as CSV text; or, given
    `output`, written there (mode 0600) as CSV or xlsx, station by station as the events
    stream in, and "" returned: a city's register is never held whole. `columns`: "zh",
    as a district office reads it (chinese.py), or "en", the machine form. `mark`:
    positives marks the results it lists as recalled (the store changes: the collector's
    natest_recall_waiting falls), unless told not to."""
    from central.store.open import open_store  # noqa: PLC0415

    if name == "missing" and roster is None:
        raise ValueError("missing needs --roster FILE (a CSV with an id_number column)")
    ask = Asked(name, site, span or period(None, None, None, time_zone(tz)), roster,
                time_zone(tz) if columns == "zh" and name != "missing" else None,
                progress or Progress(name, live=False),
                rules or Rules(dt.datetime.now(dt.UTC)),
                columns, box, persons or Persons(needed=name in PEOPLE_REPORTS))
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


@dataclass
class Asked:
    name: str
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


def printed(ask: Asked, chunks: Iterable[list[dict[str, Any]]], fields: list[str],
            output: Path, fmt: str) -> None:
    """The Chinese report laid out for A4 (xlsx), or printed from that layout (pdf)."""
    made = dt.datetime.now(dt.UTC).astimezone(ask.span.zone).strftime("%Y-%m-%d %H:%M")

    def facts() -> list[str]:   # after the first rows: the sites they came from
        seen = sorted(ask.signers.sites)
        sites = ask.site or ("、".join(seen) if 0 < len(seen) <= SITES_NAMED else "全部")
        return [f"采样点：{sites}", f"日期：{ask.span}",
                *([f"转运箱：{ask.box}"] if ask.box else []), f"制表时间：{made}"]

    banded = ask.name in ("register", "positives")
    layout = Layout(TITLES[ask.name], facts, tube_column="试管编号" if banded else None,
                    box_column="转运箱" if ask.name == "register" else None,
                    footer=ask.signers.lines if ask.name == "register" else list,
                    couriers=ask.signers.couriers)
    if fmt == "xlsx":
        write_printable(chunks, fields, layout, output)
        return
    with tempfile.TemporaryDirectory(prefix="natest-report-") as tmp:
        sheet = Path(tmp) / f"{TITLES[ask.name]}.xlsx"
        write_printable(chunks, fields, layout, sheet)
        to_pdf(sheet, output)


SITES_NAMED = 3   # a title names up to this many sites; more is a district's 全部

EN_FIELDS = {"register": REGISTER_FIELDS, "positives": RECALL_FIELDS,
             "results": RESULT_FIELDS, "custody": CUSTODY_FIELDS}


def rows_of(ask: Asked, store: SqlEventStore) -> tuple[
        list[str], Iterable[list[dict[str, Any]]]]:
    """The report's header and its rows, chunk by chunk."""
    name, span = ask.name, ask.span
    used: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    day = unsealed(ask.progress.counted(store.iter_events(ask.site, span.padded())),
                   store.form_data(), ask.persons)
    stations = ((key, clip(p, span, ask.box)) for key, p in by_station(
        day.events, day.forms, used))
    if name == "missing":
        assert ask.roster is not None
        rows = not_sampled(made(name, stations, ask.zone), ask.roster)
        if ask.columns == "zh":   # the roster's own columns, the usual ones in Chinese
            rows = [{chinese.ROSTER.get(k, k): v for k, v in row.items()} for row in rows]
        return (list(rows[0]) if rows else []), [rows]
    if name == "positives":
        recall_rows, ask.recalled = positives(store, span, ask.persons)
        machine: Any = [recall_rows]
    elif name == "results":
        machine = results_rows(store, stations)
    elif name == "custody":
        machine = custody_rows(store, stations, ask.rules, span)
    else:
        machine = ask.signers.watch(made(name, stations, ask.zone))
    if name == "reconcile":   # after every station's rows: the gaps and collisions
        gaps = [gap for gap in store.gaps() if not ask.site or gap[0] == ask.site]
        machine = [*machine, reconcile(Projection([], [], {}, [], gaps, collisions(used)))]
    zone = ask.zone
    fields = ([header for _, header in chinese.COLUMNS[name]] if zone is not None
              else EN_FIELDS.get(name) or [key for key, _ in chinese.COLUMNS[name]])
    return fields, (chinese.rows(name, chunk, zone)[0] if zone is not None else chunk
                    for chunk in machine)


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


def made(name: str, stations: Iterable[tuple[Station, Projection]],
         zone: ZoneInfo | None) -> Any:
    """The report's machine rows in chunks (for `missing`: the set of ID numbers sampled),
    made station by station. The register comes a station at a time, as the database
    orders stations; in Chinese (`zone`) it is grouped tube by tube and hours are local,
    in the machine form it keeps the order events came in."""
    if name == "missing":
        return {number for _, p in stations for number in sampled(p)}
    if name == "register":
        return (by_tube(register(p)) if zone else register(p) for _, p in stations)
    if name == "totals":
        hour = utc_hour if zone is None else (lambda ts: local_hour(ts, zone))
        return [sorted(per_station(stations, lambda p: totals(p, hour)),
                       key=itemgetter("site", "station", "hour"))]
    if name == "forms":
        return [per_station(stations, forms_awaiting)]
    if name == "reconcile":
        # Boxes of every station, then paper cards, then open tubes: as one projection.
        rows = per_station(stations, reconcile)
        order = {"box": 0, "tube": 1}
        return [sorted(rows, key=lambda r: (order[r["kind"]],
                                            r["problems"][0][0] == "open"))]
    raise ValueError(f"no report {name!r}")


def local_hour(ts: str, zone: ZoneInfo) -> str:
    return chinese.local_time(ts, zone)[:13] + ":00"
