"""The store's tables as numbered steps, in both dialects: applied in order, each once,
in one transaction, and recorded by name in `migrations`, as the lane's store does
(station/store_file.py). A new database is made by the same steps that upgrade an old one.

A database made before the steps (by any release before #37) records none, and holds
one of the shapes its releases left: tables and columns of some releases and not of
later ones, an index made in the form of its day and kept when a later release changed
the form (CREATE INDEX IF NOT EXISTS keeps any index of the name), the one release's
`tube` column that the next named `subject`. So each step makes its part where it is
absent and brings an older form of it to today's; its first run records them all.
tests/central/store_shapes.py rebuilds each of those shapes, and test_migrations.py
upgrades every one to the schema a new database gets.

A step's text is history: a later change is a new step, never an edit of an old one.
"""

from __future__ import annotations

import datetime as dt
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from central.store.dialect import Dialect
from contract import rfc3339

log = logging.getLogger("central.store.migrations")

TABLE = "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT)"


class Schema(ABC):
    """A database as the steps see it: its dialect's types, its tables as they are, and
    the few things each dialect does its own way."""

    def __init__(self, conn: Any, dialect: Dialect) -> None:
        self.conn = conn
        self.dialect = dialect

    def run(self, statement: str, params: list[Any] | tuple[()] = ()) -> Any:
        return self.conn.execute(statement, params)

    def ddl(self, template: str) -> None:
        """A statement with the dialect's column types in its `{integer}`, `{moment}`, …"""
        self.run(template.format(**self.dialect.types))

    def add_column(self, table: str, definition: str) -> None:
        """A column (`name TYPE …`, typed as in ddl) unless an older release added it."""
        if definition.split(maxsplit=1)[0] not in self.columns(table):
            self.ddl(f"ALTER TABLE {table} ADD COLUMN {definition}")

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Any]:
        """One transaction, and no other process migrating meanwhile."""

    @abstractmethod
    def applied(self) -> set[str]:
        """The steps recorded (none where there is no `migrations` table)."""

    @abstractmethod
    def record(self, name: str, at: str) -> None: ...

    @abstractmethod
    def columns(self, table: str) -> list[str]:
        """A table's columns, in order."""

    @abstractmethod
    def make_events(self) -> None:
        """`events` and its index by station, as the first release had them."""

    @abstractmethod
    def read_facts(self) -> None:
        """Every stored event's subject and clock columns, read off its payload."""

    @abstractmethod
    def make_subject_index(self) -> None:
        """events_by_subject in today's form, an older one of the name made again."""

    @abstractmethod
    def make_singles_index(self) -> None:
        """events_singles: the openings of single tubes (pool_size 1), by `ts`."""


def _m001_collector(db: Schema) -> None:
    # Events once by id, each station's progress and presence, what failed the contract.
    db.make_events()
    db.ddl("""CREATE TABLE IF NOT EXISTS stations (
    site TEXT NOT NULL, station TEXT NOT NULL, contiguous {integer} NOT NULL DEFAULT 0,
    max_seq {integer} NOT NULL DEFAULT 0, state TEXT, connection {integer} NOT NULL DEFAULT 0,
    session {integer}, status_at {moment}, PRIMARY KEY (site, station))""")
    db.ddl("""CREATE TABLE IF NOT EXISTS quarantine (
    topic TEXT NOT NULL, payload {blob} NOT NULL, reason TEXT NOT NULL,
    received_at {moment} NOT NULL)""")


def _m002_high_water_mark(db: Schema) -> None:
    # The highest seq a station's status announced: events lost at the tail are missing.
    db.add_column("stations", "last_seq {integer} NOT NULL DEFAULT 0")


def _m003_paper_cards(db: Schema) -> None:
    db.ddl("""CREATE TABLE IF NOT EXISTS form_data (
    serial TEXT PRIMARY KEY, id_number TEXT NOT NULL, name TEXT NOT NULL,
    phone TEXT NOT NULL, imported_at {moment} NOT NULL)""")


def _m004_facts(db: Schema) -> None:
    # The tube or box an event is about and whether its station's clock was unset
    # (event_store.FACT_COLUMNS), read off each payload once. The one release that called
    # the first `tube` held no box in it: renamed, where it stands, and read again.
    columns = db.columns("events")
    if "subject" not in columns:
        if "tube" in columns:
            db.run("DROP INDEX IF EXISTS events_by_tube")
            db.run("ALTER TABLE events RENAME COLUMN tube TO subject")
        else:
            db.run("ALTER TABLE events ADD COLUMN subject TEXT")
        db.add_column("events", "unsynced {flag} NOT NULL DEFAULT FALSE")
        db.read_facts()
    # The unsynced rows alone, by when central received them: an index almost empty.
    db.run("CREATE INDEX IF NOT EXISTS events_unsynced ON events (received_at) WHERE unsynced")


def _m005_lab_tables(db: Schema) -> None:
    # What labs send back (lab_tables.py), and the custody reports' indexes on events.
    db.ddl("""CREATE TABLE IF NOT EXISTS results (
    tube TEXT NOT NULL, lab TEXT NOT NULL, tested_at {moment} NOT NULL, result TEXT NOT NULL,
    ct_orf1ab {real}, ct_n {real}, source TEXT NOT NULL, imported_at {moment} NOT NULL,
    recalled_at {moment}, PRIMARY KEY (tube, lab, tested_at))""")
    db.run("CREATE INDEX IF NOT EXISTS results_by_time ON results (tested_at)")
    db.run("CREATE INDEX IF NOT EXISTS results_to_recall ON results (imported_at) "
           "WHERE recalled_at IS NULL AND result <> 'negative'")
    db.ddl("""CREATE TABLE IF NOT EXISTS receipts (
    box TEXT PRIMARY KEY, lab TEXT NOT NULL, tubes INTEGER NOT NULL,
    received_at {moment} NOT NULL, source TEXT NOT NULL, recorded_at {moment} NOT NULL)""")
    db.run("CREATE INDEX IF NOT EXISTS events_custody ON events (type, ts) "
           "WHERE type IN ('tube.sealed', 'box.closed', 'box.dispatched')")
    db.run("CREATE INDEX IF NOT EXISTS events_boxes ON events (site, station) "
           "WHERE type IN ('box.closed', 'box.dispatched')")


def _m006_subject_index(db: Schema) -> None:
    # The rows that open, close or move a tube or box, by subject: a result's tube is
    # checked on them (BENCHMARKS.md). Releases before made it of every row with a
    # subject, or on the subject alone.
    db.make_subject_index()


def _m007_sealed_cards(db: Schema) -> None:
    # A paper card's person sealed to central's key at import (central.intake.forms).
    db.add_column("form_data", "person_jwe TEXT NOT NULL DEFAULT ''")


def _m008_card_documents(db: Schema) -> None:
    # A paper card's document type, kept beside a card imported --plain (a test database's):
    # a passport's or a child's card read back as its number's (central.intake.forms).
    db.add_column("form_data", "id_type TEXT NOT NULL DEFAULT ''")


def _m009_scanned_tubes(db: Schema) -> None:
    # The tubes of each box a lab received (box_tubes.py): scanned out of it at the desk
    # (`receive --scanned`), or, counted only, those its lane packed; the lab and time of
    # the receipt kept beside each. `resulted_at`: when central first held a result for
    # the tube; the ones still waiting are a partial index's few rows, which the
    # collector's gauge reads once a minute with no join. Receipts by time
    # for `report labs`. Receipts stored before this step have no tubes here: reports
    # read their boxes' packed tubes instead, and the gauge does not count them.
    db.ddl("""CREATE TABLE IF NOT EXISTS receipt_tubes (
    box TEXT NOT NULL, tube TEXT NOT NULL, scanned {flag} NOT NULL, lab TEXT NOT NULL,
    received_at {moment} NOT NULL, resulted_at {moment}, PRIMARY KEY (box, tube))""")
    db.run("CREATE INDEX IF NOT EXISTS receipt_tubes_by_tube ON receipt_tubes (tube)")
    db.run("CREATE INDEX IF NOT EXISTS receipt_tubes_waiting ON receipt_tubes (received_at, lab) "
           "WHERE resulted_at IS NULL")
    db.run("CREATE INDEX IF NOT EXISTS receipts_by_time ON receipts (received_at)")


def _m010_single_tubes(db: Schema) -> None:
    # The single tubes opened since a time, where a pool's people are sampled again
    # (lab_tables.singles_since, report followup): a day's openings are a twelfth of its
    # rows and almost none single, so the follow-up read them all (BENCHMARKS.md).
    db.make_singles_index()


def _m011_document_index(db: Schema) -> None:
    # Each registration's own document as `report coverage` compares it, a keyed digest
    # by event id (central/store/documents.py): a sealed person opened once, not at
    # every report. The key's check value beside it: an index of another key is emptied.
    # And the few events that undo a registration, by time: read at every coverage.
    db.ddl("""CREATE TABLE IF NOT EXISTS document_index (
    event_id TEXT PRIMARY KEY, digest {blob} NOT NULL, guardian {flag} NOT NULL,
    form TEXT NOT NULL)""")
    db.run("CREATE TABLE IF NOT EXISTS document_index_key (check_value TEXT NOT NULL)")
    db.run("CREATE INDEX IF NOT EXISTS events_undoing ON events (ts) "
           "WHERE type IN ('sample.cancelled', 'tube.voided')")


MIGRATIONS: list[tuple[str, Callable[[Schema], None]]] = [
    ("001_collector", _m001_collector),
    ("002_high_water_mark", _m002_high_water_mark),
    ("003_paper_cards", _m003_paper_cards),
    ("004_facts", _m004_facts),
    ("005_lab_tables", _m005_lab_tables),
    ("006_subject_index", _m006_subject_index),
    ("007_sealed_cards", _m007_sealed_cards),
    ("008_card_documents", _m008_card_documents),
    ("009_scanned_tubes", _m009_scanned_tubes),
    ("010_single_tubes", _m010_single_tubes),
    ("011_document_index", _m011_document_index),
]


def migrate(db: Schema) -> list[str]:
    """Apply the steps not yet applied, in order, in one transaction; their names."""
    if {name for name, _ in MIGRATIONS} <= db.applied():
        return []
    with db.transaction():
        upgraded = bool(db.columns("events"))   # not a new database: say what changed
        db.run(TABLE)
        done = db.applied()   # again: another process may have migrated meanwhile
        todo = [(name, step) for name, step in MIGRATIONS if name not in done]
        at = rfc3339(dt.datetime.now(dt.UTC))
        for name, step in todo:
            step(db)
            db.record(name, at)
    if todo and upgraded:
        log.info("store schema: applied %s", ", ".join(name for name, _ in todo))
    return [name for name, _ in todo]
