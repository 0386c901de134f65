"""Reports on a city's day: a database of many events, then rows/s of each report.

The events are a lane's day (tools/central/loadgen.py) for each of many stations at SITES
sites, written through the collector's own batch path (SqlEventStore.write: COPY on
PostgreSQL) 10,000 at a time, which is also measured. Then `register` for one site,
`totals` and `missing` against a roster (every 10th person sampled, as many again not)
run as `natest-central report` runs them, in Chinese.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from central.reports import reports
from central.reports.opening import Opener, Persons
from central.store.event_store import Arrived, Batch, SqlEventStore
from central.store.open import open_store
from contract.events import (
    SampleRegistered,
    SampleRegisteredEncrypted,
    SampleRegisteredEvent,
)
from contract.sealed import keygen, read_keys
from contract.sealer import Sealer
from tools.central.loadgen import day_of_events, valid_number

SITES = 10
PER_STATION = 5_000
CHUNK = 10_000
REGISTERED = {SampleRegistered.type, SampleRegisteredEncrypted.type}


def load(target: str, events: int,
         prepare: Callable[[SqlEventStore], None] | None = None,
         sealers: Callable[[], Sealer] | None = None,
         distinct: bool = False) -> tuple[float, int]:
    """Write `events` events (into a store `prepare` may change first; their persons
    sealed, if `sealers` is given, by a Sealer of its own for each station: one run
    each, one key agreement; with `distinct`, each person a number of their own:
    loadgen.distinct_number of the station's first seq); (rows/s of the writes,
    registrations written)."""
    store = open_store(target)
    if prepare is not None:
        prepare(store)
    stations = max(1, events // PER_STATION)
    people = [0]

    def lanes() -> Iterator[Arrived]:
        for n in range(stations):
            site = f"site-{n % SITES:02d}"
            sealer = sealers() if sealers is not None else None
            first = n * (events // stations) if distinct else None
            for topic, raw in day_of_events(site, f"lane-{n:04d}", events // stations, sealer,
                                            first):
                body = json.loads(raw)
                people[0] += body["type"] in REGISTERED
                if sealer is not None and body["type"] == SampleRegistered.type:
                    raise RuntimeError(f"{topic}: a registration left plain on a sealed day")
                yield Arrived(body, raw.decode(), topic)

    spent = write_all(store, lanes())
    store.close()
    return stations * (events // stations) / spent, people[0]


def write_all(store: SqlEventStore, arrived: Iterable[Arrived]) -> float:
    """Write events through the collector's own batch path, CHUNK at a time; the
    seconds the writes took (not the making of the events)."""
    spent, batch, now = 0.0, Batch(), dt.datetime.now(dt.UTC)
    for event in arrived:
        batch.events.append(event)
        if len(batch.events) == CHUNK:
            began = time.perf_counter()
            store.write(batch, now)
            spent += time.perf_counter() - began
            batch = Batch()
    if batch.events:
        began = time.perf_counter()
        store.write(batch, now)
        spent += time.perf_counter() - began
    return spent


def roster(target: str, work: Path) -> Path:
    """Every 10th registered person, and as many who never came."""
    store = open_store(target)
    numbers = [e.data.person.id_number for e in store.iter_events("site-00")
               if isinstance(e, SampleRegisteredEvent)][::10]
    store.close()
    path = work / "roster.csv"
    path.write_text("id_number,name\n" + "".join(f"{n},x\n" for n in numbers)
                    + "".join(f"{valid_number('9' + n[1:17])},y\n" for n in numbers),
                    encoding="utf-8")
    return path


def report_rates(target: str, events: int, work: Path) -> dict[str, Any]:
    write_per_s, people = load(target, events)
    results: dict[str, Any] = {"events": events, "write_per_s": write_per_s}
    listed = roster(target, work)
    runs: dict[str, tuple[Callable[[], str], float]] = {
        "register_one_site": (lambda: reports.run("register", target, None, None,
                                                  site="site-00"), events / SITES),
        "register_all": (lambda: reports.run("register", target, None, None), events),
        "totals": (lambda: reports.run("totals", target, None, None), events),
        "missing": (lambda: reports.run("missing", target, None, listed), events),
    }
    for name, (run, read) in runs.items():
        began = time.perf_counter()
        text = run()
        seconds = time.perf_counter() - began
        results[f"{name}_s"] = seconds
        results[f"{name}_rows"] = text.count("\n") - 1
        results[f"{name}_events_per_s"] = read / seconds
    results["people"] = people
    return results


def sealed_register(target: str, events: int, work: Path) -> dict[str, Any]:
    """`register` on the same day with every person sealed, opened with central's key as
    `report register --private-key` does: the cost of sealing to central's reports."""
    private, public, _ = keygen(work / "bench-central-keys", "bench-reports")
    central_key = read_keys(public, private=False)[0]
    load(target, events, sealers=lambda: Sealer(central_key))
    results: dict[str, Any] = {}
    for name, site in (("register_one_site_sealed", "site-00"), ("register_all_sealed", "")):
        began = time.perf_counter()
        text = reports.run("register", target, None, None, site=site,
                           persons=Persons(Opener([private]), needed=True))
        results[f"{name}_s"] = time.perf_counter() - began
        results[f"{name}_rows"] = text.count("\n") - 1
    return results
