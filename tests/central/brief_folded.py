"""The brief's figures as the brief counted them before #41 item 5: every station's round
folded into its register (projection.py) and counted from it, registration by
registration, box by box. Kept here, word for word as it was, as the answer the brief's
counts in the database (central/reports/brief_counts.py) are held to."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator

from central.reports.brief_counts import Recall, today_of
from central.reports.brief_figures import Figures
from central.reports.custody import box_row, undispatched
from central.reports.day import Asked, clip
from central.reports.opening import Persons
from central.reports.opening_pool import unsealed
from central.reports.period import MARGIN
from central.reports.projection import Projection, Station, by_station
from central.reports.recall import by_tube, deciding, known_by
from central.store.event_store import SqlEventStore
from contract import instant


def folded(ask: Asked, store: SqlEventStore) -> tuple[dict[str, Figures], Recall]:
    """Every site's figures (before the follow-up's) and the tubes to recall."""
    found: dict[str, Figures] = defaultdict(Figures)
    recall: Recall = {}
    for _, p in stations_until(ask, store):
        recall |= station_figures(ask, store, p, found)
    return dict(found), recall


def station_figures(ask: Asked, store: SqlEventStore, p: Projection,
                    found: dict[str, Figures]) -> Recall:
    """One station's figures added to its site's; its tubes to recall (tube → its site
    and deciding result)."""
    at, today = ask.rules.at, today_of(ask)
    for r in p.registrations:
        if r.status == "registered":
            found[r.site].people_round += 1
            found[r.site].people_today += instant(r.time) >= today
    # A tube voided after sealing is no longer among the sealed (projection.py).
    tubes = {key: ts for key, ts in p.sealed.items() if p.counts(ts)}
    for (site, _, _), ts in tubes.items():
        found[site].tubes_round += 1
        found[site].tubes_today += instant(ts) >= today
    receipts = {box: got for box, got in store.receipts_of(b["box"] for b in p.boxes).items()
                if instant(got[2]) <= at}
    for box in p.boxes:
        figures = found[box["site"]]
        figures.boxes_dispatched += bool(box.get("dispatched")) and (
            instant(box["dispatched"]) >= today)
        got = receipts.get(box["box"])
        figures.boxes_received += got is not None and instant(got[2]) >= today
        figures.boxes_overdue += "overdue" in box_row(box, p, got, ask.rules)["problems"]
    for row in undispatched(p, ask.rules, ask.span.zone):
        found[row["site"]].tubes_late += 1
    return results_back(store, tubes, at, found)


def results_back(store: SqlEventStore, tubes: dict[tuple[str, str, str], str],
                 at: dt.datetime, found: dict[str, Figures]
                 ) -> Recall:
    """The round's tubes with a result as of `at`, counted by site; those to recall."""
    site_of = {tube: site for site, _, tube in tubes}
    recall = {}
    for tube, results in by_tube(known_by(store.results_of(site_of), at)).items():
        found[site_of[tube]].results_back += 1
        decided = deciding(results)
        if decided is not None and decided.result != "negative":
            recall[tube] = (site_of[tube], decided)
    return recall


def stations_until(ask: Asked, store: SqlEventStore) -> Iterator[tuple[Station, Projection]]:
    """Each station's round as of `--at`: its events from before the round's first day
    (by the period's margin: a tube opened before midnight) up to `--at`, clipped to the
    round. Persons are opened only for coverage (which needs documents), else counted."""
    span, at = ask.span, ask.rules.at
    persons = ask.persons if ask.roster is not None else Persons()
    events = ask.progress.counted(store.iter_events(ask.site, (span.start - MARGIN, at)))
    day = unsealed(events, store.form_data(), persons)
    return ((key, clip(p, span)) for key, p in by_station(day.events, day.forms,
                                                          defaultdict(set)))
