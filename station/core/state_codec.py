"""The workflow's working state to and from JSON, for the store's snapshot row.

The two sets that grow all day (closed tubes, people sampled today) are not in the
snapshot: the store keeps them in tables and writes each change the workflow marks
(messages.Mark), never comparing whole sets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from msgspec.structs import replace

from contract.events import Person
from station.core.digests import duplicate_key
from station.core.identity import mask_name
from station.core.state import BoxedTube, Sample, State, Tube, WaitingBox


def _tube_to_json(tube: Tube | None) -> dict[str, Any] | None:
    if tube is None:
        return None
    # The name's mask only: Sample.number (the ID's mask) never reaches the card (#39).
    return {"tube": tube.tube, "day": tube.day.isoformat() if tube.day else None,
            "samples": [{"who": s.who, "key": s.key, "repeat_today": s.repeat_today}
                        for s in tube.samples]}


def _sample(data: dict[str, Any], keys: Callable[[str], str]) -> Sample:
    if "person" in data:   # a snapshot from before sealing: the person becomes its digest
        person = Person.from_json(data["person"])
        return Sample(mask_name(person.name), keys(duplicate_key(person)), data["repeat_today"])
    # Before #39 `who` also held the ID number's mask ("张*丰 1101**********002X").
    return Sample(data["who"].split(" ")[0], data["key"], data["repeat_today"])


def _tube_from_json(data: dict[str, Any] | None, keys: Callable[[str], str]) -> Tube | None:
    if data is None:
        return None
    day = data.get("day")
    return Tube(data["tube"], tuple(_sample(s, keys) for s in data["samples"]),
                dt.date.fromisoformat(day) if day else None)


def forget_keys(state: State) -> State:
    """The state with its samples' digests blanked: made under a secret that is gone, they
    can never match again (station.store, when the day's check starts afresh)."""
    return replace(state, tube=state.tube and state.tube.forgotten(),
                   last_sealed=state.last_sealed and state.last_sealed.forgotten())


def snapshot(state: State) -> dict[str, Any]:
    return {
        "day": state.day.isoformat() if state.day else None,
        "tube": _tube_to_json(state.tube),
        "box": [[b.tube, b.count] for b in state.box],
        "last_sealed": _tube_to_json(state.last_sealed),
        "minted": state.minted,
        "boxes": state.boxes,
        "operator": state.operator,
        "waiting": [{"box": w.box, "tubes": list(w.tubes), "sample_count": w.sample_count,
                     "closed_at": w.closed_at.isoformat()} for w in state.waiting],
    }


def restore(data: dict[str, Any], closed: frozenset[str], sampled: frozenset[str],
            keys: Callable[[str], str]) -> State:
    """`keys`: ID number → the digest, for a snapshot written before sealing."""
    return State(
        day=dt.date.fromisoformat(data["day"]) if data["day"] else None,
        tube=_tube_from_json(data["tube"], keys),
        box=tuple(BoxedTube(t, c) for t, c in data["box"]),
        last_sealed=_tube_from_json(data["last_sealed"], keys),
        closed_tubes=closed,
        sampled_today=sampled,
        minted=data["minted"],
        boxes=data["boxes"],
        # Snapshots from before sign-in and dispatch have neither.
        operator=data.get("operator", ""),
        waiting=tuple(WaitingBox(w["box"], tuple(w["tubes"]), w["sample_count"],
                                 dt.datetime.fromisoformat(w["closed_at"]))
                      for w in data.get("waiting", [])),
    )
