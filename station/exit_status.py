"""How the `station` command ends on an error: its exit status, chosen here once.

The station's errors share a root (`station.core.errors.StationError`), the drivers'
theirs (`drivers.errors.DriverError`), the contract's its own; each class keeps the
builtin it always had. A command hands the error that ends it to `failed`, which says it
on stderr after the command's prefix (`cannot start: …`, `printer: …`, or none) and
returns the status `STATUS` gives it. A command names no status of its own: an outcome
that is not an error (a backlog, a part that will not work) returns one of the names
below.

The table names classes by their dotted path, so that `check-config` loads neither the
store nor a driver to know how it ends; tests/system/test_errors.py checks that each
names one.
"""

from __future__ import annotations

import sys

from station.core.errors import StationError

# Exit statuses, as sysexits(3) has them where it has one.
OK = 0
FAILED = 1      # not done as asked; `status`: events still to deliver (BACKLOG)
USAGE = 2       # asked wrongly (EX_USAGE's role); `status`: the database unreadable
CONFIG = 78     # EX_CONFIG: systemd does not restart on it (RestartPreventExitStatus=78)
BACKLOG, UNREADABLE = FAILED, USAGE   # `station status`, as the technician reads it


class Usage(StationError, ValueError):
    """The command was asked wrongly: running it again as it is cannot succeed."""


# An error → the status it ends a command with: the first of its classes named here
# (its own, then its bases in order). A config the host cannot serve ends with 78.
STATUS: dict[str, int] = {
    "station.config.ConfigError": CONFIG,
    "station.config.CredentialError": CONFIG,
    "station.digest_secret.DigestKeyError": CONFIG,
    "drivers.lights.gpio.GpioUnavailable": CONFIG,   # off a Pi, or RPi.GPIO on a Pi 5
    "station.readout.NotReadable": UNREADABLE,
    "station.exit_status.Usage": USAGE,
    "station.core.errors.StationError": FAILED,
    "drivers.errors.DriverError": FAILED,
    "contract.errors.ContractError": FAILED,
    "builtins.Exception": FAILED,   # the OS's: a file not there, a port refused
}
# Where one command ends otherwise on an error: (command, error) → status.
BY_COMMAND: dict[tuple[str, str], int] = {
    # check-config lists the problems as its answer: 1, as for a part that will not work.
    ("check-config", "station.config.ConfigError"): FAILED,
    # safe-state, the unit's ExecStopPost after any stop, has always ended 1 on it.
    ("safe-state", "drivers.lights.gpio.GpioUnavailable"): FAILED,
}


def status_of(exc: Exception, command: str = "") -> int:
    """The exit status `exc` ends `command` with: the row of the first of its classes."""
    for cls in type(exc).__mro__:
        name = f"{cls.__module__}.{cls.__qualname__}"
        if (command, name) in BY_COMMAND:
            return BY_COMMAND[command, name]
        if name in STATUS:
            return STATUS[name]
    raise LookupError(f"no exit status for {exc!r}")   # builtins.Exception has one


def failed(exc: Exception, prefix: str = "", command: str = "") -> int:
    """Say `exc` on stderr, after `prefix: ` when the command has one; its exit status."""
    print(f"{prefix}: {exc}" if prefix else exc, file=sys.stderr)
    return status_of(exc, command)
