"""The store's numbered migrations (central/store/migrations.py), in both dialects: every
shape a release before them left (tests/central/store_shapes.py) is upgraded to the very
schema a new database is made with, its events' facts read off their payloads; the steps
run once, in order, and all or none."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from central.store import migrations
from central.store.migrations import MIGRATIONS
from central.store.open import open_store
from central.store.sqlite import SqliteEventStore
from tests.central.store_shapes import FACTS, POSTGRESQL, SQLITE, pg_shape, sqlite_shape

STEPS = [name for name, _ in MIGRATIONS]


def sqlite_schema(conn: sqlite3.Connection) -> dict[str, Any]:
    """Each table's columns (name, type, not null, default, key) and each index's
    definition (its statement, spaces aside), and the steps recorded."""
    tables = [name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {
        "columns": {t: conn.execute("SELECT name, type, \"notnull\", dflt_value, pk "
                                    "FROM pragma_table_info(?)", [t]).fetchall() for t in tables},
        "indexes": {name: (table, sql and " ".join(sql.split())) for name, table, sql in
                    conn.execute("SELECT name, tbl_name, sql FROM sqlite_master "
                                 "WHERE type = 'index'")},
        "steps": [name for (name,) in conn.execute("SELECT name FROM migrations ORDER BY name")],
    }


def pg_schema(dsn: str) -> dict[str, Any]:
    """The same of PostgreSQL: its tables (not the days' partitions, but the default one),
    their kinds, columns, indexes and constraints as the catalog gives them back."""
    import psycopg  # noqa: PLC0415

    with psycopg.connect(dsn) as conn:
        tables: dict[str, str] = dict(conn.execute(
            "SELECT relname, relkind FROM pg_class WHERE relkind IN ('r', 'p') "
            "AND relnamespace = current_schema()::regnamespace "
            "AND (NOT relispartition OR relname = 'events_other')").fetchall())
        names = sorted(tables)
        return {
            "tables": tables,
            "partitioned by": conn.execute("SELECT pg_get_partkeydef('events'::regclass), "
                                           "pg_get_expr(relpartbound, oid) FROM pg_class "
                                           "WHERE relname = 'events_other'").fetchone(),
            "columns": conn.execute(
                "SELECT table_name, column_name, data_type, is_nullable, column_default "
                "FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = ANY(%s) ORDER BY table_name, ordinal_position",
                [names]).fetchall(),
            "indexes": conn.execute(
                "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = "
                "current_schema() AND tablename = ANY(%s) ORDER BY 1, 2", [names]).fetchall(),
            "constraints": conn.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s) ORDER BY 1, 2",
                [names]).fetchall(),
            "steps": [n for (n,) in conn.execute("SELECT name FROM migrations ORDER BY name")],
        }


def facts(store: Any) -> list[tuple[str, bool]]:
    return [(subject, bool(unsynced)) for subject, unsynced in store.conn.execute(
        "SELECT subject, unsynced FROM events ORDER BY seq").fetchall()]


# --- SQLite ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def new_sqlite(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("new") / "central.db"
    SqliteEventStore(path).close()
    with sqlite3.connect(path) as conn:
        return sqlite_schema(conn)


@pytest.mark.parametrize("shape", list(SQLITE))
def test_a_sqlite_database_of_each_past_shape_gets_a_new_databases_schema(
        shape: str, tmp_path: Path, new_sqlite: dict[str, Any]) -> None:
    path = tmp_path / "old.db"
    sqlite_shape(str(path), shape)
    store = SqliteEventStore(path)
    assert sqlite_schema(store.conn) == new_sqlite
    assert facts(store) == FACTS
    assert [e.id for e in store.iter_events()] == ["e-tube", "e-box"]
    store.close()


def test_a_new_sqlite_database_is_made_by_every_step_once(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "central.db")
    assert store.conn.execute("SELECT name FROM migrations").fetchall() == [
        (name,) for name in STEPS]
    assert migrations.migrate(migrations_of(store)) == []   # a second start: nothing to do
    store.close()


def migrations_of(store: Any) -> migrations.Schema:
    from central.store.pg_schema import PgSchema  # noqa: PLC0415
    from central.store.sqlite import SqliteSchema  # noqa: PLC0415

    kind = SqliteSchema if isinstance(store, SqliteEventStore) else PgSchema
    return kind(store.conn, store.dialect)


def broken(db: migrations.Schema) -> None:
    raise RuntimeError("a step that fails")


def test_a_failing_step_leaves_a_sqlite_database_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """All steps or none: the steps before the failing one are taken back with it."""
    path = tmp_path / "old.db"
    sqlite_shape(str(path), "ba9a73e first collector")
    with sqlite3.connect(path) as conn:
        before = conn.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS, ("999_broken", broken)])
    with pytest.raises(RuntimeError):
        SqliteEventStore(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT type, name, sql FROM sqlite_master").fetchall() == before


# --- PostgreSQL -----------------------------------------------------------------------

def database(cluster: str) -> str:
    import psycopg  # noqa: PLC0415

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(cluster, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    return cluster.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="module")
def new_pg(pg_cluster: str) -> Iterator[dict[str, Any]]:
    dsn = database(pg_cluster)
    open_store(dsn).close()
    yield pg_schema(dsn)


# Databases made before the payload became json keep jsonb (pg_schema.py says why).
JSONB = {"c5f0fb0 events by day, jsonb", "6e38f4e paper cards, jsonb"}


def as_json(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with a jsonb payload read as json, and the tables it was in."""
    swapped = [(t, c, "json" if (c, kind) == ("payload", "jsonb") else kind, *rest)
               for t, c, kind, *rest in schema["columns"]]
    jsonb = sorted({t for t, c, kind, *_ in schema["columns"] if kind == "jsonb"})
    return {**schema, "columns": swapped, "jsonb": jsonb}


@pytest.mark.parametrize("shape", list(POSTGRESQL))
def test_a_postgresql_database_of_each_past_shape_gets_a_new_databases_schema(
        shape: str, pg_db: str, new_pg: dict[str, Any]) -> None:
    pg_shape(pg_db, shape)
    store = open_store(pg_db)
    upgraded = as_json(pg_schema(pg_db))
    assert upgraded.pop("jsonb") == (["events", "events_other"] if shape in JSONB else [])
    assert upgraded == new_pg
    assert facts(store) == FACTS
    assert [e.id for e in store.iter_events()] == ["e-tube", "e-box"]
    assert store.conn.execute(
        "SELECT DISTINCT tableoid::regclass::text FROM events").fetchall() == [
        ("events_20261203",)]
    store.close()


def test_a_new_postgresql_database_is_made_by_every_step_once(pg_db: str) -> None:
    store = open_store(pg_db)
    assert store.conn.execute(
        "SELECT name FROM migrations ORDER BY name").fetchall() == [(name,) for name in STEPS]
    assert migrations.migrate(migrations_of(store)) == []
    store.close()


def test_a_failing_step_leaves_a_postgresql_database_as_it_was(
        pg_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pg_shape(pg_db, "0b01b58 first collector")
    before = pg_schema_without_steps(pg_db)
    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS, ("999_broken", broken)])
    with pytest.raises(RuntimeError):
        open_store(pg_db)
    assert pg_schema_without_steps(pg_db) == before


def pg_schema_without_steps(dsn: str) -> dict[str, Any]:
    import psycopg  # noqa: PLC0415

    with psycopg.connect(dsn) as conn:
        return {"relations": conn.execute(
            "SELECT relname, relkind FROM pg_class WHERE relnamespace = "
            "current_schema()::regnamespace ORDER BY relname").fetchall(),
                "columns": conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY 1, ordinal_position").fetchall()}
