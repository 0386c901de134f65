"""Which event store a target names: a postgresql:// DSN, or else a SQLite file path.

Apart from both stores, so that neither imports the other (pg.py builds on
event_store.py's shared SQL)."""

from __future__ import annotations

from pathlib import Path

from central.store.event_store import SqlEventStore
from central.store.sqlite import SqliteEventStore


def open_store(target: str) -> SqlEventStore:
    if target.startswith(("postgresql://", "postgres://")):
        from central.store.pg import PgEventStore  # noqa: PLC0415 - needs psycopg

        return PgEventStore(target)
    return SqliteEventStore(Path(target))
