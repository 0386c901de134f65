"""Central's errors, and how the `natest-central` command ends on each: chosen here once.

Every exception class of central derives from `CentralError` as well as the builtin it
always had (`FileRefused` is still a `ValueError`, `Refused` a `ConnectionError`), as
gpiozero's share one base. A command hands the error that ends it to `failed`, which
says it on stderr after the command's prefix (`natest-central collect: …`, `report
NAME: …`, or none) and returns the status `STATUS` gives it. A command names no status
of its own: an outcome that is not an error (rows refused, persons not opened) returns
one of the names below.

Every room imports this module and it imports none (tests/system/test_layering.py), so
the table names classes by their dotted path; tests/system/test_errors.py checks that
each names one.
"""

from __future__ import annotations

import sys

from contract.errors import ContractError


class CentralError(Exception):
    """An error of central's; the message names what failed (the file, the option)."""


class Usage(CentralError, ValueError):
    """The command was asked wrongly: options that do not go together, or a value given
    to one that is not one; running it again as it is cannot succeed."""


# Exit statuses, as sysexits(3) has them. The collector's unit does not restart it on 2
# or 77 (RestartPreventExitStatus=77 2 in systemd/natest-central@.service).
OK = 0
FAILED = 1     # not done as asked, or done with problems it names
USAGE = 2      # asked wrongly (EX_USAGE's role)
# Done, every row written, but persons sealed to a key the report was not given are left
# closed (their rows say 未能解密): a trial day, a retired key not given. Apart from 1 so
# a script tells "give the other key" from a person changed or damaged (1: look into it).
NOT_OPENED = 3
NOPERM = 77    # EX_NOPERM: refused for good (a password, an ACL): not restarted in a loop

# An error → the status it ends a command with: the first of its classes named here
# (its own, then its bases in order).
STATUS: dict[str, int] = {
    "central.errors.Usage": USAGE,
    "central.ingest.session_rules.CollectorRefused": NOPERM,
    "central.errors.CentralError": FAILED,
    "contract.errors.ContractError": FAILED,   # a key file
    "builtins.Exception": FAILED,   # the OS's and the parsers': a file not there, a day
}

# What a command says and ends on rather than a traceback: central's errors and the
# contract's, and what the OS and the parsers raise where a command reads files and
# options (an `OSError`, a `ValueError`).
REPORTED = (CentralError, ContractError, OSError, ValueError)


def status_of(exc: Exception) -> int:
    """The exit status `exc` ends a command with: the row of the first of its classes."""
    for cls in type(exc).__mro__:
        if (name := f"{cls.__module__}.{cls.__qualname__}") in STATUS:
            return STATUS[name]
    raise LookupError(f"no exit status for {exc!r}")   # builtins.Exception has one


def failed(exc: Exception, prefix: str = "") -> int:
    """Say `exc` on stderr, after `prefix: ` when the command has one; its exit status."""
    print(f"{prefix}: {exc}" if prefix else exc, file=sys.stderr)
    return status_of(exc)
