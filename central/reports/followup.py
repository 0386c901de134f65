"""`report followup`: each person of a positive or invalid pool, from the pool's result to
their own (单管复核), one status each, as a district office follows a positive pool.

A pool's people are the recall list's (recall.py: tubes tested in the period whose
deciding result is positive or invalid, everyone still in them after undo and void). A
person's retests are their later single tubes (opened with `pool_size = 1`, at any lane)
of the same document (type and number; a child under its guardian's document also by its
name: projection.who), linked in this report's opening stage: the
collector holds no private key and so never sees a number to link by. Each person gets
one status:

- confirmed: a retest's single tube is positive (any of them: a later negative never
  hides a positive, as for a pool);
- to_resample: no single tube sampled since the pool's result (one sampled between the
  pool's swab and its result is not a retest: the note says so, and the person is still
  to be sampled);
- invalid_again: their latest single tube is invalid: to be sampled once more;
- waiting: their latest single tube has no result yet (its tube, time and lane shown);
- cleared: their latest single tube is negative.

Hours since the pool's result at each step (re-sampled, its result, and now for who is
not done); flagged (`overdue`) past the bounds (`Bounds`): re-sampling (`resample`) counted
from the pool's result (or an invalid retest's), a single result (`result`) from the
retest's swab. Confirmed first, then those to sample, the waiting, the cleared.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from central.reports.opening import Persons
from central.reports.period import Period
from central.reports.projection import Registration, Who, who
from central.reports.recall import by_tube, deciding, known_by, registered_in, to_recall
from central.site_facts import RESAMPLE_WITHIN, RETEST_RESULT_WITHIN, SWAB_TESTED_WITHIN
from central.store.event_store import SqlEventStore
from central.store.lab_tables import StoredResult
from contract import instant

log = logging.getLogger("central.followup")

Status = Literal["confirmed", "to_resample", "invalid_again", "waiting", "cleared"]
ORDER: tuple[Status, ...] = ("confirmed", "to_resample", "invalid_again", "waiting",
                             "cleared")
Step = Literal["resample", "result"]
STEPS: tuple[Step, ...] = ("resample", "result")


@dataclass(frozen=True)
class Bounds:
    """As of when a follow-up is judged, and how long each step may take."""

    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    resample: dt.timedelta = RESAMPLE_WITHIN
    result: dt.timedelta = RETEST_RESULT_WITHIN


@dataclass(frozen=True)
class Retest:
    """A single tube of a person, with its deciding result (None: pending)."""

    reg: Registration
    result: StoredResult | None

    @property
    def at(self) -> dt.datetime:
        return instant(self.reg.time)


def followup_rows(store: SqlEventStore, span: Period, persons: Persons,
                  bounds: Bounds) -> list[dict[str, Any]]:
    """One row per person of the period's positive and invalid pools."""
    rows = followed(store, pools_of(store, to_recall(store, span, bounds.at)), persons, bounds)
    rows.sort(key=lambda r: (ORDER.index(r["followup"]), not r["overdue"],
                             r["pool_tested_at"], r["pool_tube"], r["site"], r["station"],
                             r["position"]))
    log.debug("followup: %d people", len(rows))
    return rows


def pools_of(store: SqlEventStore, recall: dict[str, StoredResult]
             ) -> dict[str, StoredResult]:
    """The pools among tubes to recall: a positive single tube is already a person's own
    result, a retest, not a pool."""
    sizes = store.pool_sizes(recall)
    return {tube: r for tube, r in recall.items() if sizes.get(tube) != 1}


def followed(store: SqlEventStore, pools: dict[str, StoredResult], persons: Persons,
             bounds: Bounds) -> list[dict[str, Any]]:
    """A row per person of these pools (tube → its deciding result), as of `bounds.at`:
    single tubes sampled after it, and results tested after it, are not yet known."""
    if not pools:
        return []
    since = min(instant(r.tested_at) for r in pools.values()) - SWAB_TESTED_WITHIN
    singles = store.singles_since(since) - set(pools)
    regs = registered_in(store, {*pools, *singles}, persons)
    known = known_by(store.results_of(singles), bounds.at)
    retests = linked([r for r in regs if r.tube in singles and instant(r.time) <= bounds.at],
                     known)
    return [person_row(reg, pools[reg.tube], retests.get(who(reg), []), bounds)
            for reg in regs if reg.tube in pools]


def linked(regs: Iterable[Registration], results: Iterable[StoredResult]
           ) -> dict[Who | None, list[Retest]]:
    """Each document's single tubes, oldest first, with their deciding results."""
    decided = {tube: deciding(found) for tube, found in by_tube(results).items()}
    found: dict[Who | None, list[Retest]] = defaultdict(list)
    for reg in sorted(regs, key=lambda r: instant(r.time)):
        if (key := who(reg)) is not None:
            found[key].append(Retest(reg, decided.get(reg.tube)))
    return found


def status_of(after: list[Retest]) -> tuple[Status, Retest | None]:
    """A person's status from their retests since the pool's result, and the retest
    that decides it."""
    positive = [t for t in after if t.result is not None and t.result.result == "positive"]
    if positive:
        return "confirmed", positive[0]
    if not after:
        return "to_resample", None
    latest = after[-1]
    if latest.result is None:
        return "waiting", latest
    return ("cleared" if latest.result.result == "negative" else "invalid_again"), latest


def person_row(reg: Registration, pool: StoredResult, retests: list[Retest],
               bounds: Bounds) -> dict[str, Any]:
    """A pool member's row: the pool, the person, their deciding retest, hours, flags."""
    result_at = instant(pool.tested_at)
    swabbed = instant(reg.time)
    after = [t for t in retests if t.at > result_at]
    before = [t for t in retests if swabbed < t.at <= result_at]
    status, retest = status_of(after)
    row = {**reg.row(), "followup": status, "pool_result": pool.result,
           "pool_tube": reg.tube, "pool_lab": pool.lab, "pool_tested_at": pool.tested_at,
           "overdue": overdue(status, result_at, retest, bounds),
           "note": note(reg, [] if after else before), **retest_columns(retest, result_at)}
    if status in ("to_resample", "invalid_again", "waiting"):
        row["waited_h"] = hours(bounds.at - result_at)
    return row


def overdue(status: Status, result_at: dt.datetime, retest: Retest | None,
            bounds: Bounds) -> Step | Literal[""]:
    """Which step is past its bound, if any."""
    if status == "to_resample":
        return "resample" if bounds.at - result_at > bounds.resample else ""
    if status == "invalid_again" and retest is not None and retest.result is not None:
        late = bounds.at - instant(retest.result.tested_at) > bounds.resample
        return "resample" if late else ""
    if status == "waiting" and retest is not None:
        return "result" if bounds.at - retest.at > bounds.result else ""
    return ""


def note(reg: Registration, before: list[Retest]) -> str:
    """Why a person is still to be sampled who seems not to be: no number to link by, or
    a single tube of theirs sampled between the pool's swab and its result."""
    if not reg.id_number:
        return "not_opened"       # no number to link by: shown, never guessed
    return "before_result" if before else ""


def retest_columns(retest: Retest | None, result_at: dt.datetime) -> dict[str, Any]:
    if retest is None:
        return {}
    reg, found = retest.reg, retest.result
    columns: dict[str, Any] = {
        "retest_tube": reg.tube, "retest_time": reg.time, "retest_site": reg.site,
        "retest_station": reg.station, "retest_result": "pending",
        "resampled_h": hours(retest.at - result_at)}
    if found is not None:
        columns |= {"retest_result": found.result, "retest_tested_at": found.tested_at,
                    "retest_lab": found.lab,
                    "result_h": hours(instant(found.tested_at) - result_at)}
    return columns


def hours(span: dt.timedelta) -> float:
    return round(span.total_seconds() / 3600, 1)
