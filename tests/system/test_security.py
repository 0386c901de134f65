"""Transport security on a real mosquitto: TLS with server verification, client
certificates with per-station ACLs, username + password file. Secrets never logged."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.central_keys import with_key
from tests.conftest import CollectorProcess, collect_command, eventually, in_process
from tests.people import LI, ZHANG
from tests.pki import make_ca, make_cert
from tools.broker import LocalBroker
from tools.watch import Watcher

pytestmark = pytest.mark.broker


@dataclass
class Pki:
    ca: Path
    folder: Path

    def client(self, name: str) -> tuple[str, str]:
        return str(self.folder / f"{name}.crt"), str(self.folder / f"{name}.key")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca = make_ca(folder)
    make_cert(folder, "server", server=True)
    for name in ("central", "lane-01", "lane-02"):
        make_cert(folder, name)
    return Pki(ca, folder)


@pytest.fixture
def tls_broker(pki: Pki, tmp_path: Path) -> Iterator[LocalBroker]:
    acl = tmp_path / "acl"
    acl.write_text("user central\ntopic read natest/v1/#\n"
                   "user lane-01\ntopic readwrite natest/v1/site-001/lane-01/#\n"
                   "user lane-02\ntopic readwrite natest/v1/site-001/lane-02/#\n")
    listener = (f"cafile {pki.ca}\ncertfile {pki.folder / 'server.crt'}\n"
                f"keyfile {pki.folder / 'server.key'}\nrequire_certificate true\n"
                f"use_identity_as_username true\nacl_file {acl}\n")
    with LocalBroker(listener=listener) as broker:
        yield broker


def tls_config(tmp_path: Path, port: int, station: str, ca: Path | str,
               cert: tuple[str, str] | None) -> Path:
    tls = f'ca_file = "{ca}"\n'
    if cert:
        tls += f'cert_file = "{cert[0]}"\nkey_file = "{cert[1]}"\n'
    config = tmp_path / f"{station}.toml"
    config.write_text(with_key(
        f'[station]\nid = "{station}"\nsite = "site-001"\ntube_prefix = "11"\n'
        f'data_dir = "{tmp_path / station}"\ntube_pattern = "T[0-9]{{6}}"\n'
        f'[mqtt]\nurl = "mqtts://127.0.0.1:{port}"\nreconnect_max_s = 1\n{tls}'))
    return config


def central(broker: LocalBroker, pki: Pki) -> Watcher:
    return Watcher(broker.url.replace("mqtt:", "mqtts:"),
                   tls=(str(pki.ca), *pki.client("central"))).start()


def register(station, *codes: str) -> None:  # type: ignore[no-untyped-def]
    sim = station.devices.scanner_sim
    for code in codes:
        sim.scan(code)


def test_a_station_with_its_certificate_delivers_over_tls(
        tmp_path: Path, tls_broker: LocalBroker, pki: Pki) -> None:
    watcher = central(tls_broker, pki)
    config = tls_config(tmp_path, tls_broker.port, "lane-01", pki.ca, pki.client("lane-01"))
    with in_process(config) as station:
        assert station.uplink.connected.wait(10)
        register(station, "T000001", ZHANG)
        assert watcher.wait_for(lambda w: len(w.events()) == 2)
    assert {e["station"] for e in watcher.events()} == {"lane-01"}
    assert watcher.wait_for(lambda w: w.statuses()[-1]["state"] == "offline")
    watcher.stop()


def test_a_station_cannot_publish_into_another_stations_root(
        tmp_path: Path, tls_broker: LocalBroker, pki: Pki) -> None:
    watcher = central(tls_broker, pki)
    # lane-02's certificate, configured as lane-01: the ACL refuses lane-01's topics.
    forged = tls_config(tmp_path, tls_broker.port, "lane-01", pki.ca, pki.client("lane-02"))
    honest = tls_config(tmp_path, tls_broker.port, "lane-02", pki.ca, pki.client("lane-02"))
    with in_process(forged) as station:
        assert station.uplink.connected.wait(10)
        register(station, "T000001", ZHANG)
        # MQTT 3.1.1 gives no refusal: the broker acknowledges, then drops. A wrong
        # certificate is a deployment error that only central can notice (no events).
        deadline = time.monotonic() + 10
        while station.uplink.acked_total < 2:
            assert time.monotonic() < deadline, "the broker never acknowledged"
            time.sleep(0.01)
    with in_process(honest) as station:   # published after the forged ones
        assert station.uplink.connected.wait(10)
        register(station, "T000002", LI)
        assert watcher.wait_for(lambda w: len(w.events()) == 2)
    assert {e["station"] for e in watcher.events()} == {"lane-02"}
    watcher.stop()


def stored(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [station for (station,) in conn.execute("SELECT station FROM events")]


def test_the_collector_with_its_certificate_stores_over_tls(
        tmp_path: Path, tls_broker: LocalBroker, pki: Pki) -> None:
    """`natest-central collect` over mqtts: it verifies the broker against the CA, and the
    broker knows it by its certificate ("central" may read natest/v1/#)."""
    cert, key = pki.client("central")
    collector = CollectorProcess(tls_broker.url.replace("mqtt:", "mqtts:"),
                                 tmp_path / "central.db", tmp_path / "state", "",
                                 "--ca-file", str(pki.ca), "--cert-file", cert, "--key-file", key)
    try:
        assert collector.subscribed.wait(20), "".join(collector.lines)
        config = tls_config(tmp_path, tls_broker.port, "lane-01", pki.ca,
                            pki.client("lane-01"))
        with in_process(config) as station:
            assert station.uplink.connected.wait(10)
            register(station, "T000001", ZHANG)
            assert eventually(lambda: len(stored(tmp_path / "central.db")) == 2)
        assert stored(tmp_path / "central.db") == ["lane-01", "lane-01"]
    finally:
        collector.end(signal.SIGTERM)


def test_the_collector_names_what_is_wrong_with_its_tls_options(
        tmp_path: Path, tls_broker: LocalBroker, pki: Pki) -> None:
    cert, _ = pki.client("central")
    mqtts = tls_broker.url.replace("mqtt:", "mqtts:")
    missing = tmp_path / "no-such-ca.pem"

    def collect(url: str, *options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(collect_command(url, tmp_path / "central.db", tmp_path / "state",
                                              "", *options),
                              capture_output=True, text=True, timeout=15, check=False)

    bad = collect(mqtts, "--ca-file", str(missing))
    assert bad.returncode == 1 and str(missing) in bad.stderr
    alone = collect(mqtts, "--cert-file", cert)
    assert alone.returncode == 2 and "--key-file" in alone.stderr
    plain = collect(tls_broker.url, "--ca-file", str(pki.ca))
    assert plain.returncode == 2 and "mqtts://" in plain.stderr


@pytest.mark.parametrize("case", ["no client certificate", "unknown server CA"])
def test_no_connection_without_mutual_verification(
        tmp_path: Path, tls_broker: LocalBroker, pki: Pki, case: str,
        caplog: pytest.LogCaptureFixture) -> None:
    if case == "no client certificate":
        config = tls_config(tmp_path, tls_broker.port, "lane-01", pki.ca, None)
    else:
        other = make_ca(tmp_path / "other-ca")
        config = tls_config(tmp_path, tls_broker.port, "lane-01", other,
                            pki.client("lane-01"))
    with caplog.at_level(logging.WARNING, "station.uplink"), in_process(config) as station:
        assert not station.uplink.connected.wait(2)
    # Each says its own cause: a broker that drops a client without a certificate after
    # the handshake (TLS 1.3) answers no CONNECT; an unknown CA fails the verification.
    said = {"no client certificate": "unreachable: no answer to CONNECT",
            "unknown server CA": "unreachable: [SSL: CERTIFICATE_VERIFY_FAILED]"}[case]
    assert said in caplog.text, caplog.text


def test_username_and_password_file_and_the_password_is_never_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret = "s3cret-Pa55-do-not-log"
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), "lane-01", secret],
                   check=True, capture_output=True)
    passwd.chmod(0o644)
    listener = f"allow_anonymous false\npassword_file {passwd}\n"
    with LocalBroker(listener=listener) as broker:
        (tmp_path / "pw").write_text(secret + "\n")
        config = tmp_path / "station.toml"
        config.write_text(with_key(
            f'[station]\nid = "lane-01"\nsite = "site-001"\ntube_prefix = "11"\n'
            f'data_dir = "{tmp_path / "data"}"\n[mqtt]\nurl = "{broker.url}"\n'
            f'username = "lane-01"\npassword_file = "{tmp_path / "pw"}"\n'))
        with caplog.at_level(logging.DEBUG), in_process(config) as station:
            assert station.uplink.connected.wait(10)
        (tmp_path / "pw").write_text("wrong\n")
        with caplog.at_level(logging.DEBUG), in_process(config) as station:
            assert not station.uplink.connected.wait(2)
    assert "refused the connection" in caplog.text
    assert secret not in caplog.text


def test_the_password_can_come_from_a_systemd_credential(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "cred-S3cret"
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), "lane-01", secret],
                   check=True, capture_output=True)
    passwd.chmod(0o644)
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "mqtt-password").write_text(secret)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))  # as systemd sets it
    with LocalBroker(listener=f"allow_anonymous false\npassword_file {passwd}\n") as broker:
        config = tmp_path / "station.toml"
        config.write_text(with_key(
            f'[station]\nid = "lane-01"\nsite = "site-001"\ntube_prefix = "11"\n'
            f'data_dir = "{tmp_path / "data"}"\n[mqtt]\nurl = "{broker.url}"\n'
            f'username = "lane-01"\npassword_credential = "mqtt-password"\n'))
        with in_process(config) as station:
            assert station.uplink.connected.wait(10)


def credential_config(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "station.toml"
    config.write_text(with_key(
        f'[station]\nid = "lane-01"\nsite = "site-001"\ntube_prefix = "11"\n'
        f'data_dir = "{tmp_path / "data"}"\n[screen]\nlisten = ""\n'
        f'[mqtt]\nurl = "{url}"\n'
        f'username = "lane-01"\npassword_credential = "mqtt-password"\n'))
    return config


@pytest.mark.parametrize("systemd_gave", ["nothing", "an empty folder"])
def test_a_missing_credential_is_a_configuration_error_not_an_outage(
        tmp_path: Path, systemd_gave: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    if systemd_gave == "an empty folder":
        env["CREDENTIALS_DIRECTORY"] = str(tmp_path)
    config = credential_config(tmp_path, "mqtt://127.0.0.1:1")
    # A subprocess: a station that started would run until the timeout, not hang the test.
    done = subprocess.run([sys.executable, "-m", "station.cli", "run", "--config", str(config)],
                          env=env, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 78, done.stderr           # systemd will not loop on it
    err = done.stderr
    assert "[mqtt] password_credential = 'mqtt-password'" in err
    assert ("LoadCredential=mqtt-password" if systemd_gave == "nothing"
            else str(tmp_path / "mqtt-password")) in err
    assert not (tmp_path / "data").exists(), "refused before anything was opened"


def test_a_credential_gone_while_running_is_said_as_such(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))   # and no file in it
    with LocalBroker() as broker, in_process(credential_config(tmp_path, broker.url)):
        assert eventually(lambda: "cannot log in to the broker" in caplog.text)
    assert "[mqtt] password_credential = 'mqtt-password'" in caplog.text
    assert "unreachable" not in caplog.text
