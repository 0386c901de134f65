"""`natest-central keygen`: central's key pair for sealed persons (opening.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from central.errors import FAILED, NOT_OPENED, OK, REPORTED, CentralError, failed
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
          f"  central's alone (mode 600): reports that print people take --private-key "
          f"{private}; keep it off the stations and the broker, and keep a copy: "
          "without it no sealed person opens again.\n"
          f"public key {kid}: {public}\n"
          "  copy it to each station (e.g. /etc/natest-station/central.pub.jwk) and set there:\n\n"
          "[privacy]\n"
          'central_key = "/etc/natest-station/central.pub.jwk"')
    return OK


def persons(key_files: list[str], report: ReportName) -> Persons:
    """How the report reads sealed persons: opened with the keys given where it prints
    people (and needs them once it meets one), or links them (the brief: with a key, if
    given one); a report that counts opens none, even with a key (its key files are
    still checked: a wrong one is said)."""
    from central.reports.opening import Opener, Persons  # noqa: PLC0415

    opener = Opener([Path(f) for f in key_files]) if key_files else None
    opens = REPORTS[report].opens
    # The brief prints nobody and needs no key, but links a pool's people with one.
    return Persons(opener if opens or REPORTS[report].links else None, needed=opens)


def needs_key(exc: Exception) -> bool:
    from central.reports.opening import NeedsKey  # noqa: PLC0415

    return isinstance(exc, NeedsKey)


def add_option(p: argparse.ArgumentParser) -> None:
    """A report's --private-key, and the name it had (--key-file, which collect keeps for
    its TLS key, as mosquitto_sub and curl name theirs): still taken, and said."""
    p.add_argument("--private-key", action="append", default=[], metavar="JWK",
                   help="central's private key (keygen's KID.jwk, mode 600), to open the "
                        "sealed persons a report prints; again for each older key still "
                        "in use")
    p.add_argument("--key-file", action="append", default=[], dest="old_key_file",
                   help=argparse.SUPPRESS)


def private_keys(args: argparse.Namespace) -> list[str]:
    """The key files a report was given; the old option's with a line on stderr."""
    if args.old_key_file:
        print(f"report {args.name}: --key-file is deprecated here: give central's private "
              "key with --private-key (--key-file stays collect's TLS key)", file=sys.stderr)
    return [*args.private_key, *args.old_key_file]


def said(persons: Persons, report: str, *, who: str = "", shown: str = "") -> int:
    """The sealed persons that did not open (the report is written, their rows marked
    未能解密): each changed or damaged one named, and then FAILED; those sealed to a key
    not given counted once a key, and then NOT_OPENED; OK when every person opened.
    `who` says it (default: report NAME), `shown` what became of them."""
    who = who or f"report {report}"
    for error in persons.errors:
        print(f"{who}: a sealed person not opened: {error}", file=sys.stderr)
    shown = shown or ("their rows say 未能解密" if report not in REPORTS or REPORTS[
        report].people else "so not matched: 已检 counts none of them")   # coverage
    for kid, count in sorted(persons.not_held.items()):
        print(f"{who}: {count} sealed {'person' if count == 1 else 'persons'} "
              f"not opened, {shown} (the first: "
              f"{persons.first_not_held[kid]}); to open them, give the file of key {kid!r} "
              "with --private-key", file=sys.stderr)
    return FAILED if persons.errors else NOT_OPENED if persons.not_held else OK
