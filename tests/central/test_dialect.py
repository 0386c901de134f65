"""Each dialect's statements (central/store/dialect.py) are written out whole, twice: they
must say the same, once what the dialects say differently is set aside."""

from __future__ import annotations

import dataclasses

from central.store.dialect import POSTGRESQL, SQLITE, Dialect

# What PostgreSQL says its own way, as SQLite says it.
DIFFERENCES = [("%s", "?"), ("GREATEST(", "max("), ("payload::text", "payload"),
               (" AND day BETWEEN {first} AND {last}", ""),
               ("payload->'data'->>'pool_size' = '1'",
                "json_extract(payload, '$.data.pool_size') = 1")]


def statements(dialect: Dialect) -> dict[str, str]:
    return {f.name: getattr(dialect, f.name) for f in dataclasses.fields(dialect)
            if f.name not in ("name", "placeholder", "types")}


def as_sqlite(text: str) -> str:
    for theirs, ours in DIFFERENCES:
        text = text.replace(theirs, ours)
    return text


def test_both_dialects_say_the_same_but_for_their_differences() -> None:
    sqlite, pg = statements(SQLITE), statements(POSTGRESQL)
    assert {name: as_sqlite(text) for name, text in pg.items()} == sqlite
    assert all("?" not in text for text in pg.values())
    # PostgreSQL's partition window ({first}, {last}) is its own; an IN list's {ids} is
    # filled with either dialect's marks (Dialect.marks).
    assert all("%s" not in text and "{" not in text.replace("{ids}", "")
               for text in sqlite.values())


def test_both_dialects_type_the_same_columns() -> None:
    assert SQLITE.types.keys() == POSTGRESQL.types.keys()
    assert (SQLITE.marks(3), POSTGRESQL.marks(3)) == ("?, ?, ?", "%s, %s, %s")
