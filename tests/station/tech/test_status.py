"""`station status` beside a running station: safe to power off only when delivered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import eventually, in_process, write_config
from tests.people import LI, WANG, ZHANG
from tools.broker import LocalBroker, free_port


def status(config: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """The technician's command, as a separate process reading the live database."""
    return subprocess.run([sys.executable, "-m", "station.cli", "status", "--config",
                           str(config), *options], capture_output=True, text=True, timeout=30,
                          check=False)


def test_status_says_not_safe_while_a_broker_outage_leaves_a_backlog(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, f"mqtt://127.0.0.1:{port}", pool_size=5)
    with in_process(config) as station:                      # no broker yet: an outage
        sim = station.devices.scanner_sim
        assert sim is not None
        for code in ("T000001", ZHANG, LI, WANG):
            sim.scan(code)
        assert eventually(lambda: station.accepted == 4)
        during = status(config, "--json")
        assert during.returncode == 1, during.stderr
        figures = json.loads(during.stdout)
        assert figures["backlog"] == figures["last_seq"] == 4
        assert figures["delivered_up_to"] == 0 and figures["last_ack"] is None
        assert figures["tube"] == "T000001" and figures["tube_count"] == 3
        assert figures["safe_to_power_off"] is False
        assert figures["broker_reachable"] is False
        text = status(config)
        assert text.returncode == 1 and "safe to power off: NO, 4 event(s)" in text.stdout
        assert "T000001 (3 of 5)" in text.stdout
        # The outage has a line of its own, not only a connection counter (#42).
        assert (f"broker          mqtt://127.0.0.1:{port} UNREACHABLE (connection refused): "
                "events wait on this station") in text.stdout
        # The lab's parts are said: this lane's scanner is simulated, its ids are its own.
        assert "lab settings    SIMULATED devices: scanner, card_reader" in text.stdout
        assert "EXAMPLE values" not in text.stdout
        with LocalBroker(port=port):                         # the link comes back
            assert eventually(lambda: status(config).returncode == 0, timeout=30)
            after = json.loads(status(config, "--json").stdout)
    assert after["backlog"] == 0 and after["delivered_up_to"] == after["last_seq"] >= 4
    assert after["last_ack"] is not None and after["safe_to_power_off"] is True
    assert after["broker_reachable"] is True


def test_status_names_a_missing_database(tmp_path: Path) -> None:
    config = write_config(tmp_path, "mqtt://127.0.0.1:1")
    done = status(config)
    assert done.returncode == 2
    assert "no station database here" in done.stderr and str(tmp_path / "data") in done.stderr
