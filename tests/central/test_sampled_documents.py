"""The documents sampled, read lean (central/reports/sampled.py, central/store/documents.py),
are the projection's (`rows.sampled` of each station's projection, clipped to the period)
on generated days holding every rule the fold honours: a cancellation (and a person
registered again at the cancelled position), a tube voided open and after sealing, a void
or a cancellation in the margin after the period and one past it, a lane whose clock was
unset (placed by receipt), a child under its guardian's document, a passport, paper cards
typed (plain and sealed), one not typed yet, a person sealed to a key central does not
hold, one site of several. On SQLite and PostgreSQL; cold (opened here and in a worker
process) and warm (from the index); and the index is never trusted across another key."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from central.intake.forms import plain_rows, sealed_rows
from central.reports import sampled as sampled_module
from central.reports.custody import Rules
from central.reports.day import Asked, Day, clip
from central.reports.opening import Opener, Persons
from central.reports.opening_pool import unsealed
from central.reports.period import MARGIN, Period
from central.reports.progress import Progress
from central.reports.projection import by_station
from central.reports.rows import sampled
from central.reports.sampled import Found, sampled_documents
from central.store.event_store import SqlEventStore
from central.store.open import open_store
from contract.events import (
    Person,
    SampleCancelled,
    SampleRegistered,
    TubeOpened,
    TubeSealed,
    TubeVoided,
)
from contract.sealed import keygen, read_keys
from station.sealing import Sealer
from tests.central_keys import key_pair
from tests.lane_days import Lane, person, shanghai
from tests.people import nth_person

DAY = "2026-12-04"
SPAN = Period(dt.date(2026, 12, 4), dt.date(2026, 12, 4), ZoneInfo("Asia/Shanghai"))


def other(n: int) -> Person:
    """A person of another document: a child under its guardian's, or a passport."""
    if n % 2:
        return Person("guardian", nth_person(n), f"孩子{n}", "male", "2020-01-01",
                      guardian_id_type="resident")
    return Person("passport", f"e{n:08d}", f"旅客{n}", "female", "1980-01-01")


def lane_day(lane: Lane, rng: random.Random, start: dt.datetime, tubes: int,
             cards: list[tuple[str, Person]]) -> None:
    """`tubes` tubes of up to ten from `start`, each undoing what chance picks."""
    at, n = start, rng.randrange(1, 400)
    for t in range(tubes):
        tube = f"{lane.site}{lane.station}{start:%H%M}{t:03d}"
        people = []
        for k in range(rng.randrange(1, 6)):
            n += rng.randrange(1, 4)
            people.append(other(n) if rng.random() < 0.15 else person(n))
            if rng.random() < 0.1:   # a paper card: its placeholder now, its data later
                people[-1] = Person("other", "", "", "unknown", "")
                cards.append((f"F{lane.site}{lane.station}{t:03d}{k}", person(n + 1000)))
        form = {i: cards[-1][0] for i, p in enumerate(people, 1) if p.id_type == "other"}
        at = _tube(lane, rng, tube, people, form=form, at=at)


def _tube(lane: Lane, rng: random.Random, tube: str, people: list[Person], *,
          form: dict[int, str], at: dt.datetime) -> dt.datetime:
    lane.add(TubeOpened(tube, 10), at)
    for position, someone in enumerate(people, 1):
        at += dt.timedelta(minutes=rng.choice([1, 7, 40]))
        lane.add(SampleRegistered(tube, position, "form" if position in form else "card",
                                  someone, False, form.get(position, "")), at)
        if rng.random() < 0.3:   # cancelled (before midnight, some past the margin's
            # end: not read), and someone else registered in their place
            late = at.hour == 23 and rng.random() < 0.5
            later = dt.timedelta(seconds=5 * 3600 if late else 20)
            lane.add(SampleCancelled(tube, position), at + later)
            if rng.random() < 0.5:
                lane.add(SampleRegistered(tube, position, "card", person(position + 700),
                                          False), at + dt.timedelta(seconds=40))
    fate = rng.random()
    at += dt.timedelta(minutes=1)
    if fate < 0.1:
        lane.add(TubeVoided(tube, len(people), "open"), at)
    else:
        lane.add(TubeSealed(tube, len(people), "operator"), at)
        if fate < 0.2:   # CMD:VOID of the last sealed tube, a little or long after
            later = dt.timedelta(minutes=rng.choice([1, 90, 300]))
            lane.add(TubeVoided(tube, len(people), "sealed"), at + later)
    return at


def play(store: SqlEventStore, seed: int, sealer: Sealer, stranger: Sealer) -> None:
    rng = random.Random(seed)
    cards: list[tuple[str, Person]] = []
    for site, station, synced in (("S1", "a", True), ("S1", "b", False), ("S2", "a", True)):
        lane = Lane(site, station, clock_synced=synced, sealer=sealer)
        # the evening before (in the margin and before it), the day, past midnight
        for start, tubes in ((shanghai("2026-12-03", 19), 4), (shanghai(DAY, 7), 12),
                             (shanghai(DAY, 23, 20), 4)):
            lane_day(lane, rng, start, tubes, cards)
        if site == "S2":   # a person sealed to a key central was not given
            lane.sealer = stranger
            lane.add(SampleRegistered("S2STRANGE", 1, "card", person(999), False),
                     shanghai(DAY, 15))
        # an unset clock's events placed by when central received them
        received = shanghai(DAY, rng.choice([10, 23]), 50) if not synced else None
        lane.deliver(store, received)
    typed = cards[:-1]   # the last card's data not imported yet
    rows = plain_rows(typed[::2]) + sealed_rows(typed[1::2], sealer)
    store.import_forms(rows, dt.datetime.now(dt.UTC))


def projected(store: SqlEventStore, persons: Persons, site: str) -> set[str]:
    ask = Asked("coverage", site, SPAN, None, None, Progress("t", live=False),
                Rules(dt.datetime.now(dt.UTC)), persons=persons)
    return {n for _, p in Day(ask, store).stations() for n in sampled(p)}


def lean(store: SqlEventStore, persons: Persons, site: str, count: int = 0) -> Found:
    return sampled_documents(store, SPAN.padded(), (SPAN.start, SPAN.end), persons,
                             site=site, count=count)


def sealers(tmp_path: Path) -> tuple[Sealer, Sealer]:
    _, stranger, _ = keygen(tmp_path / "stranger", "stranger")
    return (Sealer(read_keys(key_pair()[1], private=False)[0]),
            Sealer(read_keys(stranger, private=False)[0]))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_lean_read_is_the_projections_cold_and_warm_for_every_site(
        central_db: str, tmp_path: Path, seed: int) -> None:
    store = open_store(central_db)
    try:
        play(store, seed, *sealers(tmp_path))
        for site in ("", "S1"):
            want = projected(store, Persons(Opener([key_pair()[0]]), needed=True), site)
            assert bool(site) or "" in want   # the stranger's persons not opened (S2)
            persons = Persons(Opener([key_pair()[0]]), needed=True)
            cold = lean(store, persons, site)
            assert cold.found == {cold.of(n) for n in want}, site
            assert (sum(persons.not_held.values()) > 0) is (not site)
            warm = lean(store, Persons(Opener([key_pair()[0]]), needed=True), site)
            assert warm.found == cold.found
        assert store.count("events") > 100
    finally:
        store.close()


def test_a_worker_process_reads_what_this_one_reads(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of two, the first four here: the rest in a worker, or here when it is busy."""
    monkeypatch.setattr(sampled_module, "FIRST_IN_PROCESS", 4)
    monkeypatch.setattr(sampled_module, "BLOCK", 2)
    store = open_store(str(tmp_path / "central.db"))
    try:
        play(store, 4, *sealers(tmp_path))
        want = projected(store, Persons(Opener([key_pair()[0]]), needed=True), "")
        found = lean(store, Persons(Opener([key_pair()[0]]), needed=True), "", count=1)
        assert found.found == {found.of(n) for n in want}
        assert store.conn.execute("SELECT count(*) FROM document_index").fetchone()[0] > 50
    finally:
        store.close()


@pytest.mark.parametrize("hour", [9, 16])
def test_as_of_a_moment_only_the_registrations_read_by_then_count(
        central_db: str, tmp_path: Path, hour: int) -> None:
    """The brief's coverage as of --at: the window ends at that moment, and a person
    registered after it is not counted, as the fold of the events until then says."""
    store = open_store(central_db)
    try:
        play(store, 5, *sealers(tmp_path))
        window = (SPAN.start - MARGIN, shanghai(DAY, hour))
        day = unsealed(store.iter_events("", window), store.form_data(),
                       Persons(Opener([key_pair()[0]]), needed=True))
        want = {n for _, p in by_station(day.events, day.forms, defaultdict(set))
                for n in sampled(clip(p, SPAN))}
        found = sampled_documents(store, window, (SPAN.start, SPAN.end),
                                  Persons(Opener([key_pair()[0]]), needed=True))
        assert found.found == {found.of(n) for n in want}
        whole = lean(store, Persons(Opener([key_pair()[0]]), needed=True), "")
        assert found.found != whole.found   # the rest of the day changes what counts
    finally:
        store.close()
