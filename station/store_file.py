"""The station's SQLite file: made whole or not at all, opened the one way, migrated.

The store's tables (station.store) live here as migrations, applied in order, each once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from contract import rfc3339
from drivers.common.files import fsync_dir, make_dirs
from station.database import Database


def _m001_outbox(db: Database) -> None:
    # AUTOINCREMENT: a purged seq is never handed out again. No index on id (uuid4,
    # never looked up here) and none on delivered_at (feeding walks the seq key):
    # each index is one more page written and fsynced per registration.
    db.execute("""CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL,
        type TEXT NOT NULL,
        ts TEXT NOT NULL,
        payload TEXT NOT NULL,
        delivered_at TEXT)""")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("CREATE TABLE closed_tubes (tube TEXT PRIMARY KEY)")
    db.execute("CREATE TABLE sampled_today (id_number TEXT PRIMARY KEY)")


def _m002_print_jobs(db: Database) -> None:
    # Labels are committed with the events that ask for them: a power cut or a printer
    # out of paper delays a label, never loses it.
    db.execute("""CREATE TABLE print_jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        job TEXT NOT NULL,
        created_at TEXT NOT NULL,
        printed_at TEXT)""")


def _m003_plain_registrations(db: Database) -> None:
    # Registrations with their person plain (a store from before sealing, a lab bench's):
    # found at once at a start with central's key, and sealed (Store.seal_plain_outbox).
    # Empty while the lane seals, so it costs a commit nothing.
    db.execute("CREATE INDEX outbox_plain_registrations ON outbox(seq) "
               "WHERE type = 'sample.registered'")


MIGRATIONS: list[tuple[str, Callable[[Database], None]]] = [
    ("001_outbox", _m001_outbox),
    ("002_print_jobs", _m002_print_jobs),
    ("003_plain_registrations", _m003_plain_registrations),
]


def _builder_alive(half_built: Path) -> bool:
    """Is the process named in `.station.db.PID.new` (or its -wal, -shm) still running?"""
    try:
        os.kill(int(half_built.name.split(".")[-2]), 0)
    except ProcessLookupError:
        return False
    except (ValueError, PermissionError):
        return True   # not a name of ours, or another user's process: leave it alone
    return True


def _create(path: Path) -> None:
    """A new database, built under a name of its own without a sync per step, then synced
    once and linked to its name: a power cut leaves no database or a whole one. Built in
    place it took 13 syncs, each 5-10 ms on an SD card, before the lane could start."""
    for half_built in path.parent.glob(f".{path.name}.*.new*"):
        if not _builder_alive(half_built):   # a power cut or a kill while building
            half_built.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        # Both take effect only on a new, empty database (see connect).
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("PRAGMA journal_mode=WAL")
        migrate(Database(conn))
    finally:
        conn.close()  # the last connection moves the WAL into the file and removes it
    try:
        os.chmod(tmp, 0o600)
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        # A link, not a rename: a database another process made meanwhile is kept.
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:   # a filesystem without hard links (vfat): the name by rename
            if not path.exists():
                tmp.rename(path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def connect(path: Path) -> Database:
    make_dirs(path.parent)  # a data_dir whose name a power cut could take is no store
    if not path.exists():
        _create(path)
    # Autocommit at the driver; transactions are explicit (db.atomic()).
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
    db = Database(conn)
    # Takes effect only on a new, empty database: freed pages can then go back to the
    # filesystem after a purge instead of keeping the file at its busiest day's size.
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    # Deleted rows are overwritten, not left readable in free pages: a purge of
    # personal data must remove the bytes, not only the rows.
    conn.execute("PRAGMA secure_delete=ON")
    conn.execute("PRAGMA foreign_keys=ON")
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)  # names and ID numbers: the service user's alone
    return db


def migrate(db: Database) -> None:
    """Apply the steps not yet applied, in one transaction (one fsync on a first start)."""
    if "migrations" in db.table_names():
        done = {row[0] for row in db.execute("SELECT name FROM migrations")}
        if all(name in done for name, _ in MIGRATIONS):
            return
    with db.atomic():
        db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
        done = {row[0] for row in db.execute("SELECT name FROM migrations")}
        applied = rfc3339(dt.datetime.now(dt.UTC))
        for name, step in MIGRATIONS:
            if name not in done:
                step(db)
                db.execute("INSERT INTO migrations VALUES (?, ?)", [name, applied])
