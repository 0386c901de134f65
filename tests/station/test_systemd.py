"""Type=notify: the station says READY=1 once ready, feeds the watchdog from its core
loop, and says STOPPING=1 on the way out, on a datagram socket as systemd listens."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import pytest

from station.systemd import notify, watchdog_interval
from tests.conftest import eventually, in_process, write_config
from tools.broker import free_port


def test_ready_watchdog_and_stopping_reach_systemd(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    listener.settimeout(0.05)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")          # a ping every 0.1 s
    heard: list[str] = []

    def listen() -> bool:
        with contextlib.suppress(TimeoutError):
            heard.append(listener.recv(64).decode())
        return heard.count("WATCHDOG=1") >= 3

    config = write_config(tmp_path, f"mqtt://127.0.0.1:{free_port()}")
    with in_process(config):
        assert eventually(listen, timeout=10)
    while True:
        try:
            heard.append(listener.recv(64).decode())
        except TimeoutError:
            break
    listener.close()
    assert heard[0] == "READY=1" and heard[-1] == "STOPPING=1"


def test_without_systemd_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert notify("READY=1") is False and watchdog_interval() is None
