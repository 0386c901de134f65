"""`natest-central index`: the day's sealed persons opened as they arrive, each once, and
their documents kept in the document index (central/store/documents.py), so that
`report coverage` and the brief's coverage open only what came since the last run. Run
every few minutes by natest-central-index.timer: a city's day left to the report opens
4,000,000 persons at once, minutes on two cores (BENCHMARKS.md), where the timer opens
them a few thousand at a time through the day.

It writes nothing but the index (digests under a key derived from central's private
keys; what it shows without them: documents.py) and says counts only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from central.errors import FAILED, REPORTED, CentralError, failed
from central.reports import keys
from central.site_facts import time_zone, tz_option
from central.store.open import db_option, missing

if TYPE_CHECKING:
    from central.reports.opening import Persons
    from central.reports.sampled import Found


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("index", help="open the day's sealed persons once and index their "
                                     "documents, for report coverage (run by a timer)")
    db_option(p, "the store: a SQLite file or a postgresql:// DSN (its leader)")
    p.add_argument("--private-key", action="append", required=True, metavar="JWK",
                   help="central's private key (keygen's KID.jwk, mode 600); again for "
                        "each older key still in use, as reports are given them")
    p.add_argument("--day", metavar="YYYY-MM-DD",
                   help="the sites' local day whose registrations to index (default: today)")
    tz_option(p, "the sites' time zone: the day's bounds")


def index(args: argparse.Namespace) -> int:
    from central.reports.opening import Opener, Persons  # noqa: PLC0415
    from central.reports.period import period  # noqa: PLC0415
    from central.reports.progress import Progress  # noqa: PLC0415
    from central.reports.sampled import sampled_documents  # noqa: PLC0415
    from central.store.open import open_store  # noqa: PLC0415

    why = ("--db is empty: give the store, a SQLite file or a postgresql:// DSN "
           "(natest-central-index.service: NATEST_DB, in a drop-in)") if not args.db \
        else missing(args.db)
    if why is not None:
        return failed(CentralError(why), "index")
    try:
        span = period(args.day, None, None, time_zone(args.tz))
        persons = Persons(Opener([Path(f) for f in args.private_key]), needed=True)
        store = open_store(args.db)
    except REPORTED as exc:   # KeyFileError names the key file
        return failed(exc, "index")
    try:
        if not store.writable():
            return failed(CentralError(f"{args.db}: a standby, whose index cannot be "
                                       "written: run the index against the leader"), "index")
        found = sampled_documents(store, span.padded(), (span.start, span.end), persons,
                                  progress=Progress(f"index {span}"))
    except REPORTED as exc:
        return failed(exc, "index")
    finally:
        store.close()
    print(f"index {span}: {found.opened:,} sealed persons opened, {found.kept:,} indexed "
          f"now; {len(found.found):,} documents sampled so far")
    return _said(found, persons)


def _said(found: Found, persons: Persons) -> int:
    """What was not kept, and those that did not open, said as a report says them."""
    if found.kept < found.opened:   # a report under other keys made the index its own
        print("index: the index is now another key set's (a report given other keys): "
              "the rest not kept; give this timer the keys the reports are given",
              file=sys.stderr)
        return FAILED
    return keys.said(persons, "coverage", who="index",
                     shown="left out of the index, opened again by its next run")
