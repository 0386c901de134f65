"""The contract's errors share one root, `ContractError`, as gpiozero's share theirs.

Each class of `contract` also keeps the builtin it always had (`KeyFileError` and
`InvalidIdNumber` are `ValueError`s), so an `except ValueError` still catches them. The
contract imports nothing of ours, so its root is its own: the station's and central's
command lines name it in their tables of exit statuses (`station/exit_status.py`,
`central/errors.py`) beside their own roots.
"""


class ContractError(Exception):
    """An error of the contract's: a key file, an ID number; the message names it."""
