"""The documents sampled in a period, read lean: the registrations that count, and the
document index (migrations.py's 011_document_index) that spares opening each sealed
person again (central/reports/sampled.py decides what is counted with them).

`sampled_rows` is the projection's rule for "validly registered in the period"
(projection.py, rows.sampled, day.clip) said in SQL, so a city's day is never folded
event by event: a registration read in the window (a synced event by its `ts`, an
unsynced one by when central received it) whose time lies in the period, not voided by
a later tube.voided of its tube read in the window, and not the registration a later
sample.cancelled read in the window names (the latest one at that tube and position
before it, as the fold's `current` keeps it). Each comes with its indexed document, or,
not indexed yet, its payload to be opened.

The index holds, by event id, a keyed digest of the registration's own document (BLAKE2b
of its number, the key derived from central's private keys: central/reports/
document_key.py), whether that document is a guardian's (which counts nobody), and the
paper card's serial (whose typed data, imported later, decides). `document_index_key`
holds the key's check value: an index made under another key is emptied, never
compared.
"""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any, NamedTuple

from central.store.connection import SqlConnection

Window = tuple[dt.datetime, dt.datetime]   # [start, end), aware

REGISTERED = "('sample.registered', 'sample.registered.encrypted')"

# One statement, said in each dialect: `{p}` names a parameter, `{pos}` a registration's
# or a cancellation's position, `{days}` (PostgreSQL) the span's partitions.
_IN_WINDOW = ("((NOT {a}.unsynced AND {a}.ts >= {p[ws]} AND {a}.ts < {p[we]}) OR "
              "({a}.unsynced AND {a}.received_at >= {p[wm]} AND {a}.received_at < {p[wn]}))")
_SAMPLED = """WITH cancels AS (
  SELECT c.site, c.station, c.seq, c.subject, {pos_c} AS position FROM events c
  WHERE c.type = 'sample.cancelled' AND {window_c} AND ({p[site]} = '' OR c.site = {p[site]})),
cancelled AS (
  SELECT k.site, k.station, (SELECT max(r.seq) FROM events r WHERE r.site = k.site
    AND r.station = k.station AND r.seq < k.seq AND r.subject = k.subject
    AND r.type IN {registered} AND {pos_r} = k.position AND {window_r}) AS seq
  FROM cancels k),
voids AS (
  SELECT v.site, v.station, v.subject, max(v.seq) AS seq FROM events v
  WHERE v.type = 'tube.voided' AND {window_v} AND ({p[site]} = '' OR v.site = {p[site]})
  GROUP BY v.site, v.station, v.subject)
{synced}
UNION ALL
{unsynced}"""
_BRANCH = """SELECT i.digest, i.guardian, i.form,
  CASE WHEN i.event_id IS NULL THEN {payload} END
FROM events e LEFT JOIN document_index i ON i.event_id = e.id AND {p[keyed]} = 1
WHERE e.type IN {registered} AND {when} AND ({p[site]} = '' OR e.site = {p[site]})
  AND NOT EXISTS (SELECT 1 FROM cancelled k WHERE k.site = e.site
                  AND k.station = e.station AND k.seq = e.seq)
  AND NOT EXISTS (SELECT 1 FROM voids v WHERE v.site = e.site AND v.station = e.station
                  AND v.subject = e.subject AND v.seq > e.seq)"""
# A registration is of the window (read as of its end: the brief's --at) and of the span.
_SYNCED = ("NOT e.unsynced AND e.ts >= {p[ss]} AND e.ts < {p[se]} AND e.ts >= {p[ws]} "
           "AND e.ts < {p[we]}{days}")
_UNSYNCED = ("e.unsynced AND e.received_at >= {p[sm]} AND e.received_at < {p[sn]} "
             "AND e.received_at >= {p[wm]} AND e.received_at < {p[wn]}")
_NAMES = ("ws", "we", "wm", "wn", "ss", "se", "sm", "sn", "site", "keyed")


def _sampled(marks: dict[str, str], position: str, payload: str, days: str) -> str:
    def window(alias: str) -> str:
        return _IN_WINDOW.format(a=alias, p=marks)

    def branch(when: str) -> str:
        return _BRANCH.format(p=marks, payload=payload, registered=REGISTERED,
                              when=when.format(p=marks, days=days))

    return _SAMPLED.format(
        p=marks, registered=REGISTERED, pos_c=position.format(a="c"),
        pos_r=position.format(a="r"), window_c=window("c"), window_r=window("r"),
        window_v=window("v"), synced=branch(_SYNCED), unsynced=branch(_UNSYNCED))


SAMPLED = {
    "sqlite": _sampled({n: f":{n}" for n in _NAMES},
                       "json_extract({a}.payload, '$.data.position')", "e.payload", ""),
    # `{first}`, `{last}`: the span's days as literals (pg.py's _dated), so the
    # planner prunes the other days' partitions.
    "postgresql": _sampled({n: f"%({n})s" for n in _NAMES},
                           "({a}.payload->'data'->>'position')::bigint", "e.payload::text",
                           " AND e.day BETWEEN {first} AND {last}"),
}
ADD = "INSERT INTO document_index VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"   # SQLite
# PostgreSQL: a block copied (binary) into a table of this connection's, then added in
# one statement. Bound as arrays, psycopg spent 44 s of a city's cold coverage turning
# 4,000,000 rows into array literals in Python; COPY writes them in C.
NEW_ROWS = ("CREATE TEMPORARY TABLE IF NOT EXISTS document_index_new "
            "(LIKE document_index) ON COMMIT DELETE ROWS")
COPY_NEW = "COPY document_index_new FROM STDIN (FORMAT BINARY)"
ADD_NEW = "INSERT INTO document_index SELECT * FROM document_index_new ON CONFLICT DO NOTHING"
KEY_CHECK = "SELECT check_value FROM document_index_key"
# Held while the key is changed (exclusive) or digests are filed under it (shared), so a
# report under another key cannot empty the index between one's check and its writes.
# SQLite's writers are one at a time already (BEGIN IMMEDIATE).
LOCK_KEY = {"postgresql": {True: "LOCK TABLE document_index_key IN ACCESS EXCLUSIVE MODE",
                           False: "LOCK TABLE document_index_key IN SHARE MODE"}}
SET_KEY = {"sqlite": "INSERT INTO document_index_key VALUES (?)",
           "postgresql": "INSERT INTO document_index_key VALUES (%s)"}


# A registration that counts: its indexed document (digest, whether a guardian's (1/0 or a
# bool), the paper card's serial), or, not indexed under this key, None and its payload to
# open. Plain rows as the driver gives them: a city's day is 4,000,000 of them.
Sampled = tuple[bytes | None, Any, str | None, str | None]


class Indexed(NamedTuple):
    """A registration's own document as the index keeps it."""

    event_id: str
    digest: bytes
    guardian: bool
    form: str


class SampledDocuments(SqlConnection):
    """The lean read of the documents sampled, and their index, on the store's
    connection (the SQL event store builds on it)."""

    @abstractmethod
    def _blocks(self, query: Any, params: Any, name: str) -> Iterator[list[Any]]: ...

    @abstractmethod
    def _dated(self, statement: str, window: Window) -> Any: ...

    def _reading(self) -> AbstractContextManager[Any]:
        """Where a streamed read lives (PostgreSQL: its server-side cursor's transaction)."""
        return nullcontext()

    def sampled_rows(self, window: Window, span: Window, site: str = "",
                     check: str | None = None) -> Iterator[list[Sampled]]:
        """The registrations that count in `span` (aware [start, end)) of the events read
        in `window`, of one site or all, with their documents as indexed under the key
        whose check value is `check` (None: none is used, every payload comes back); in
        blocks, as the driver gives them (a city's day is 4,000,000 rows: one by one,
        through the driver's iterator and a generator or two, they took 3 s more)."""
        from contract import rfc3339  # noqa: PLC0415

        (ws, we), (ss, se) = window, span
        params = {"ws": rfc3339(ws), "we": rfc3339(we), "wm": self._moment(ws),
                  "wn": self._moment(we), "ss": rfc3339(ss), "se": rfc3339(se),
                  "sm": self._moment(ss), "sn": self._moment(se), "site": site,
                  "keyed": int(check is not None and self.indexed_under() == check)}
        statement = self._dated(SAMPLED[self.dialect.name], span)
        with self._reading():
            if self.dialect.name == "postgresql":
                # The whole result is read: a cursor's fast-start plan (a nested loop over
                # the index, which grows as this very read writes it) took minutes.
                self._execute("SET LOCAL cursor_tuple_fraction = 1")
                # The index's hash in memory, not 64 batches spilled with every event's
                # payload (4 GB written and read back on a city's day); and no JIT, whose
                # compiling took 2.8 s of a 13 s read.
                self._execute("SET LOCAL work_mem = '256MB'")
                self._execute("SET LOCAL jit = off")
            yield from self._blocks(statement, params, "sampled")

    def writable(self) -> bool:
        """Whether the index can be written here (a PostgreSQL standby's cannot)."""
        return True

    @abstractmethod
    def index_writer(self) -> SampledDocuments:
        """A connection of its own to write the index on, while this one reads: a
        SQLite connection reading a snapshot cannot write once a collector has written
        since, and PostgreSQL's index rows would stay locked until the report's end."""

    @abstractmethod
    def close(self) -> None: ...

    def _key_locked(self, exclusive: bool) -> str:
        """In a transaction: the key's check value, with the key's lock taken."""
        if lock := LOCK_KEY.get(self.dialect.name):
            self._execute(lock[exclusive])
        return self.indexed_under()

    def indexed_under(self) -> str:
        """The check value of the key the index was made under ("" before any)."""
        row = self._execute(KEY_CHECK).fetchone()
        return str(row[0]) if row else ""

    def index_under(self, check: str) -> None:
        """Make the index the one of the key whose check value is `check`: one made
        under another key is emptied (its digests could never match)."""
        if self.indexed_under() == check:
            return
        with self._transaction():
            if self._key_locked(exclusive=True) == check:   # another report made it so
                return
            self._execute("DELETE FROM document_index")
            self._execute("DELETE FROM document_index_key")
            self._execute(SET_KEY[self.dialect.name], [check])

    def add_documents(self, rows: Iterable[Indexed], check: str) -> bool:
        """Index these registrations' documents (one already indexed is kept), if the
        index is still the one of the key whose check value is `check`: a report under
        another key may have made it its own since. Whether they were written."""
        block: list[tuple[Any, ...]] = list(rows)
        if not block:
            return True
        with self._transaction():
            if self._key_locked(exclusive=False) != check:
                return False
            self._added(block)
        return True

    def _added(self, block: list[tuple[Any, ...]]) -> None:
        """The rows added, one already indexed kept (PostgreSQL copies them: pg.py)."""
        self._many(ADD, block)
