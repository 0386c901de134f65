"""`natest-central check-db --db DSN`: would this database keep what a collector
acknowledges through a failover? The README's check before a city's first day, and after
any change to its database cluster.

It asks the server the DSN reaches (as a collector would reach it: through HAProxy, or
the hosts with target_session_attrs=read-write) whether it takes writes and whether a
commit waits for a synchronous standby that is streaming. Under Patroni that is
`synchronous_mode: true` with both members up (config/patroni/patroni.yml); a cluster
without it commits on the leader alone, and a failover can lose what the collectors
acknowledged. It reads and changes nothing (no table is made).
"""

from __future__ import annotations

import argparse
import sys

from central.errors import FAILED, OK, CentralError, failed
from central.store.open import db_option

COMMAND = "natest-central check-db"


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check-db", help="is the collectors' database writable, and are its "
                                        "commits on a synchronous standby too?")
    db_option(p, "the DSN the collectors are given")


def check_db(args: argparse.Namespace) -> int:
    if not args.db.startswith(("postgresql://", "postgres://")):
        print(f"{args.db}: a SQLite file is one machine's: there is no failover to check")
        return OK
    from central.store import pg_server  # noqa: PLC0415 - needs psycopg

    try:
        conn = pg_server.connect(args.db, connect_timeout=5)
    except CentralError as exc:   # DatabaseAway: none of the DSN's servers answers
        return failed(exc, COMMAND)
    with conn:
        if pg_server.in_recovery(conn):
            return failed(pg_server.read_only(conn), COMMAND)
        problems = pg_server.not_synchronous(conn)
        names = conn.execute("SHOW synchronous_standby_names").fetchone()
        where = pg_server.server(conn)
    for problem in problems:
        print(f"{COMMAND}: {problem}", file=sys.stderr)
    if problems:
        return FAILED
    print(f"{where}: takes writes; every commit waits for a synchronous standby "
          f"({names[0] if names else ''}), which is streaming")
    return OK
