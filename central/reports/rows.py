"""Each report's rows of one station's projection (projection.py): the register, the
reconcile findings, the paper cards awaiting their data, and who was
sampled. Pure: no store, no period; builders.py runs them station by station over a Day.

register  one row per registration, cancelled and voided ones shown as such (核酸混采登记表)
reconcile each box against the register, open tubes, missing seq ranges, and tube or box
          ids that arrived from more than one station (a lab keys on them: a collision
          means two sites share a tube_prefix, or a preprinted batch was duplicated)
missing   roster entries with no valid registration: the re-sampling list (待补采), and
          the roster's rows whose ID number cannot be anyone's (名单有误; roster.py)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from central.reports import chinese
from central.reports.projection import Projection, Registration
from central.reports.roster import not_sampled


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
    """The ID numbers of everyone validly registered under their own document: a child
    under its guardian's carries the guardian's number, and the roster's row of that
    number is the guardian, whom the child's swab does not test."""
    return {r.id_number.upper() for r in p.registrations
            if r.status == "registered" and r.id_type != "guardian"}


def missing(p: Projection, roster: Path) -> list[dict[str, Any]]:
    return not_sampled(sampled(p), roster)


def local_hour(ts: str, zone: ZoneInfo) -> str:
    return chinese.local_time(ts, zone)[:13] + ":00"
