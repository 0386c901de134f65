"""The collector's batch write on real SQLite and PostgreSQL: events once by id, each
station's contiguous seq advanced per batch across gaps and redeliveries, all or nothing."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

import contract
from central.store.event_store import Arrived, Batch, EventStore
from central.store.open import open_store
from tests.central import store_shapes as shapes

NOW = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)
IDS: dict[tuple[str, int], str] = {}


def arrived(body: dict[str, Any], raw: str = "") -> Arrived:
    """A message as the collector hands it to the store: body, payload, topic."""
    kind = "status" if "state" in body else "events"
    topic = (contract.status_topic(body["site"], body["station"]) if kind == "status" else
             contract.event_topic(body["site"], body["station"], body["type"]))
    return Arrived(body, raw or json.dumps(body, separators=(",", ":")), topic)


def statuses(*bodies: dict[str, Any]) -> list[Arrived]:
    return [arrived(b) for b in bodies]


def event(seq: int, station: str = "l1") -> Arrived:
    """The same (station, seq) always has the same id, as a redelivery does; the event
    and its payload as received."""
    key = (station, seq)
    IDS.setdefault(key, str(uuid.uuid4()))
    body = {"v": 1, "id": IDS[key], "site": "s", "station": station, "seq": seq,
            "session": 1, "ts": "2026-12-03T08:00:00.000Z", "clock_synced": True,
            "type": "tube.released", "data": {"tube": f"T{seq:06d}"}}
    return arrived(body)


@pytest.fixture
def pg_dsn(pg_db: str) -> str:
    """A database of its own, in the run's PostgreSQL."""
    return pg_db


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    if request.param == "sqlite":
        opened = open_store(str(tmp_path / "central.db"))
    else:
        opened = open_store(request.getfixturevalue("pg_dsn"))
        for table in ("events", "stations", "quarantine"):
            opened.conn.execute(f"TRUNCATE {table}")
    yield opened
    opened.close()


def progress(store: EventStore) -> dict[str, tuple[int, int]]:
    rows = store.conn.execute(  # type: ignore[attr-defined]
        "SELECT station, contiguous, max_seq FROM stations ORDER BY station").fetchall()
    return {station: (contiguous, top) for station, contiguous, top in rows}


def test_a_gap_filled_by_a_later_batch_moves_the_prefix_over_what_came_before(
        store: EventStore) -> None:
    assert store.write(Batch(events=[event(s) for s in (5, 1, 2, 4)]), NOW).new == 4
    assert progress(store) == {"l1": (2, 5)}
    assert store.gaps() == [("s", "l1", 3, 3)]
    assert store.write(Batch(events=[event(3)]), NOW).new == 1
    assert progress(store) == {"l1": (5, 5)} and store.gaps() == []
    # A redelivery of stored ones with one new: only the new one counts.
    assert store.write(Batch(events=[event(2), event(3), event(6)]), NOW).new == 1
    assert progress(store) == {"l1": (6, 6)} and store.count("events") == 6


def test_the_same_event_twice_in_one_batch_is_stored_once(store: EventStore) -> None:
    assert store.write(Batch(events=[event(1), event(1), event(2)]), NOW).new == 2
    assert store.count("events") == 2 and progress(store) == {"l1": (2, 2)}


def test_many_stations_in_one_batch_each_advance(store: EventStore) -> None:
    stations = [f"l{n:03d}" for n in range(120)]
    events = [event(seq, st) for st in stations for seq in range(1, 6) if seq != 4 or st != "l007"]
    assert store.write(Batch(events=events[::-1]), NOW).new == len(events)
    assert progress(store) == {st: ((3, 5) if st == "l007" else (5, 5)) for st in stations}
    assert store.gaps() == [("s", "l007", 4, 4)]


def test_statuses_and_quarantine_go_with_the_events_and_a_failure_keeps_none(
        store: EventStore) -> None:
    status = {"v": 1, "state": "online", "site": "s", "station": "l1", "session": 1,
              "connection": 3, "backlog": 0, "last_seq": 9}
    late = {**status, "connection": 2, "state": "lost"}
    written = store.write(Batch(events=[event(1)], statuses=statuses(status, late),
                                quarantined=[("natest/v1/s/l1/events/x", b"{", "not JSON")]), NOW)
    assert written.new == 1 and [s["state"] for s in written.late] == ["lost"]
    assert store.count("quarantine") == 1
    assert store.gaps() == [("s", "l1", 2, 9)]   # the status's high-water mark
    broken = {k: v for k, v in status.items() if k != "connection"}
    with pytest.raises(KeyError):
        store.write(Batch(events=[event(2)], statuses=statuses(broken)), NOW)
    assert store.count("events") == 1 and progress(store)["l1"] == (1, 1)


def test_a_new_station_whose_first_batch_failed_is_written_by_the_next(
        store: EventStore) -> None:
    """The store remembers which stations have a progress row, but only once committed:
    the failed batch's row was rolled back with it."""
    broken = {"v": 1, "state": "online", "site": "s", "station": "l-new", "session": 1}
    with pytest.raises(KeyError):
        store.write(Batch(events=[event(1, "l-new")], statuses=statuses(broken)), NOW)
    assert "l-new" not in progress(store)
    assert store.write(Batch(events=[event(1, "l-new"), event(2, "l-new")]), NOW).new == 2
    assert progress(store)["l-new"] == (2, 2)


def test_one_sites_events_and_paper_cards_corrected_in_either_dialect(
        store: EventStore) -> None:
    other = arrived({**event(1, "l-t").body, "site": "t", "id": str(uuid.uuid4())})
    assert store.write(Batch(events=[event(1, "l-s"), other]), NOW).new == 2
    assert [e.id for e in store.iter_events("t")] == [other.body["id"]]
    assert [e.site for e in store.iter_events()] == ["s", "t"]
    store.import_forms([("F-1", "X1", "A", "139", "", ""),
                        ("F-2", "X2", "B", "139", "passport", "")], NOW)
    store.import_forms([("F-1", "X1", "C", "138", "", "jwe")], NOW)   # corrected, not doubled
    assert store.form_data() == {"F-1": ("X1", "C", "", "jwe", "138"),
                                 "F-2": ("X2", "B", "passport", "", "139")}
    assert store.count("form_data") == 2


# --- PostgreSQL: events partitioned by their own day ---------------------------------

def dated(seq: int, ts: str) -> Arrived:
    return arrived({**event(seq, "l-days").body, "ts": ts})


def partition_rows(dsn: str) -> dict[str, int]:
    import psycopg  # noqa: PLC0415

    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT tableoid::regclass::text, count(*) FROM events "
                            "GROUP BY 1").fetchall()
    return {name: n for name, n in rows}


def fresh_pg(dsn: str) -> EventStore:
    import psycopg  # noqa: PLC0415

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS events, stations, quarantine CASCADE")
    return open_store(dsn)


def test_each_day_has_its_partition_and_a_redelivery_is_stored_once(pg_dsn: str) -> None:
    store = fresh_pg(pg_dsn)
    ahead = (NOW + dt.timedelta(days=5)).strftime("%Y-%m-%dT08:00:00.000Z")
    batch = [dated(1, "2026-12-02T23:59:59.999Z"), dated(2, "2026-12-03T00:00:00.000Z"),
             dated(3, "xZ"), dated(4, ahead)]
    assert store.write(Batch(events=batch), NOW).new == 4
    assert store.write(Batch(events=batch[::-1]), NOW + dt.timedelta(days=3)).new == 0
    assert partition_rows(pg_dsn) == {"events_20261202": 1, "events_20261203": 1,
                                      "events_other": 2}
    # Five days on, that day's partition cannot take its early row out of the default:
    # the day's events stay there, and the early one is still stored once.
    later = NOW + dt.timedelta(days=5)
    assert store.write(Batch(events=[dated(4, ahead), dated(5, ahead)]), later).new == 1
    assert partition_rows(pg_dsn)["events_other"] == 3
    assert store.count("events") == 5 and progress(store)["l-days"] == (5, 5)
    store.close()


def test_a_database_from_before_partitioning_keeps_its_rows(pg_dsn: str) -> None:
    import psycopg  # noqa: PLC0415

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS events, stations, quarantine CASCADE")
        for statement in shapes.POSTGRESQL["4af84ff high-water mark"]:
            conn.execute(statement.encode())
        for seq in (1, 2):
            body, raw, _ = event(seq, "old")
            conn.execute("INSERT INTO events VALUES (%s, 's', 'old', %s, 1, %s, %s, %s, now())",
                         [body["id"], seq, body["ts"], body["type"], raw])
    store = open_store(pg_dsn)
    assert partition_rows(pg_dsn) == {"events_20261203": 2}
    assert store.write(Batch(events=[event(2, "old"), event(3, "old")]), NOW).new == 1
    store.close()


def test_a_database_made_with_jsonb_payloads_keeps_them_and_stores_once(pg_dsn: str) -> None:
    """Databases made before the payload became json keep jsonb: the batch's COPY and
    the redelivery path (staging is made LIKE events) both work on it."""
    import psycopg  # noqa: PLC0415

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS events, stations, quarantine CASCADE")
        for statement in shapes.POSTGRESQL["6e38f4e paper cards, jsonb"]:
            conn.execute(statement.encode())
    store = open_store(pg_dsn)
    assert store.write(Batch(events=[event(1, "l-jb"), event(2, "l-jb")]), NOW).new == 2
    assert store.write(Batch(events=[event(2, "l-jb"), event(3, "l-jb")]), NOW).new == 1
    assert [e.seq for e in store.iter_events()] == [1, 2, 3]
    assert store.conn.execute(
        "SELECT atttypid::regtype::text FROM pg_attribute WHERE attrelid = 'events'::regclass "
        "AND attname = 'payload'").fetchone() == ("jsonb",)
    store.close()


def test_a_message_postgresql_refuses_is_quarantined_and_the_rest_stored(pg_dsn: str) -> None:
    """A session of 2**63 passes the schemas (an integer ≥ 1) but not PostgreSQL's
    bigint: without sorting, the whole batch would fail again and again, unacknowledged."""
    from central.ingest.poison import write_sorting  # noqa: PLC0415

    store = fresh_pg(pg_dsn)
    events = [event(seq, "l-nul") for seq in range(1, 7)]
    poisoned = {**events[3].body, "session": 2**63}
    events[3] = arrived(poisoned)._replace(topic="as/it/arrived")   # kept, not rebuilt
    status = {"v": 1, "state": "online", "site": "s", "station": "l-nul", "session": 1,
              "connection": 1, "backlog": 0, "last_seq": 6}
    result = write_sorting(store, Batch(events=events, statuses=statuses(status)), lambda: NOW)
    assert result is not None
    written, refused_events, refused_statuses = result
    assert (written.new, refused_events, refused_statuses) == (5, 1, 0)
    assert store.count("events") == 5 and store.count("quarantine") == 1
    assert store.gaps() == [("s", "l-nul", 4, 4)]   # asked for again: quarantined again
    assert store.conn.execute(  # type: ignore[attr-defined]
        "SELECT topic FROM quarantine").fetchall() == [("as/it/arrived",)]
    store.close()


def test_payloads_with_copys_separators_and_escapes_are_stored_as_they_came(
        pg_dsn: str) -> None:
    """The batch goes to PostgreSQL in COPY's text format, written by us: a payload with
    tabs, newlines, carriage returns between its tokens and backslashes in its strings
    (even one reading \\N, COPY's NULL) arrives whole, and PostgreSQL reads it back equal:
    the very text the station sent, byte for byte, and the same event as parsed."""
    store = fresh_pg(pg_dsn)
    body = {**event(1, "l-esc").body, "data": {"tube": "T\\N\t\\\\x\n\r\\"}}
    raw = json.dumps(body, indent="\t").replace("\n", "\r\n")
    assert all(c in raw for c in ("\t", "\r\n", "\\\\N"))
    # An id with a tab, a site with a backslash (the contract bounds them less than the
    # station and type): their payload holds them escaped, so their row is escaped too.
    odd = {**event(2, "l-esc").body, "id": "id\twith\\tab", "site": "s\\N"}
    assert store.write(Batch(events=[arrived(body, raw), arrived(odd)]), NOW).new == 2
    assert [msgspec.to_builtins(e) for e in store.iter_events()
            if e.station == "l-esc"] == [body, odd]
    assert store.conn.execute(  # type: ignore[attr-defined]
        "SELECT payload::text FROM events WHERE station = 'l-esc'").fetchone() == (raw,)
    store.close()


def test_a_database_from_before_the_fact_columns_reads_them_from_its_payloads(
        tmp_path: Path, pg_dsn: str) -> None:
    """The subject and clock columns are read once from what an older collector stored, so
    a result finds its tube and a day finds its events."""
    import psycopg  # noqa: PLC0415

    unset = {**event(2, "old-f").body, "clock_synced": False}
    rows = [(e.body, e.raw) for e in (event(1, "old-f"), arrived(unset))]
    old = sqlite3.connect(tmp_path / "old.db")
    for statement in shapes.SQLITE["6e38f4e paper cards"]:
        old.execute(statement)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS events, stations, quarantine CASCADE")
        for statement in shapes.POSTGRESQL["7be4e10 json"]:
            conn.execute(statement.encode())
        for body, raw in rows:
            values = [body["id"], body["seq"], body["ts"], body["type"], raw]
            old.execute("INSERT INTO events VALUES (?, 's', 'old-f', ?, 1, ?, ?, ?, '')", values)
            conn.execute("INSERT INTO events VALUES (%s, 's', 'old-f', %s, 1, %s, %s, %s, "
                         "now(), '2026-12-03')", values)
    old.commit()
    old.close()
    for target in (str(tmp_path / "old.db"), pg_dsn):
        store = open_store(target)
        facts = store.conn.execute(
            "SELECT subject, unsynced FROM events ORDER BY seq").fetchall()
        assert [(tube, bool(unsynced)) for tube, unsynced in facts] == [
            ("T000001", False), ("T000002", True)], target
        store.close()
