"""The station's errors share one root, `StationError`, as gpiozero's share theirs.

Each class also keeps the builtin it always had (`BadCode` is a `ValueError`,
`CredentialError` an `OSError`), so an `except ValueError` still catches it. The root
lives in the core, the station's bottom layer: the core's own errors (`BadCode`,
`PromptError`) derive from it and the core imports nothing of the shell, while every
module of the shell may import the core. The drivers' root (`drivers/errors.py`) is
their own; the `station` command maps both, and the contract's, to exit statuses in one
table (`station/exit_status.py`).
"""


class StationError(Exception):
    """An error of the lane daemon or its commands; the message names what failed."""
