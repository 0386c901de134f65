"""Days of lanes written straight into a collector's store, at chosen times: what a city's
campaign looks like to central (several lanes, pooled and single tubes, undo, void,
boxes dispatched), for reports by day, results, recall and custody.

Every event is a contract record (contract.events), encoded as a station encodes it, and
goes through the collector's own batch write; `received` is when central stored it.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import contract
from central.store.event_store import Arrived, Batch, EventStore
from contract.events import (
    ENVELOPES,
    BoxClosed,
    BoxDispatched,
    EventData,
    Person,
    SampleCancelled,
    SampleRegistered,
    SampleRegisteredEncrypted,
    TubeOpened,
    TubeSealed,
    TubeVoided,
    encode_event,
)
from station.sealing import Sealer
from tests.people import nth_person


def person(n: int, phone: str = "", address: str = "") -> Person:
    """The n-th test person: a valid number, a name, a phone and an address of their own."""
    number = nth_person(n)
    return Person("resident", number, f"测试{n}", "male" if int(number[16]) % 2 else "female",
                  f"{number[6:10]}-{number[10:12]}-{number[12:14]}",
                  phone=phone or f"1390000{n:04d}", address=address or f"幸福路{n}号",
                  card_address=f"户籍街{n}号")


@dataclass
class Lane:
    site: str
    station: str
    clock_synced: bool = True
    operator: str = "S1001"
    seq: int = 0
    events: list[Arrived] = field(default_factory=list)
    sealer: Sealer | None = None   # persons sealed as a lane seals them (contract 1.4)

    def add(self, fact: EventData, at: dt.datetime) -> None:
        self.seq += 1
        event_id = str(uuid.uuid4())
        if self.sealer is not None and isinstance(fact, SampleRegistered):
            fact = SampleRegisteredEncrypted.of(fact, self.sealer.seal(event_id, fact.person))
        event = ENVELOPES[fact.type](
            v=contract.VERSION, id=event_id, site=self.site, station=self.station,
            seq=self.seq, session=1, ts=contract.rfc3339(at), clock_synced=self.clock_synced,
            operator=self.operator, data=fact)  # type: ignore[arg-type]
        raw = encode_event(event).decode()
        topic = contract.event_topic(self.site, self.station, fact.type)
        self.events.append(Arrived(json.loads(raw), raw, topic))

    def tube(self, tube: str, people: list[Person], at: dt.datetime, *,
             undo: int = 0, void: bool = False) -> dt.datetime:
        """A tube opened, its people registered a minute apart, the `undo`-th cancelled,
        then sealed (or voided); the time after it."""
        self.add(TubeOpened(tube, 10 if len(people) > 1 else 1), at)
        for position, someone in enumerate(people, 1):
            at += dt.timedelta(minutes=1)
            self.add(SampleRegistered(tube, position, "card", someone, False), at)
        if undo:
            self.add(SampleCancelled(tube, undo), at)
        at += dt.timedelta(minutes=1)
        if void:
            self.add(TubeVoided(tube, len(people) - bool(undo), "open"), at)
        else:
            self.add(TubeSealed(tube, len(people) - bool(undo),
                                "full" if len(people) in (1, 10) else "operator"), at)
        return at

    def box(self, box: str, tubes: dict[str, int], at: dt.datetime,
            courier: str = "") -> None:
        """A box closed with these tubes (tube → samples), and handed to `courier`."""
        self.add(BoxClosed(box, tuple(tubes), len(tubes), sum(tubes.values())), at)
        if courier:
            self.add(BoxDispatched(box, courier, len(tubes), sum(tubes.values())),
                     at + dt.timedelta(minutes=5))

    def deliver(self, store: EventStore, received: dt.datetime | None = None) -> None:
        """Everything so far, stored as a collector stores it; received now (or then)."""
        store.write(Batch(events=self.events), received or dt.datetime.now(dt.UTC))
        self.events = []


def shanghai(day: str, hour: int, minute: int = 0) -> dt.datetime:
    """A time of a Shanghai day, aware."""
    return dt.datetime.fromisoformat(f"{day}T{hour:02d}:{minute:02d}:00+08:00")


def lab_results(db: str, folder: Path, *rows: str) -> None:
    """A lab's results, each row "tube,result,lab,tested_at" (the lab's local time),
    imported into `db` from a CSV in `folder` as a lab's system exports it."""
    from central.cli import main  # noqa: PLC0415 - the lanes' days need no command line

    lis = folder / "lis.csv"
    lis.write_text("\n".join(["tube,result,lab,tested_at", *rows, ""]), encoding="utf-8")
    assert main(["import-results", str(lis), "--db", db]) == 0
