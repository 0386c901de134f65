"""Asking stations for missing seqs, and reading their answers.

A gap that outlives a grace period is asked for with cmd/replay, again every retry
period while it stays open. Each command carries a request id; the station's reply
echoes it and says what became of every seq: republished, purged after its retention
(lost for good: said loudly, once), never recorded, or cut by the station's limit, in
which case the rest is asked for at once. Pure bookkeeping: the collector publishes.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import contract

log = logging.getLogger("central.replays")

Gap = tuple[str, str, int, int]  # site, station, first missing seq, last missing seq


@dataclass(frozen=True, slots=True)
class Command:
    topic: str
    payload: str


@dataclass
class ReplayAsker:
    grace_s: float = 10.0
    retry_s: float = 30.0
    asked_total: int = 0
    purged_total: int = 0
    _seen: dict[tuple[str, str, int], float] = field(default_factory=dict)   # → first seen
    _asked: dict[tuple[str, str, int], float] = field(default_factory=dict)  # → last asked
    _pending: dict[str, tuple[str, str]] = field(default_factory=dict)  # request id → station

    def check(self, gaps: list[Gap], now: float) -> list[Command]:
        """The commands to send now for these gaps (each station's first)."""
        current = {(site, station, first) for site, station, first, _ in gaps}
        for key in [k for k in self._seen if k not in current]:   # filled
            self._seen.pop(key)
            self._asked.pop(key, None)
        commands = []
        for site, station, first, last in gaps:
            key = (site, station, first)
            seen = self._seen.setdefault(key, now)
            if now - seen < self.grace_s or now - self._asked.get(key, -1e9) < self.retry_s:
                continue
            self._asked[key] = now
            log.warning("%s/%s: seq %d–%d missing, asking for a replay", site, station,
                        first, last)
            commands.append(self._ask(site, station, first, last))
        return commands

    def oldest_gap_s(self, now: float) -> float:
        """How long the oldest gap still open has been seen open; 0 with none."""
        return now - min(self._seen.values()) if self._seen else 0.0

    def replied(self, site: str, station: str, body: dict[str, Any]) -> list[Command]:
        """Take a station's reply; the follow-up commands (the rest of a cut range)."""
        if self._pending.pop(body.get("request_id", ""), None) is None:
            return []  # another collector's question, or an old station's reply
        if "error" in body:
            log.error("%s/%s refused a replay command: %s", site, station, body["error"])
            return []
        if body["purged"]:
            self.purged_total += body["purged"]
            log.error("%s/%s: %d events in seq %d–%d were purged at the station after its "
                      "retention: lost for good, re-sample those people", site, station,
                      body["purged"], body["from_seq"], body["served_to"])
        if body["cut_from"] is not None:
            return [self._ask(site, station, body["cut_from"], body["to_seq"])]
        return []

    def _ask(self, site: str, station: str, first: int, last: int) -> Command:
        request_id = uuid.uuid4().hex
        self._pending[request_id] = (site, station)
        self.asked_total += 1
        return Command(contract.replay_topic(site, station), json.dumps(
            {"v": contract.VERSION, "request_id": request_id, "from_seq": first,
             "to_seq": last}))
