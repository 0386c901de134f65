"""A new folder's or file's name is synced into its parent before it is relied on."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.common.files import make_dirs, replace_synced
from station.store_file import connect


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


def test_a_new_database_is_built_aside_then_synced_and_named(
        tmp_path: Path, synced: list[str]) -> None:
    data = tmp_path / "data"
    connect(data / "station.db").conn.close()
    # The folder's name; then the whole database under a name of its own, synced once
    # before it gets its real name; then the folder that now holds that name.
    assert synced[0] == str(tmp_path)
    assert synced[1].startswith(str(data / ".station.db.")) and synced[1].endswith(".new")
    assert synced[2:] == [str(data)]
    assert sorted(p.name for p in data.iterdir()) == ["station.db"]
    assert stat.S_IMODE((data / "station.db").stat().st_mode) == 0o600
    conn = sqlite3.connect(data / "station.db")
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA auto_vacuum").fetchone() == (2,)   # incremental
    assert {"outbox", "meta", "print_jobs"} <= {
        r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_database_half_built_at_a_power_cut_is_cleared(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])   # a process id that has ended
    dead.wait()
    (tmp_path / f".station.db.{dead.pid}.new").write_bytes(b"SQLite format 3\0 torn")
    (tmp_path / f".station.db.{dead.pid}.new-wal").write_bytes(b"torn")
    (tmp_path / ".station.db.1.new").write_bytes(b"")   # pid 1 runs: still being built
    connect(tmp_path / "station.db").conn.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".station.db.1.new", "station.db"]
