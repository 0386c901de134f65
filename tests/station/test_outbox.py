"""The uplink's connection on a real SQLite file: its marks keep the WAL's restart (a
header written and synced) off the core's commits, which the operator waits for."""

from pathlib import Path

import pytest

from station.core.identity import nth_synthetic_id
from station.core.messages import CodeScanned, Record
from station.core.state import State
from station.core.workflow import Workflow
from station.outbox import Outbox
from station.store import Store
from tests.station.test_store import DIGESTS, NOW, RULES

WAL_HEADER_SALT = slice(16, 24)   # new at every restart of the WAL (sqlite's fileformat)


def salt(db: Path) -> bytes:
    with open(f"{db}-wal", "rb") as wal:
        return wal.read(32)[WAL_HEADER_SALT]


def test_the_core_never_restarts_the_wal_when_the_uplink_marks(tmp_path: Path) -> None:
    """A lane's day in little: every commit of the core followed by the uplink's mark of
    what it wrote, until SQLite's checkpoints (at 1,000 pages, on the uplink's
    connection) have emptied the WAL several times. Each restart is the uplink's."""
    db = tmp_path / "station.db"
    store, outbox = Store(db, "S1", "L1", digests=DIGESTS), Outbox(db)
    flow, state = Workflow(RULES, store.digests), State()
    restarts = {"core": 0, "uplink": 0}
    person = marked = 0
    while restarts["uplink"] < 3 and person < 5_000:
        person += 1
        codes = [f"T{person:06d}"] if person % 3 == 1 else []
        for code in [*codes, nth_synthetic_id(person)]:
            state, effects = flow.step(state, CodeScanned(code), NOW)
            records = [e for e in effects if isinstance(e, Record)]
            if not records:
                continue
            before = salt(db) if Path(f"{db}-wal").exists() else b""
            store.commit([f for r in records for f in r.facts], state, NOW, True,
                         marks=[m for r in records for m in r.marks])
            restarts["core"] += bool(before) and salt(db) != before
            before = salt(db)
            outbox.mark_delivered(range(marked + 1, store.last_seq + 1), NOW)
            marked = store.last_seq
            restarts["uplink"] += salt(db) != before
    assert restarts == {"core": 0, "uplink": 3}


def test_a_restart_that_fails_is_said_and_fails_no_mark(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The write after a checkpoint is housekeeping: one that fails (here a connection
    that may not write) is logged, and the mark it followed stands."""
    db = tmp_path / "station.db"
    store, outbox = Store(db, "S1", "L1", digests=DIGESTS), Outbox(db)
    flow = Workflow(RULES, store.digests)
    state, effects = flow.step(State(), CodeScanned("T000001"), NOW)
    store.commit([f for e in effects if isinstance(e, Record) for f in e.facts], state, NOW,
                 True)
    outbox.mark_delivered([1], NOW)
    outbox.db.conn.execute("PRAGMA query_only=ON")
    outbox._checkpointed = (0, 0)   # as if a checkpoint had written the main file
    outbox._restart_wal()
    assert "the WAL not started over here" in caplog.text
    assert outbox.backlog() == 0
