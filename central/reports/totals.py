"""`report totals`: people sampled, tubes sealed and boxes closed, by site, station and
hour, then summed day by day up the chain, 采样点 → 社区 → 街道 → 区 (`--sites`), each
sum beside its running total since the period's first day (累计: a round of `--from`
to `--to`), each day closed by its total line and the period by its own.

Every figure counts what the register and reconcile count of the same events: a person
validly registered (not cancelled, not in a voided tube) on the day of their
registration; a tube sealed and not voided since (CMD:VOID of the last sealed tube
takes it back: it never reaches the lab), on the day it was sealed; a box closed, on
the day it was closed. A site the sites file lacks is summed as 未登记站点 at every
level above it, and named on standard error: never dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from itertools import groupby
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from central.reports.period import Period
from central.reports.projection import Projection, Station
from central.reports.sites import UNKNOWN, Sites
from contract import instant

log = logging.getLogger("central.reports")

MEASURES = ("people", "tubes", "boxes")
RUNNING = tuple(f"{m}_to_date" for m in MEASURES)
# The levels a day is summed at, from the site up; each unit named by its chain.
UP = ("site", "community", "street", "district")

Tally = Counter[tuple[str, str, str]]   # (local day, site, measure) → how many


def local_day(ts: str, zone: ZoneInfo) -> str:
    return instant(ts).astimezone(zone).date().isoformat()


def hourly(p: Projection, hour: Callable[[str], str], zone: ZoneInfo) -> list[dict[str, Any]]:
    """Per site, station and hour (`hour` turns a ts into its hour: UTC, or local), with
    the local day each hour falls on."""
    counts: Counter[tuple[str, str, str, str, str]] = Counter()
    for what, site, station, ts in facts(p):
        counts[(local_day(ts, zone), site, station, hour(ts), what)] += 1
    keys = sorted({key[:4] for key in counts})
    return [{"level": "hour", "day": d, "site": s, "station": st, "hour": h,
             **{m: counts[(d, s, st, h, m)] for m in MEASURES}} for d, s, st, h in keys]


def facts(p: Projection) -> Iterable[tuple[str, str, str, str]]:
    """(measure, site, station, when) of everything a station counts in the period."""
    for r in p.registrations:
        if r.status == "registered":
            yield "people", r.site, r.station, r.time
    for (site, station, _), ts in p.sealed.items():
        if p.counts(ts):
            yield "tubes", site, station, ts
    for b in p.boxes:
        yield "boxes", b["site"], b["station"], b["ts"]


def tally(rows: Iterable[dict[str, Any]]) -> Tally:
    """The hourly rows summed by day and site."""
    sums: Tally = Counter()
    for row in rows:
        for m in MEASURES:
            sums[(row["day"], row["site"], m)] += row[m]
    return sums


def totals_rows(stations: Iterable[tuple[Station, Projection]], span: Period,
                sites: Sites, hour: Callable[[str], str]) -> list[dict[str, Any]]:
    """The report's rows: each day's hours, its sums at each level with their running
    totals, its total line; then the period's total line (more than one day)."""
    hours = sorted((row for _, p in stations for row in hourly(p, hour, span.zone)),
                   key=lambda r: (r["day"], r["site"], r["station"], r["hour"]))
    sums = tally(hours)
    seen = sorted({site for _, site, _ in sums})
    if sites.given and (unknown := sites.unknown(seen)):
        log.warning("%d %s not in %s, summed as %s: %s", len(unknown),
                    "site" if len(unknown) == 1 else "sites", sites.path, UNKNOWN,
                    ", ".join(unknown))
    for row in hours:
        row.update(chain(sites, row["site"]))
    units = members(sites, seen)
    running: Counter[tuple[str, tuple[str, ...], str]] = Counter()
    by_day = {day: list(rows) for day, rows in groupby(hours, key=itemgetter("day"))}
    out: list[dict[str, Any]] = []
    for day in days_of(span):
        out += by_day.get(day, [])
        for level, unit_sites in units.items():
            for key, among in unit_sites.items():
                row = summed(sums, day, among)
                for m in MEASURES:
                    running[(level, key, m)] += row[m]
                    row[f"{m}_to_date"] = running[(level, key, m)]
                out.append({**row_of(level, key), "day": day, **row})
    if span.first != span.last:
        out.append({"level": "total", **{m: running[("day", (), m)] for m in MEASURES},
                    **{f"{m}_to_date": running[("day", (), m)] for m in MEASURES}})
    return out


def members(sites: Sites, seen: list[str]) -> dict[str, dict[tuple[str, ...], list[str]]]:
    """Each level's units, top of the chain first (未登记站点 last), and the sites summed
    into each; the sites alone without a sites file; "day": every site."""
    levels = UP if sites.given else UP[:1]
    units: dict[str, dict[tuple[str, ...], list[str]]] = {}
    for level in (*levels, "day"):
        found: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for site in seen:
            found[unit(sites, level, site)].append(site)
        units[level] = {key: found[key] for key in sorted(
            found, key=lambda k: (UNKNOWN in k, tuple(reversed(k))))}
    return units


def days_of(span: Period) -> list[str]:
    count = (span.last - span.first).days + 1
    return [(span.first + dt.timedelta(days=n)).isoformat() for n in range(count)]


def unit(sites: Sites, level: str, site: str) -> tuple[str, ...]:
    """The unit a site is summed into at `level`: its chain from that level up; () for
    the day's total."""
    if level == "day":
        return ()
    community, street, district = sites.levels(site) if sites.given else ("", "", "")
    whole = (site, community, street, district)
    return whole[UP.index(level):] if sites.given else whole[:1]


def row_of(level: str, key: tuple[str, ...]) -> dict[str, Any]:
    """A sum's row: its level, and its unit's chain in the columns it fills."""
    named = dict(zip(UP[UP.index(level):] if level != "day" else (), key, strict=False))
    return {"level": level, **named}


def chain(sites: Sites, site: str) -> dict[str, str]:
    """The chain above a site, for its rows; nothing without a sites file."""
    if not sites.given:
        return {}
    community, street, district = sites.levels(site)
    return {"community": community, "street": street, "district": district}


def summed(sums: Tally, day: str, members: list[str]) -> dict[str, Any]:
    return {m: sum(sums[(day, site, m)] for site in members) for m in MEASURES}
