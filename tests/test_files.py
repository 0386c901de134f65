"""A new folder's or file's name is synced into its parent before it is relied on."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.files import make_dirs, replace_synced
from station.store import connect


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths os.fsync was called on (it still syncs)."""
    seen: list[str] = []
    real: Callable[[int], None] = os.fsync

    def fsync(fd: int) -> None:
        seen.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return seen


def test_each_new_folder_is_synced_into_its_parent(tmp_path: Path, synced: list[str]) -> None:
    make_dirs(tmp_path / "a" / "b" / "c")
    assert synced == [str(tmp_path), str(tmp_path / "a"), str(tmp_path / "a" / "b")]
    assert stat.S_IMODE((tmp_path / "a" / "b" / "c").stat().st_mode) == 0o700
    synced.clear()
    make_dirs(tmp_path / "a" / "b" / "c")                 # there already: nothing to sync
    assert synced == []


def test_a_renamed_file_is_synced_then_its_folder(tmp_path: Path, synced: list[str]) -> None:
    tmp = tmp_path / ".x.tmp"
    tmp.write_bytes(b"RIFF")
    replace_synced(tmp, tmp_path / "x.wav")
    assert synced == [str(tmp), str(tmp_path)]
    assert (tmp_path / "x.wav").read_bytes() == b"RIFF" and not tmp.exists()


def test_a_new_data_dir_and_database_have_durable_names(
        tmp_path: Path, synced: list[str]) -> None:
    connect(tmp_path / "data" / "station.db").conn.close()
    assert synced[0] == str(tmp_path)                      # the data_dir's name
    assert str(tmp_path / "data") in synced                # the database's name
