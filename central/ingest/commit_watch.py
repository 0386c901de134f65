"""A commit that does not return, said within a bound.

A database can take a collector's connection and its writes and never commit them: a
primary whose synchronous standby is gone (Patroni's synchronous_mode_strict, or a
replica promoted by hand that kept the `synchronous_standby_names` pg_basebackup copied)
holds every commit until a standby confirms it. The collector's batch then waits in its
commit, unacknowledged, as it must (the broker keeps the rest); what it must not do is
wait unsaid. Each wait on the database (a batch's commit, a reconnection, opening the
store) is timed here; a watchdog thread says once, after COMMIT_DEADLINE_S, what waits
and what the server says it waits for (a second connection asks pg_stat_activity), and
again when it commits. `natest_database_commit_wait_seconds` is the longest wait in
progress (0: none), read at each scrape.

The wait is never cut short. Cancelling a commit that waits for a synchronous standby
(statement_timeout, pg_cancel_backend) makes PostgreSQL end the wait with a warning
and report the commit as done, though it is on the primary alone: the collector would
acknowledge what a failover then loses (ARCHITECTURE.md, "A database that does not
commit").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger("central.collector")

COMMIT_DEADLINE_S = 10.0   # a commit waiting longer is said (a batch commits in ~0.05 s)
TICK_S = 1.0


@dataclass
class Wait:
    what: str                       # "a batch of 812 messages"
    since: float
    why: Callable[[], str]          # what the server says it waits for
    said: bool = False


class CommitWatch:
    def __init__(self, deadline_s: float = COMMIT_DEADLINE_S) -> None:
        self.deadline_s = deadline_s
        self._waits: dict[int, Wait] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.stalls = 0   # waits said, since the start

    def longest_s(self) -> float:
        """The longest wait in progress, in seconds (0: none)."""
        now = time.monotonic()
        with self._lock:
            return max((now - w.since for w in self._waits.values()), default=0.0)

    @contextmanager
    def waiting(self, what: str, why: Callable[[], str]) -> Iterator[None]:
        """Time one wait on the database; `why` asks the server, from the watchdog."""
        wait = Wait(what, time.monotonic(), why)
        key = id(wait)
        with self._lock:
            self._waits[key] = wait
            if self._thread is None:   # started on demand, ends when nothing waits
                self._thread = threading.Thread(target=self._watch, name="collector-commit-watch",
                                                daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                del self._waits[key]
            if wait.said:
                log.warning("the database answers again: %s waited %.0f s", what,
                            time.monotonic() - wait.since)

    def _watch(self) -> None:
        while True:
            time.sleep(TICK_S)
            now = time.monotonic()
            with self._lock:
                if not self._waits:
                    self._thread = None
                    return
                late = [w for w in self._waits.values()
                        if not w.said and now - w.since >= self.deadline_s]
                for wait in late:
                    wait.said = True
                    self.stalls += 1
            for wait in late:
                log.error("the database does not commit: %s has waited %.0f s (deadline "
                          "%.0f s): %s; it is held unacknowledged until the commit returns "
                          "(the broker keeps the rest)",
                          wait.what, now - wait.since, self.deadline_s,
                          wait.why() or "the database does not say why")
