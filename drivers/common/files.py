"""Files that survive a power cut: a name is only as durable as its folder's last fsync.

On ext4 and an SD card, a new file or folder, or a rename, can vanish at a power cut
even when the file's own data was synced, unless the folder holding the name is synced.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def missing_dirs(folder: Path) -> list[Path]:
    """The folders `mkdir -p folder` would create, outermost first."""
    missing: list[Path] = []
    at = folder
    while not at.exists():
        missing.append(at)
        at = at.parent
    return missing[::-1]


def make_dirs(folder: Path, mode: int = 0o700) -> None:
    """mkdir -p, each new folder's name synced into its parent before it is used."""
    for new in missing_dirs(folder):
        try:
            new.mkdir(mode=mode)
        except FileExistsError:    # made meanwhile by another thread or process
            continue
        fsync_dir(new.parent)


def replace_synced(tmp: Path, into: Path) -> None:
    """Give a written temporary file its name: data synced first, then the folder."""
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    tmp.replace(into)
    fsync_dir(into.parent)
