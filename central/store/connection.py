"""What every table of the collector's database is reached through: the connection, its
dialect, and the few hooks in which SQLite and PostgreSQL differ (a transaction, how a
time is stored and read back). Declared once, here: the event store and the lab's tables
both build on it, and each dialect's store sets the hooks it needs."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from central.store.dialect import Dialect

CHUNK = 500   # ids per IN (…) list: far below SQLite's limit on parameters


class SqlConnection(ABC):
    dialect: Dialect
    conn: Any

    def _execute(self, sql: str, params: list[Any] | tuple[()] = ()) -> Any:
        return self.conn.execute(sql, params)

    def _in(self, sql: str, ids: Iterable[str], *params: Any) -> Iterator[Any]:
        """The rows of `sql` (with one `{ids}` for an IN list, after any other `params`)
        for every id, in chunks."""
        unique = sorted(set(ids))
        for at in range(0, len(unique), CHUNK):
            chunk = unique[at:at + CHUNK]
            yield from self._execute(sql.format(ids=self.dialect.marks(len(chunk))),
                                     [*params, *chunk])

    def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:  # through a cursor: psycopg's connection has no executemany
            self.conn.cursor().executemany(sql, rows)

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[None]: ...

    def _moment(self, now: dt.datetime) -> Any:
        """`now` as the dialect stores a time (PostgreSQL: as it is; SQLite: text)."""
        return now

    def _instant(self, stored: Any) -> str:
        """A stored time as the contract writes times."""
        return str(stored)
