"""The two reads a follow-up of thousands of pools makes of the events (#40 item 6), on
SQLite and PostgreSQL: a tube's events, read with its neighbours' at the same lane in one
range and sorted out again; and the single tubes opened since a time, on the index
migration 010 made for them."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from central.store.event_store import SqlEventStore
from central.store.lab_tables import NEARBY, read_together
from central.store.open import open_store
from contract import rfc3339
from contract.events import SampleRegistered, TubeOpened
from tests.lane_days import Lane, person, shanghai

DAY = "2026-12-04"
POOLS = 100


@pytest.fixture
def store(central_db: str) -> SqlEventStore:
    return open_store(central_db)


def test_spans_near_each_other_at_a_lane_are_read_as_one_range_and_no_others() -> None:
    spans = {("s1", "a", "T1"): (1, 3), ("s1", "a", "T3"): (7, 9),
             ("s1", "a", "FAR"): (9 + NEARBY + 1, 9 + NEARBY + 3),
             ("s1", "b", "T9"): (4, 6), ("s2", "a", "T1"): (2, 4)}
    assert list(read_together(spans)) == [
        (("s1", "a"), 1, 9), (("s1", "a"), 9 + NEARBY + 1, 9 + NEARBY + 3),
        (("s1", "b"), 4, 6), (("s2", "a"), 2, 4)]


def test_a_tubes_events_are_its_own_though_its_neighbours_are_read_with_them(
        store: SqlEventStore) -> None:
    lane, other = Lane("s1", "a"), Lane("s1", "b")
    at = shanghai(DAY, 9)
    for n, tube in enumerate(["S1", "P2", "S3"]):   # side by side: one range
        at = lane.tube(tube, [person(n)] if tube[0] == "S" else
                       [person(10 + k) for k in range(10)], at)
    for n in range(NEARBY):   # a lane's morning of single tubes before the next asked
        at = lane.tube(f"X{n}", [person(100 + n)], at)
    lane.tube("S4", [person(4)], at)
    other.tube("S1", [person(5)], at)   # the same id at another lane: a collision
    lane.add(TubeOpened("S5", 1), at)   # opened, its person registered, not closed yet
    lane.add(SampleRegistered("S5", 1, "card", person(6), False), at)
    for one in (lane, other):
        one.deliver(store)
    found = store.tube_events({"S1", "S3", "S4", "S5"})
    kinds = Counter((e.station, getattr(e.data, "tube", ""), e.data.type) for e in found)
    assert kinds == Counter({
        **{("a", t, kind): 1 for t in ("S1", "S3", "S4")
           for kind in ("tube.opened", "sample.registered", "tube.sealed")},
        ("b", "S1", "tube.opened"): 1, ("b", "S1", "sample.registered"): 1,
        ("b", "S1", "tube.sealed"): 1, ("a", "S5", "tube.opened"): 1,
        ("a", "S5", "sample.registered"): 1})
    assert found == sorted(found, key=lambda e: (e.site, e.station, e.seq))


def test_single_tubes_since_a_time_are_read_on_their_index(store: SqlEventStore) -> None:
    synced, unset = Lane("s1", "c"), Lane("s1", "d", clock_synced=False)
    pools = Lane("s1", "e")
    since = shanghai(DAY, 12)
    synced.tube("EARLY", [person(1)], shanghai(DAY, 11))
    synced.tube("LATE", [person(2)], shanghai(DAY, 13))
    at = shanghai(DAY, 9)
    for n in range(POOLS):   # a day's openings are nearly all pools'
        at = pools.tube(f"POOL{n}", [person(10 + k) for k in range(10)], at)
    synced.deliver(store)
    pools.deliver(store)
    # A lane whose clock was never set: placed by when central received each opening,
    # not by the time its clock shows.
    unset.tube("U-AFTER", [person(3)], shanghai("2020-01-01", 9))
    unset.deliver(store, received=shanghai(DAY, 14))
    unset.tube("U-BEFORE", [person(4)], shanghai("2030-01-01", 9))
    unset.deliver(store, received=shanghai(DAY, 10))
    assert store.singles_since(since) == {"LATE", "U-AFTER"}
    assert indexes_read(store, since) & {"events_singles", *partitions_of(store)}


def indexes_read(store: SqlEventStore, since: dt.datetime) -> set[str]:
    """The indexes the database reads singles_since by: PostgreSQL's plan with its
    sequential scans priced out (its tables here are too small to need an index),
    SQLite's as it is."""
    params, query = [rfc3339(since)] * 2, store.dialect.singles_since
    if store.dialect.name == "postgresql":
        store.conn.execute("ANALYZE events")
        store.conn.execute("SET enable_seqscan = off")
        lines = [row[0] for row in store.conn.execute("EXPLAIN " + query, params)]
    else:
        lines = [row[-1] for row in store.conn.execute("EXPLAIN QUERY PLAN " + query, params)]
    return {words[words.index("INDEX" if "INDEX" in words else "using") + 1]
            for words in map(str.split, lines) if "INDEX" in words or "using" in words}


def partitions_of(store: SqlEventStore) -> list[str]:
    """events_singles on each of PostgreSQL's partitions, as it names them."""
    if store.dialect.name != "postgresql":
        return []
    return [name for (name,) in store.conn.execute(
        "SELECT inhrelid::regclass::text FROM pg_inherits "
        "WHERE inhparent = 'events_singles'::regclass")]
