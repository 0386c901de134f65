"""What a PostgreSQL server says about itself, for a collector that must write there:
which server a connection reached, whether it takes writes, whether its commits wait
for a standby, and what a commit that does not return is waiting for.

Under an HA manager (Patroni) the server behind a DSN changes: a failover, a switchover,
an old leader rejoining as a standby. The collector learns which one it reached and
says it, so an operator reads "127.0.0.1:5433 is a standby", not a driver's error.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from central.store.connection import DatabaseAway, ReadOnlyDatabase

# How a collector is pointed at the leader whichever member it is (README, "Failover").
TO_THE_LEADER = ("give it HAProxy's address (config/haproxy.cfg) or every member's host with "
                 "target_session_attrs=read-write (README, \"Failover\")")
WHY_WAITING = """
SELECT a.wait_event_type, a.wait_event, current_setting('synchronous_standby_names'),
       (SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum'))
FROM pg_stat_activity a WHERE a.pid = %s"""
SYNCHRONOUS = """
SELECT current_setting('synchronous_standby_names'), current_setting('synchronous_commit'),
       (SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum'))"""


def hosts(dsn: str) -> str:
    """The servers a DSN names, as host:port (never its password)."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "(a DSN that does not parse)"
    names = str(params.get("host") or "localhost").split(",")
    ports = str(params.get("port") or "5432").split(",")
    ports += [ports[-1]] * (len(names) - len(ports))
    return ",".join(f"{name}:{port}" for name, port in zip(names, ports, strict=False))


def server(conn: psycopg.Connection[Any]) -> str:
    """The server a connection reached, as host:port."""
    return f"{conn.info.host}:{conn.info.port}"


def connect(dsn: str, **options: Any) -> psycopg.Connection[Any]:
    """A connection (autocommit), or DatabaseAway naming the servers and libpq's reason."""
    try:
        return psycopg.connect(dsn, autocommit=True, **options)
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())[:300]
        raise DatabaseAway(f"no database answers at {hosts(dsn)}: {reason} (under Patroni, "
                           "`patronictl list` shows whether a member leads: none does while "
                           "etcd has no quorum)") from exc


def in_recovery(conn: psycopg.Connection[Any]) -> bool:
    return conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)


def read_only(conn: psycopg.Connection[Any]) -> ReadOnlyDatabase:
    return ReadOnlyDatabase(f"{server(conn)} is a standby (read-only, in recovery): a "
                            f"collector writes to the primary; {TO_THE_LEADER}")


def not_synchronous(conn: psycopg.Connection[Any]) -> list[str]:
    """Why a commit on this primary may be on no other server (none: it waits for a
    synchronous standby, and one is streaming)."""
    names, commit, streaming = conn.execute(SYNCHRONOUS).fetchone() or ("", "on", 0)
    where = server(conn)
    if not names:
        return [f"{where}: synchronous_standby_names is empty, so a commit is on this "
                "server alone: a failover can lose what a collector acknowledged (under "
                "Patroni: synchronous_mode: true, config/patroni/patroni.yml; or its "
                "standby is down, which non-strict synchronous mode commits without)"]
    found = []
    if commit in ("off", "local"):
        found.append(f"{where}: synchronous_commit = {commit}: a commit does not wait for "
                     f"the standby {names!r} (set it to on)")
    if not streaming:
        found.append(f"{where}: no synchronous standby is streaming (synchronous_standby_names"
                     f" = {names!r}): every commit waits until one is")
    return found


def commit_waits_for(dsn: str, conn: psycopg.Connection[Any]) -> str:
    """What the session of `conn`, whose commit has not returned, waits for, as its
    server says on a second connection; or why that cannot be told."""
    try:
        host, port, pid = conn.info.host, conn.info.port, conn.info.backend_pid
        side = make_conninfo(dsn, host=host, port=port, target_session_attrs="any",
                             connect_timeout=3)
        with psycopg.connect(side, autocommit=True) as probe:
            row = probe.execute(WHY_WAITING, [pid]).fetchone()
    except (psycopg.Error, OSError) as exc:
        return f"{host}:{port} does not answer a second connection either: " + \
            " ".join(str(exc).split())[:200]
    if row is None:
        return f"its session is not on {host}:{port} any more (a failover under way?)"
    kind, event, names, streaming = row
    if event == "SyncRep":
        return (f"{host}:{port} takes writes but does not commit: each commit waits for a "
                f"synchronous standby (synchronous_standby_names = {names!r}, {streaming} "
                "streaming)")
    return f"{host}:{port} says the session waits on {kind or 'nothing'}/{event or 'nothing'}"
