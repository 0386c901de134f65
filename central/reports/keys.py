"""`natest-central keygen`: central's key pair for sealed persons (opening.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from central.errors import FAILED, OK, REPORTED, CentralError, failed
from central.reports.catalogue import REPORTS, ReportName

if TYPE_CHECKING:
    from central.reports.opening import Persons


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("keygen", help="central's key pair: the private key opens the "
                                      "persons stations seal to the public one")
    p.add_argument("--out", required=True, help="the folder to write both files into")
    p.add_argument("--kid", default="", help="the key's id (default: central-DATE-RANDOM)")


KEYGEN = "natest-central keygen"


def keygen(args: argparse.Namespace) -> int:
    from contract.sealed import keygen as make  # noqa: PLC0415

    try:
        private, public, kid = make(Path(args.out), args.kid)
    except FileExistsError as exc:
        return failed(CentralError(f"{exc.filename} exists: a key is never overwritten "
                                   "(stations may still seal to it)"), KEYGEN)
    except REPORTED as exc:
        return failed(exc, KEYGEN)
    print(f"private key {kid}: {private}\n"
          f"  central's alone (mode 600): reports that print people take --key-file "
          f"{private}; keep it off the stations and the broker, and keep a copy: "
          "without it no sealed person opens again.\n"
          f"public key {kid}: {public}\n"
          "  copy it to each station (e.g. /etc/natest-station/central.pub.jwk) and set there:\n\n"
          "[privacy]\n"
          'central_key = "/etc/natest-station/central.pub.jwk"')
    return OK


def persons(key_files: list[str], report: ReportName) -> Persons:
    """How the report reads sealed persons: opened with the keys given where it prints
    people (and needs them once it meets one); a report that counts opens none, even
    with a key (its key files are still checked: a wrong one is said)."""
    from central.reports.opening import Opener, Persons  # noqa: PLC0415

    opener = Opener([Path(f) for f in key_files]) if key_files else None
    prints_people = REPORTS[report].people
    return Persons(opener if prints_people else None, needed=prints_people)


def needs_key(exc: Exception) -> bool:
    from central.reports.opening import NeedsKey  # noqa: PLC0415

    return isinstance(exc, NeedsKey)


def said(errors: list[str], report: str) -> int:
    """The sealed persons that did not open, each named: 0 when none, else 1 (the
    report is written, their rows marked 未能解密)."""
    for error in errors:
        print(f"report {report}: a sealed person not opened: {error}", file=sys.stderr)
    return FAILED if errors else OK
