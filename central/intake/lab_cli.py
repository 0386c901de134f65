"""`natest-central import-results`, `import-receipts` and `receive`: what labs send back."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from central.errors import FAILED, OK, REPORTED, Usage, failed
from central.intake.lab_files import FileRefused
from central.site_facts import moment, time_zone, tz_option
from central.store.lab_tables import Receipt
from central.store.open import db_option

if TYPE_CHECKING:
    from central.intake.lab_import import Outcome
    from central.store.event_store import SqlEventStore


def _open(db: str) -> SqlEventStore:
    from central.store.open import missing, open_store  # noqa: PLC0415

    if (why := missing(db)) is not None:
        raise FileRefused(why)
    return open_store(db)


def _said(command: str, outcome: Outcome, what: str) -> int:
    for note in outcome.notes:
        print(f"{command}: {note}", file=sys.stderr)
    for problem in outcome.problems:
        print(f"{command}: {problem}", file=sys.stderr)
    if outcome.problems:
        print(f"{command}: nothing stored: {len(outcome.problems)} problem(s) above; correct "
              "them and import the file again (rows already stored are passed over)",
              file=sys.stderr)
        return FAILED
    print(f"{outcome.stored} {what} stored" + (f", {outcome.already} already stored"
                                               if outcome.already else ""))
    # OK even after a note (a count that differs from the slip, a box no lane closed):
    # the status says what became of the rows, and FAILED means nothing was stored, so a
    # script would take the file as refused and send it again, which mends no count.
    return OK


def import_results(args: argparse.Namespace) -> int:
    from central.intake import lab_import  # noqa: PLC0415

    return _import_file(args, "import-results", "results", lab_import.import_results)


def import_receipts(args: argparse.Namespace) -> int:
    from central.intake import lab_import  # noqa: PLC0415

    return _import_file(args, "import-receipts", "receipts", lab_import.receipts_file)


def _import_file(args: argparse.Namespace, command: str, what: str,
                 take: Callable[..., Outcome]) -> int:
    try:
        zone = time_zone(args.tz)
        store = _open(args.db)
    except REPORTED as exc:   # FileRefused: no such database
        return failed(exc, command)
    try:
        outcome = take(store, Path(args.file), lab=args.lab, zone=zone,
                       encoding=args.encoding, now=dt.datetime.now(dt.UTC))
    except REPORTED as exc:   # the file as a whole
        return failed(exc, command)
    finally:
        store.close()
    return _said(command, outcome, what)


def receive(args: argparse.Namespace) -> int:
    """One box at a lab's receipt desk, as it arrives: its tubes counted, or scanned."""
    from central.intake import lab_cells, lab_import, scanned  # noqa: PLC0415
    now = dt.datetime.now(dt.UTC)
    if args.tubes is None and args.scanned is None:
        return failed(Usage("receive: give --tubes N (the tubes counted), or --scanned FILE "
                            "(the tubes scanned out of the box; - for standard input)"))
    try:
        box = lab_cells.identifier(args.box, "box")
        at = moment(args.at, "--at", time_zone(args.tz)) if args.at else now
        if args.tubes is not None and args.tubes < 0:
            raise ValueError(f"--tubes {args.tubes}: a count of tubes")
        scans = None if args.scanned is None else scanned.read_scans(args.scanned, box,
                                                                    sys.stdin)
        store = _open(args.db)
    except REPORTED as exc:
        return failed(exc, "receive")
    receipt = Receipt(0, box, args.lab, -1 if args.tubes is None else args.tubes, at)
    try:
        outcome = lab_import.receive_box(store, receipt, scans, now)
    finally:
        store.close()
    return _said("receive", outcome, "receipt")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, what in (("import-results", "a lab's results (CSV or xlsx: tube, result "
                                           "阴性/阳性/无效, lab, time tested, Ct values)"),
                       ("import-receipts", "boxes received at a lab (CSV or xlsx: box, tubes "
                                            "counted, time received, lab)")):
        p = sub.add_parser(name, help=what)
        p.add_argument("file", help="the lab's export: .csv (a header row) or .xlsx")
        _common(p, "the lab, when the file has no lab column")
        p.add_argument("--encoding", default="utf-8",
                       help="a CSV's encoding (default utf-8; gb18030 for a GBK export)")
    p = sub.add_parser("receive", help="a box received at a lab's desk: its tubes counted, "
                                       "or scanned out of it")
    p.add_argument("box", help="the box id, as scanned from its label")
    p.add_argument("--tubes", type=int, help="tubes counted in it")
    p.add_argument("--scanned", metavar="FILE",
                   help="the tubes scanned out of it, one id a line as a scanner types them "
                        "(text, CSV or xlsx; - for standard input): custody then names each "
                        "tube missing, extra or from another box")
    p.add_argument("--at", help="when it arrived (default now), the lab's local time")
    _common(p, "the receiving lab", required=True)


def _common(p: argparse.ArgumentParser, lab: str, required: bool = False) -> None:
    db_option(p)
    p.add_argument("--lab", default="", required=required, help=lab)
    tz_option(p, "the lab's time zone, for times without one")
