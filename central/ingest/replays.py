"""Asking stations for missing seqs, and reading their answers.

A gap that outlives a grace period is asked for with cmd/replay, again every retry
period while it stays open. Each command carries a request id; the station's reply
echoes it and says what became of every seq: republished, purged after its retention
(lost for good: said loudly, once), never recorded, or cut by the station's limit, in
which case the rest is asked for at once. Pure bookkeeping: the collector publishes.

The log says a station's gap once, when first asked for (the retries are DEBUG), and
once more when it closes: the station has no gap left below its newest seq, or only
one beyond the range said (a new gap, said anew). A gap that fills from its start
moves its first seq on; it is still the gap that was said.
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
class _Said:
    """A station's gap the log has said: the range so far, when first asked, how often."""

    first: int
    last: int
    since: float
    asks: int = 1


@dataclass
class ReplayAsker:
    grace_s: float = 10.0
    retry_s: float = 30.0
    asked_total: int = 0
    purged_total: int = 0
    _seen: dict[tuple[str, str, int], float] = field(default_factory=dict)   # → first seen
    _asked: dict[tuple[str, str, int], float] = field(default_factory=dict)  # → last asked
    _pending: dict[str, tuple[str, str]] = field(default_factory=dict)  # request id → station
    _said: dict[tuple[str, str], _Said] = field(default_factory=dict)   # station → its gap

    def check(self, gaps: list[Gap], now: float) -> list[Command]:
        """The commands to send now for these gaps (each station's first)."""
        current = {(site, station, first) for site, station, first, _ in gaps}
        for key in [k for k in self._seen if k not in current]:   # filled
            self._seen.pop(key)
            self._asked.pop(key, None)
        self._closed(gaps, now)
        commands = []
        for site, station, first, last in gaps:
            key = (site, station, first)
            seen = self._seen.setdefault(key, now)
            if now - seen < self.grace_s or now - self._asked.get(key, -1e9) < self.retry_s:
                continue
            self._asked[key] = now
            self._say(site, station, first, last, now)
            commands.append(self._ask(site, station, first, last))
        return commands

    def _say(self, site: str, station: str, first: int, last: int, now: float) -> None:
        said = self._said.get((site, station))
        if said is None:
            self._said[site, station] = _Said(first, last, now)
            log.warning("%s/%s: seq %d–%d missing, asking for a replay", site, station,
                        first, last)
            return
        said.last, said.asks = max(said.last, last), said.asks + 1
        log.debug("%s/%s: seq %d–%d still missing, asking again", site, station, first, last)

    def _closed(self, gaps: list[Gap], now: float) -> None:
        """Say each gap said before that is no longer there: it closed."""
        firsts = {(site, station): first for site, station, first, _ in gaps}
        for (site, station), said in list(self._said.items()):
            if firsts.get((site, station), said.last + 1) <= said.last:
                continue   # still open, maybe smaller
            del self._said[site, station]
            log.info("%s/%s: seq %d–%d now stored: the gap closed after %.0f s (asked %d "
                     "time%s)", site, station, said.first, said.last, now - said.since,
                     said.asks, "" if said.asks == 1 else "s")

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
