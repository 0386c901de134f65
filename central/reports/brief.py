"""`report brief`: the daily brief a district office sends up (seed 001: "每天下午15:00前
上报", "形成简报后…上报区"), its figures as of one moment (`--at`), site by site and
rolled up the sites file's chain: 采样点 → 社区 → 街道 → 区 → the whole.

For each site, counted from what central holds as of `--at` (an event, result or receipt
after it is not counted; the round's first day is `--from`, by default `--at`'s day):

- people sampled today and in the round, and tubes sealed (a voided tube is no tube);
- boxes handed to a courier today, and received at a lab today;
- of the round's tubes, how many have a result back; the positive and invalid pools
  among them; their people and how far each one's recall and retest is, by the
  follow-up's statuses (followup.py); a person whose document did not open cannot be
  linked to a retest and is counted apart (unlinked), never guessed;
- what is overdue, as the custody report judges it (custody.py, site_facts.py): boxes
  past the transit bound and not received, tubes sealed before a day's cutoff and not
  handed over by it;
- with a roster: 应检, 已检, 未检 by community, and up the chain (coverage).

Each site's figures are counted in the database (brief_counts.py), and coverage's
documents read as `report coverage` reads them (sampled.py: the document index, each
sealed person opened once), never by folding the round's register. Counts only: nothing
of a person is in a row, and no row is a person. Persons are opened (with central's key,
when given) only where a count needs their document: linking a pool's people to their
single retests, and coverage against the roster.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict
from typing import Any, Literal

from central.reports.brief_counts import Recall, counted
from central.reports.brief_figures import Figures
from central.reports.coverage import Key as Place  # district, street, community
from central.reports.coverage_apart import read_roster
from central.reports.coverage_columns import communities
from central.reports.day import Asked
from central.reports.followup import followed, pools_of
from central.reports.period import MARGIN
from central.reports.sampled import sampled_documents, say_opened
from central.reports.sites import UNKNOWN, Sites
from central.store.event_store import SqlEventStore
from central.store.lab_tables import StoredResult

log = logging.getLogger("central.brief")

Level = Literal["site", "community", "street", "district", "total"]
LEVELS: tuple[Level, ...] = ("site", "community", "street", "district", "total")


# A person of a pool counted by the follow-up's status, or apart where not opened.
FOLLOWED = ("confirmed", "to_resample", "waiting", "invalid_again", "cleared")


def brief_rows(ask: Asked, store: SqlEventStore, sites: Sites) -> list[dict[str, Any]]:
    """Every unit's row, level by level: the sites (in the file's order, then those the
    file lacks), the communities, the streets, the districts, the whole; with a roster,
    its coverage by community and up."""
    # The roster read and checked before anything is written (a city's in workers while
    # the counts are made: coverage_apart.py): a bad one ends the brief, said first. It
    # is matched by document, so persons must open.
    opener = ask.persons.opener
    with nullcontext(None) if ask.roster is None else read_roster(
            ask.roster, ask.encoding, sites,
            opener.key_files if opener is not None else None, communities) as roster:
        ask.persons.needed = ask.persons.needed or roster is not None
        found: dict[str, Figures] = defaultdict(Figures)
        try:
            if roster is None:
                recall, coverage = counted(ask, store, found), None
            else:   # the counts beside the documents' read: the database's work on a core each
                with ThreadPoolExecutor(1) as beside:
                    counting = beside.submit(counted_apart, ask, store, found)
                    found_documents = sampled_documents(
                        store, (ask.span.start - MARGIN, ask.rules.at),
                        (ask.span.start, ask.span.end), ask.persons, site=ask.site,
                        progress=ask.progress, before_writing=roster.checked)
                    coverage = roster.by_community(found_documents)
                    recall = counting.result()
                say_opened(found_documents)
        except Exception:   # any: a refused roster is said before it
            if roster is not None:
                roster.checked()   # the roster's refusal, where it has one, is said first
            raise
    follow_up(ask, store, recall, found)
    if unknown := sites.unknown(found):
        log.warning("%d %s not in %s, shown as %s: %s", len(unknown),
                    "site" if len(unknown) == 1 else "sites", sites.path, UNKNOWN,
                    ", ".join(unknown))
    rows = rolled(found, sites, coverage)
    log.info("brief as of %s: %d sites, %d rows", ask.rules.at.isoformat(timespec="minutes"),
             len(found), len(rows))
    return rows


def counted_apart(ask: Asked, store: SqlEventStore, found: dict[str, Figures]) -> Recall:
    """The brief's own counts (brief_counts.counted) on a connection of their own: in a
    thread of their own, while this one reads the documents coverage compares (a city's
    day: some 10 s of the database's work each, one after the other otherwise)."""
    own = store.another()
    try:
        return counted(ask, own, found)
    finally:
        own.close()


def follow_up(ask: Asked, store: SqlEventStore, recall: dict[str, tuple[str, StoredResult]],
              found: dict[str, Figures]) -> None:
    """The round's positive and invalid pools by site, their people by the follow-up's
    status as of `--at` (those not opened counted apart), and who is past a bound."""
    pools = pools_of(store, {tube: result for tube, (_, result) in recall.items()})
    for row in followed(store, pools, ask.persons, ask.bounds):
        figures = found[row["site"]]
        figures.pool_people += 1
        if row["note"] == "not_opened":
            figures.unlinked += 1
        else:
            setattr(figures, row["followup"], getattr(figures, row["followup"]) + 1)
            figures.followup_overdue += bool(row["overdue"])
    for tube, result in pools.items():
        figures = found[recall[tube][0]]
        if result.result == "positive":
            figures.positive_pools += 1
        else:
            figures.invalid_pools += 1


Unit = tuple[Level, str, str, str, str]   # level, district, street, community, site


def units_of(district: str, street: str, community: str, site: str = "") -> list[Unit]:
    """The units a site's figures count in (or a community's coverage), up to the whole."""
    above: list[Unit] = [("community", district, street, community, ""),
                         ("street", district, street, "", ""),
                         ("district", district, "", "", ""), ("total", "", "", "", "")]
    return [("site", district, street, community, site), *above] if site else above


def rolled(found: dict[str, Figures], sites: Sites,
           coverage: dict[Place, tuple[int, int]] | None) -> list[dict[str, Any]]:
    """Each unit's row: sites as the file orders them (those it lacks after), each level
    after the one below it, every unit of the file shown even with nothing counted."""
    units: dict[Unit, Figures] = {}
    for site in [s.id for s in sites] + sites.unknown(found):
        community, street, district = sites.levels(site)
        for unit in units_of(district, street, community, site):
            units.setdefault(unit, Figures()).add(found.get(site, Figures()))
    for (district, street, community), (roster, tested) in (coverage or {}).items():
        for unit in units_of(district, street, community):
            figures = units.setdefault(unit, Figures())
            figures.roster += roster
            figures.tested += tested
    ordered = sorted(units.items(), key=lambda item: LEVELS.index(item[0][0]))
    return [row(unit, figures, sites, coverage is not None) for unit, figures in ordered]


def row(unit: Unit, figures: Figures, sites: Sites, covered: bool) -> dict[str, Any]:
    level, district, street, community, site = unit
    shown: dict[str, Any] = {
        "level": level, "district": district, "street": street, "community": community,
        "site": site, "site_name": sites.name(site) if site else "", **asdict(figures)}
    if not covered or level == "site":   # a roster is by where people live, not a site
        shown |= {"roster": "", "tested": "", "untested": "", "coverage": ""}
    else:
        shown["untested"] = figures.roster - figures.tested
        shown["coverage"] = (f"{100 * figures.tested / figures.roster:.1f}"   # as coverage's
                             if figures.roster else "")
    return shown
