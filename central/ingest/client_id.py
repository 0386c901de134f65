"""A collector's MQTT client id: stable across restarts, different between instances,
and never used by two running collectors at once.

The broker keeps a persistent session (and queues what arrives while the collector is
away) under the client id, so a restarted collector must come back under the same one.
It is made once and kept in a small file per instance; a lock on that file refuses a
second collector started with the same instance on this host, instead of the two
taking the connection from each other at every reconnect.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from central.errors import CentralError


class ClientIdInUse(CentralError, RuntimeError):
    """Another collector on this host runs with this client id."""


@dataclass
class ClaimedId:
    client_id: str
    lock: IO[str]

    def release(self) -> None:
        self.lock.close()


def default_state_dir() -> Path:
    """systemd's StateDirectory= when run as a service, else the user's state folder."""
    if folder := os.environ.get("STATE_DIRECTORY"):
        return Path(folder.split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "natest-central"


def claim(state_dir: Path, group: str, instance: str, client_id: str = "") -> ClaimedId:
    """The id to connect with (the one given, or this instance's kept one), locked."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_dir / f"collector-{group or 'solo'}-{instance}.id"
    if not client_id:
        if path.is_file():
            client_id = path.read_text(encoding="utf-8").strip()
        else:
            client_id = f"natest-collector-{group or 'solo'}-{uuid.uuid4().hex[:8]}"
            partial = path.with_suffix(".tmp")
            partial.write_text(client_id + "\n", encoding="utf-8")
            partial.replace(path)
    lock = (state_dir / f"{client_id}.lock").open("w", encoding="utf-8")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise ClientIdInUse(
            f"another collector on this host runs with client id {client_id!r} (lock "
            f"{state_dir / (client_id + '.lock')}): start this one with another --instance "
            "or --client-id, or stop the other first") from None
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return ClaimedId(client_id, lock)
