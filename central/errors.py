"""Central's errors share one root, `CentralError`, as gpiozero's share theirs.

Every exception class of central derives from it as well as the builtin it always had
(`FileRefused` is still a `ValueError`, `Refused` a `ConnectionError`), so an `except
ValueError` still catches it. Every room imports this module and it imports none
(tests/system/test_layering.py).
"""

from __future__ import annotations


class CentralError(Exception):
    """An error of central's; the message names what failed (the file, the option)."""
