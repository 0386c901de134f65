"""The brief's figures counted in the database (central/reports/brief_counts.py) against
the same figures counted from the folded register, as the brief counted them before
(tests/central/brief_folded.py), on SQLite and a real PostgreSQL: test_brief's round
(results, receipts, retests, a tube after --at, a tube never boxed) and beside it a day
holding each thing that makes a registration, a tube or a box count or not:

- an undo, and a new person at the undone position; an undo of a tube voided after;
- a tube voided after sealing, then sealed again; a tube sealed twice;
- a lane whose clock was unset (placed by when central received it): its events received
  in the round, after --at, and before the round's margin; an undo and a void among them;
- the same events delivered twice (stored once); a person sampled twice the same day
  (repeat_today); a tube id sealed at two lanes, one of them resulted positive;
- a tube opened before midnight and filled after (the period's margin);
- a box never handed over, a box handed over after the cutoff (its tubes late), a box
  received after --at, a box closed before a one-day round (in its margin).

Each as of several moments of the round, for a round of two days and of one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from central.cli import main
from central.reports.brief_counts import counted
from central.reports.brief_figures import Figures
from central.reports.custody import Rules
from central.reports.day import Asked
from central.reports.opening import Persons
from central.reports.period import Period
from central.reports.progress import Progress
from central.store.event_store import SqlEventStore
from central.store.open import open_store
from contract.events import SampleCancelled, SampleRegistered, TubeOpened, TubeSealed, TubeVoided
from tests.central.brief_folded import folded
from tests.central.round_days import DAY1, DAY2
from tests.central.test_brief import played_round
from tests.lane_days import Lane, person, shanghai

ZONE = ZoneInfo("Asia/Shanghai")
AT = [shanghai(DAY1, 18), shanghai(DAY2, 9), shanghai(DAY2, 15), shanghai(DAY2, 23, 59)]


def every_case(store: SqlEventStore) -> None:
    """The day beside the round: each case of the module's docstring."""
    lane = Lane("S01", "k")
    undo_then_other(lane)
    at = shanghai(DAY1, 10)
    lane.tube("K3", [person(40), person(41)], at)                      # voided, sealed again
    lane.add(TubeVoided("K3", 2, "sealed"), at + dt.timedelta(minutes=5))
    lane.add(TubeSealed("K3", 2, "operator"), at + dt.timedelta(minutes=6))
    end = lane.tube("K4", [person(42)], shanghai(DAY1, 11))            # sealed twice
    lane.add(TubeSealed("K4", 1, "full"), end + dt.timedelta(minutes=1))
    lane.add(SampleRegistered("K5", 1, "card", person(43), True), shanghai(DAY1, 12))
    lane.tube("K6", [person(43)], shanghai(DAY1, 12, 30))   # 43 again the same day
    lane.tube("K7", [person(44), person(45)], shanghai(DAY1, 23, 58))  # across midnight
    lane.tube("K8", [person(46)], shanghai(DAY1, 16))       # boxed after the cutoff
    lane.box("KB1", {"K8": 1}, shanghai(DAY1, 17, 30), courier="C02")
    lane.tube("K9", [person(47)], shanghai(DAY1, 9))        # its box never handed over
    lane.box("KB2", {"K9": 1}, shanghai(DAY1, 9, 30))
    lane.tube("X1", [person(48)], shanghai(DAY1, 13))       # test_brief's X1: a collision
    lane.box("KB3", {"K3": 2}, shanghai(DAY1, 22, 30), courier="C02")   # in the margin
    twice = list(lane.events)
    lane.deliver(store, shanghai(DAY2, 20))
    lane.events = twice
    lane.deliver(store, shanghai(DAY2, 21))                 # a redelivery: stored once
    unsynced(store)


def undo_then_other(lane: Lane) -> None:
    """An undo, and another person at its place; a tube undone, then voided."""
    at = shanghai(DAY1, 8)
    lane.add(TubeOpened("K1", 10), at)
    lane.add(SampleRegistered("K1", 1, "card", person(33), False), at)
    lane.add(SampleRegistered("K1", 2, "card", person(34), False), at)
    lane.add(SampleCancelled("K1", 2), at)
    lane.add(SampleRegistered("K1", 2, "card", person(35), False), at)
    lane.add(TubeSealed("K1", 2, "operator"), at + dt.timedelta(minutes=1))
    lane.tube("K2", [person(36), person(37)], shanghai(DAY2, 8), undo=2, void=True)


def unsynced(store: SqlEventStore) -> None:
    """A lane whose clock was unset (its times years off): its events received in the
    round, after the latest --at, and before the round's margin."""
    wrong = shanghai("2020-01-01", 8)
    for received, tube in ((shanghai(DAY2, 10), "U1"), (shanghai(DAY2, 23, 59, ), "U2"),
                           (shanghai("2026-12-01", 10), "U3")):
        lane = Lane("S02", f"u{tube}", clock_synced=False)
        lane.tube(tube, [person(50), person(51), person(52)], wrong, undo=3)
        lane.tube(f"{tube}v", [person(53)], wrong, void=True)
        lane.box(f"{tube}B", {tube: 2}, wrong + dt.timedelta(hours=1), courier="C03")
        lane.deliver(store, received)


@pytest.fixture
def every_case_db(central_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    played_round(central_db, tmp_path)
    store = open_store(central_db)
    try:
        every_case(store)
    finally:
        store.close()
    assert main(["receive", "KB1", "--lab", "市一院", "--tubes", "1", "--db", central_db,
                 "--at", f"{DAY2} 23:00"]) == 0                 # after every --at but one
    capsys.readouterr()
    return central_db


def asked(first: str, at: dt.datetime) -> Asked:
    span = Period(dt.date.fromisoformat(first), at.astimezone(ZONE).date(), ZONE)
    return Asked("brief", "", span, None, ZONE, Progress("brief", live=False), Rules(at),
                 persons=Persons())


@pytest.mark.parametrize("first", [DAY1, DAY2])
def test_the_counts_in_the_database_are_the_folded_registers(
        every_case_db: str, first: str) -> None:
    store = open_store(every_case_db)
    try:
        for at in AT:
            if at.astimezone(ZONE).date() < dt.date.fromisoformat(first):
                continue
            ask = asked(first, at)
            lean: dict[str, Figures] = defaultdict(Figures)
            recall = counted(ask, store, lean)
            register, register_recall = folded(ask, store)
            assert {site: asdict(f) for site, f in lean.items()} == {
                site: asdict(f) for site, f in register.items()}, at
            assert recall == register_recall, at
    finally:
        store.close()
