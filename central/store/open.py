"""Which event store a target names: a postgresql:// DSN, or else a SQLite file path.

Apart from both stores, so that neither imports the other (pg.py builds on
event_store.py's shared promises)."""

from __future__ import annotations

import argparse
from pathlib import Path

from central.store.event_store import SqlEventStore
from central.store.sqlite import SqliteEventStore


def missing(target: str) -> str | None:
    """Why a target names no store, or None: a SQLite file that is not there (opening it
    would make an empty one, and a report of nothing would read as all well)."""
    if "://" in target or Path(target).is_file():
        return None
    return f"{target}: no such database"


def db_option(p: argparse.ArgumentParser,
              text: str = "the collector's SQLite file or DSN") -> None:
    """`--db`, as every command that reads or writes the store takes it."""
    p.add_argument("--db", required=True, help=text)


def open_store(target: str, *, writes: bool = False) -> SqlEventStore:
    """`writes`: the collector's store, which a PostgreSQL standby refuses."""
    if target.startswith(("postgresql://", "postgres://")):
        from central.store.pg import PgEventStore  # noqa: PLC0415 - needs psycopg

        return PgEventStore(target, writes=writes)
    return SqliteEventStore(Path(target))
