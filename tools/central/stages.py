"""Where a collector's CPU per event goes: each stage of its path, alone, in one process.

The same work the collector does for every message (central/mqtt/codec.py, contract,
central/ingest/validation.py, the store's write), timed stage by stage with the process's CPU
clock over the load generator's own events, the cyclic GC set as the collector sets it.
What a real run costs beyond their sum is the rest: the network, the threads, the
acknowledgements, the database driver's round trips.
"""

from __future__ import annotations

import datetime as dt
import gc
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import orjson

import contract
from central.ingest.session_rules import on_its_topic
from central.ingest.validation import Validators
from central.mqtt.codec import CHUNK, split_packets
from central.mqtt.codec import parse_publish as parse_one
from central.store.event_store import Arrived, Batch, SqlEventStore
from central.store.open import open_store
from tools.central.loadgen import day_of_events, publish_packet

STATIONS, PER_STATION, BATCH, ROUNDS = 50, 400, 1000, 3


def broker_bytes() -> bytes:
    """The stations' events as a broker sends them to an MQTT 5 subscriber: interleaved,
    each PUBLISH with an empty property list before its payload."""
    lanes = [day_of_events("bench", f"lane-{n:04d}", PER_STATION) for n in range(STATIONS)]
    packets = [publish_packet(topic, (i * STATIONS + n) % 65535 + 1, b"\x00" + payload)
               for i in range(PER_STATION) for n, lane in enumerate(lanes)
               for topic, payload in [lane[i]]]
    return b"".join(packets)


def parsed(data: bytes) -> list[tuple[str, bytes]]:
    """Split and parsed as the client reads: a socket's chunk at a time."""
    out: list[tuple[str, bytes]] = []
    pending = bytearray()
    for at in range(0, len(data), CHUNK):
        pending += data[at:at + CHUNK]
        packets, used = split_packets(pending)
        del pending[:used]
        out.extend(parse_one(flags, body)[:2] for _, flags, body in packets)
    return out


def cpu_us(work: Callable[[], Any], count: int) -> float:
    """The median over ROUNDS of the process CPU `work` takes, in µs per event."""
    spent = []
    for _ in range(ROUNDS):
        started = time.process_time()
        work()
        spent.append(time.process_time() - started)
    return statistics.median(spent) / count * 1e6


def stage_costs(stores: dict[str, Callable[[], AbstractContextManager[str]]]
                ) -> dict[str, float]:
    """µs of CPU per event for each stage, and for each store's write of the batches."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 10, 10)   # as central/cli.py sets it for the collector
    try:
        return _costs(stores)
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _costs(stores: dict[str, Callable[[], AbstractContextManager[str]]]) -> dict[str, float]:
    data = broker_bytes()
    received = parsed(data)
    count = len(received)
    valid = Validators()
    topics = [contract.parse_topic(topic) for topic, _ in received]
    bodies = [orjson.loads(payload) for _, payload in received]

    def checked() -> None:
        for body, topic in zip(bodies, topics, strict=True):
            valid.event(body)
            on_its_topic(body, topic)   # type: ignore[arg-type]

    costs = {"split and parse": cpu_us(lambda: parsed(data), count),
             "topic": cpu_us(lambda: [contract.parse_topic(t) for t, _ in received], count),
             "JSON decode": cpu_us(lambda: [(p.decode(), orjson.loads(p))
                                            for _, p in received], count),
             "validate": cpu_us(checked, count)}
    events = [Arrived(body, payload.decode(), topic)
              for body, (topic, payload) in zip(bodies, received, strict=True)]
    for name, opened in stores.items():
        costs[f"{name} write"] = _write_cost(opened, events)
    return costs


def _write_cost(opened: Callable[[], AbstractContextManager[str]], events: list[Arrived]
                ) -> float:
    """A fresh database each round: every batch new, as a day's are."""
    spent = []
    for _ in range(ROUNDS):
        with opened() as target:
            store = open_store(target)
            assert isinstance(store, SqlEventStore)
            now = dt.datetime.now(dt.UTC)
            started = time.process_time()
            for first in range(0, len(events), BATCH):
                store.write(Batch(events[first:first + BATCH], [], []), now)
            spent.append(time.process_time() - started)
            store.close()
    return statistics.median(spent) / len(events) * 1e6


def sqlite_files(work: Path) -> Callable[[], AbstractContextManager[str]]:
    """A new SQLite file each time: the store makes its tables."""
    made = iter(range(1, 1000))

    @contextmanager
    def fresh() -> Iterator[str]:
        yield str(work / f"stages-{next(made)}.db")

    return fresh


def table(costs: dict[str, float], runs: dict[str, float]) -> Iterator[str]:
    """The stages, then for each store its write and what a real run spent beyond."""
    yield "where a collector's CPU per event goes (stages alone, one process):"
    common = [name for name in costs if not name.endswith(" write")]
    for name in common:
        yield f"  {name:<18}{costs[name]:>6.1f} µs"
    shared = sum(costs[name] for name in common)
    for name, run in runs.items():
        write = costs.get(f"{name} write")
        if write is None:
            continue
        yield (f"  {name}: write {write:.1f} µs; stages {shared + write:.1f} of the run's "
               f"{run:.1f}: the rest (network, threads, acknowledgements) "
               f"{run - shared - write:.1f}")
