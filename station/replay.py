"""The `cmd/replay` command and its honest reply, as pure functions.

A collector that misses seqs asks for a range; the station republishes what it still
holds and then says exactly what happened to every seq asked for: republished, purged
after the retention, never recorded (beyond its last seq), or left for another command
by the limit. A request id, echoed, lets the collector that asked recognise its answer
among many in a shared group.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

import contract

LIMIT = 10_000  # seqs one command may cover; the reply says where the rest starts


class ReplayRequest(msgspec.Struct, frozen=True):
    first: int
    last: int             # as asked; served_to is where this command stops
    request_id: str = ""  # absent from collectors before contract 1.1

    @property
    def served_to(self) -> int:
        return min(self.last, self.first + LIMIT - 1)


def parse(payload: bytes) -> ReplayRequest:
    """The request; ValueError names what is wrong."""
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise ValueError("not JSON") from exc
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    first, last = body.get("from_seq"), body.get("to_seq")
    request_id = body.get("request_id", "")
    if type(first) is not int or type(last) is not int:
        raise ValueError("from_seq and to_seq must be whole numbers")
    if not 1 <= first <= last:
        raise ValueError("need 1 <= from_seq <= to_seq")
    if not isinstance(request_id, str) or len(request_id) > 64:
        raise ValueError("request_id must be a string of at most 64 characters")
    return ReplayRequest(first, last, request_id)


def request_id_of(payload: bytes) -> str:
    """The request id of a command that failed to parse, where one can be read."""
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError):
        return ""
    found = body.get("request_id") if isinstance(body, dict) else None
    return found if isinstance(found, str) and len(found) <= 64 else ""


def answer(request: ReplayRequest, republished: int, last_seq: int) -> dict[str, Any]:
    """What became of every seq asked for. `republished` events were found and sent again
    from first..served_to; of the rest, those up to the station's last seq were purged
    after the retention, those beyond it were never recorded."""
    served = request.served_to
    recorded = max(0, min(served, last_seq) - request.first + 1)
    return {
        "v": contract.VERSION,
        "request_id": request.request_id,
        "from_seq": request.first,
        "to_seq": request.last,
        "served_to": served,
        "limit": LIMIT,
        "republished": republished,
        "purged": recorded - republished,
        "not_recorded": (served - request.first + 1) - recorded,
        "cut_from": served + 1 if served < request.last else None,
    }


def refusal(reason: str, request_id: str) -> dict[str, Any]:
    return {"v": contract.VERSION, "request_id": request_id, "error": f"malformed: {reason}"}
