"""What the simulators on a pty pair share."""

from __future__ import annotations

import contextlib
import os


def close_once(*fds: int) -> None:
    """Close a simulator's pty ends; callers set them to -1 first, because a second
    close would close whatever has since reused the numbers."""
    for fd in fds:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
