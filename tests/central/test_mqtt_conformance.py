"""The collector's MQTT 5 client against a broker that misbehaves on purpose (a script
per case, tests/harness/scripted_broker.py): refusals, the CONNACK's limits, SUBACK
verdicts, silence, malformed packets. Each case ends as the standard asks: a
ProtocolError and a reconnect, never a dead network thread; a refusal said once."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import contract
from central.ingest.collector import Collector
from central.ingest.session_rules import CollectorRefused, tls_context
from central.mqtt import codec
from central.mqtt.client import Client
from tests.conftest import eventually
from tests.harness.scripted_broker import CONNACK_OK, Conn, ScriptedBroker, connack, publish
from tests.pki import make_ca, make_cert
from tools.broker import LocalBroker

Script = Callable[[Conn, int], None]


@contextmanager
def client_of(script: Script, callbacks: Mapping[str, object] | None = None,
              **options: object) -> Iterator[tuple[Client, ScriptedBroker]]:
    """A started client against the script; `callbacks` set before it starts (set after,
    the broker's first packets could be handled by the defaults)."""
    with ScriptedBroker(script) as broker:
        client = Client("127.0.0.1", broker.port, "t-conform", reconnect_min_s=0.05,
                        reconnect_max_s=0.2, **options)  # type: ignore[arg-type]
        for name, callback in (callbacks or {}).items():
            setattr(client, name, callback)
        try:
            yield client.start(), broker
        finally:
            client.stop(2)


def idle(conn: Conn, seconds: float = 3.0) -> None:
    conn.hold(seconds)


@pytest.mark.parametrize("reason", [0x01, 0x88])
def test_a_connack_that_is_not_0x00_is_a_refusal_tried_again(reason: int) -> None:
    def script(conn: Conn, n: int) -> None:
        conn.send(connack(reason))

    with client_of(script) as (client, broker):
        assert eventually(lambda: len(broker.conns) >= 3, 10)
        assert not client.is_connected()


@pytest.mark.parametrize("reason", [0x86, 0x87])
def test_a_permanent_refusal_is_said_once_and_not_tried_again(
        reason: int, caplog: pytest.LogCaptureFixture) -> None:
    refusals: list[int] = []

    def script(conn: Conn, n: int) -> None:
        conn.send(connack(reason))

    on_refused = {"on_refused": lambda refusal: refusals.append(refusal.reason)}
    with client_of(script, on_refused) as (client, broker):
        assert eventually(lambda: refusals == [reason], 5)
        time.sleep(0.5)
        assert len(broker.conns) == 1 and not client._thread.is_alive()
    said = [r.getMessage() for r in caplog.records if "not trying again" in r.getMessage()]
    assert len(said) == 1 and f"0x{reason:02x}" in said[0]


def test_the_servers_keep_alive_is_the_one_used() -> None:
    def script(conn: Conn, n: int) -> None:
        conn.send(connack(props=b"\x13\x00\x02"))   # Server Keep Alive: 2 s
        pings = [p for p in conn.hold(2.5) if p[0] == codec.PINGREQ]
        conn.send(b"\xd0\x00" * len(pings))
        seen.append(len(pings))

    seen: list[int] = []
    with client_of(script, keepalive_s=60) as (client, _):
        assert eventually(lambda: bool(seen), 6)
        assert seen[0] >= 2 and client.keepalive_in_use == 2


def test_keep_alive_zero_sends_no_pings() -> None:
    seen: list[list[tuple[int, int, bytes]]] = []

    def script(conn: Conn, n: int) -> None:
        conn.send(CONNACK_OK)
        seen.append(conn.hold(2.0))

    with client_of(script, keepalive_s=0):
        assert eventually(lambda: bool(seen), 5)
        assert seen[0] == []


def test_a_ping_never_answered_ends_the_connection_and_it_reconnects() -> None:
    def script(conn: Conn, n: int) -> None:
        conn.send(connack(props=b"\x13\x00\x01"))   # 1 s: a ping at 0.5 s, silence
        idle(conn, 5)

    with client_of(script) as (_, broker):
        assert eventually(lambda: len(broker.conns) >= 2, 8)


def test_our_publications_wait_for_the_brokers_receive_maximum() -> None:
    got: list[int] = []

    def script(conn: Conn, n: int) -> None:
        conn.send(connack(props=b"\x21\x00\x01"))   # Receive Maximum 1
        for _ in range(3):
            _, _, body = conn.expect(codec.PUBLISH)
            got.append(len([p for p in conn.hold(0.3) if p[0] == codec.PUBLISH]))
            conn.send(b"\x40\x02" + body[body[1] + 2:body[1] + 4])   # PUBACK its id
        idle(conn)

    with client_of(script) as (client, _):
        pubs = [client.publish("natest/x", b"n", qos=1) for _ in range(3)]
        assert all(p.wait_for_publish(5) for p in pubs)
    assert got == [0, 0, 0]   # never a second one in flight


def test_a_puback_refusal_is_kept_on_the_publication(caplog: pytest.LogCaptureFixture) -> None:
    def script(conn: Conn, n: int) -> None:
        conn.send(CONNACK_OK)
        _, _, body = conn.expect(codec.PUBLISH)
        conn.send(b"\x40\x03" + body[body[1] + 2:body[1] + 4] + b"\x87")
        idle(conn)

    with client_of(script) as (client, _):
        pub = client.publish("natest/x", b"n", qos=1)
        assert pub.wait_for_publish(5) and pub.refused == 0x87
    assert any("refused a publication" in r.getMessage() for r in caplog.records)


def test_a_publication_over_the_brokers_maximum_packet_size_is_not_sent() -> None:
    def script(conn: Conn, n: int) -> None:
        conn.send(connack(props=b"\x27\x00\x00\x00\x40"))   # 64 bytes at most
        seen.extend(conn.hold(1.0))

    seen: list[tuple[int, int, bytes]] = []
    with client_of(script) as (client, _):
        assert client.wait_connected(5)
        pub = client.publish("natest/x", b"x" * 100, qos=1)
        assert pub.wait_for_publish(5) and pub.refused == 0x95
    assert not [p for p in seen if p[0] == codec.PUBLISH]


MALFORMED = {
    "truncated body": b"\x32\x03\x00\x05a",
    "property overrun": publish(b"natest/x", b"{}", 7, props=b"\x20\x26"),
    "QoS 2": publish(b"natest/x", b"{}", 7, qos=2),
    "QoS 3": bytes((0x36,)) + publish(b"natest/x", b"{}", 7)[1:],
    "packet id 0": publish(b"natest/x", b"{}", 0),
    "a 5-byte length": b"\x30\xff\xff\xff\xff\x01",
    "oversized": b"\x30\xff\xff\xff\x7f",   # 268 MB announced: refused before it comes
    "unexpected type": b"\x10\x00",         # a CONNECT, from a broker
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_input_ends_the_connection_and_it_reconnects(case: str) -> None:
    handed: list[int] = []

    def script(conn: Conn, n: int) -> None:
        conn.send(CONNACK_OK)
        if n == 1:
            conn.send(MALFORMED[case])
        idle(conn)

    with client_of(script, {"on_messages": lambda msgs, link: handed.append(len(msgs))}) \
            as (client, broker):
        assert eventually(lambda: len(broker.conns) >= 2, 8), case
        assert client.protocol_errors >= 1 and client._thread.is_alive()
        assert eventually(client.is_connected, 5)
    assert handed == []


def test_an_error_in_a_callback_ends_the_connection_not_the_thread() -> None:
    def script(conn: Conn, n: int) -> None:
        conn.send(CONNACK_OK + publish(b"natest/x", b"{}", 3))
        idle(conn)

    def broken(msgs: object, link: int) -> None:
        raise KeyError("a bug of ours")

    with client_of(script, {"on_messages": broken}) as (client, broker):
        assert eventually(lambda: len(broker.conns) >= 2, 8)
        assert client._thread.is_alive() and client.protocol_errors >= 1


def test_malformed_input_is_counted_in_the_collectors_metrics(tmp_path: Path) -> None:
    def script(conn: Conn, n: int) -> None:
        conn.send(CONNACK_OK)
        if n == 1:
            conn.send(MALFORMED["packet id 0"])
        idle(conn)

    with collector_against(script, tmp_path) as running:
        assert eventually(lambda: running.collector.metrics.registry.get_sample_value(
            "natest_mqtt_protocol_errors_total") == 1, 8)
        assert eventually(lambda: len(running.broker.conns) == 2, 5)


def test_publishes_then_a_disconnect_in_one_read_are_all_handed_over() -> None:
    handed: list[str] = []
    reasons: list[int | None] = []

    def script(conn: Conn, n: int) -> None:
        if n == 1:
            conn.send(CONNACK_OK + publish(b"natest/a", b"1", 1) + publish(b"natest/b", b"2", 2)
                      + b"\xe0\x01\x8b")   # DISCONNECT: server shutting down
        else:
            conn.send(CONNACK_OK)
        idle(conn)

    callbacks = {"on_messages": lambda msgs, link: handed.extend(m[0] for m in msgs),
                 "on_disconnect": reasons.append}
    with client_of(script, callbacks):
        assert eventually(lambda: reasons == [0x8B], 5)
        assert handed == ["natest/a", "natest/b"]


def test_a_broker_that_accepts_and_drops_is_backed_off() -> None:
    def script(conn: Conn, n: int) -> None:
        conn.send(CONNACK_OK)
        conn.sock.close()

    with ScriptedBroker(script) as broker:
        client = Client("127.0.0.1", broker.port, "t-flap", reconnect_min_s=0.05,
                        reconnect_max_s=5).start()
        try:
            time.sleep(3)
            ended = time.monotonic()
        finally:
            client.stop(2)
        times = [*broker.connected_at, ended]
        waits = [b - a for a, b in itertools.pairwise(times)]
    # With a fixed 50 ms between attempts there would be ~60; the wait grows instead. The
    # waits are jittered, so the longest may be the one still running when the test ends.
    assert len(broker.conns) < 25 and max(waits) > 0.3, waits


def test_pings_go_on_while_the_client_reads_no_more() -> None:
    seen: list[list[tuple[int, int, bytes]]] = []

    def script(conn: Conn, n: int) -> None:
        conn.send(connack(props=b"\x13\x00\x01") + publish(b"natest/x", b"1", 1))
        got = conn.hold(3.0)
        conn.send(b"\xd0\x00" * 10)
        seen.append(got)

    # The collector's open batch is full: nothing more is read.
    with client_of(script, {"readable": lambda: False}) as (_, broker):
        assert eventually(lambda: bool(seen), 6)
        assert len([p for p in seen[0] if p[0] == codec.PINGREQ]) >= 4
        assert len(broker.conns) == 1   # the connection kept, nothing read


# --- the collector: SUBACK verdicts, a topic that is not UTF-8 --------------------------

@dataclass
class Running:
    collector: Collector
    broker: ScriptedBroker
    runner: threading.Thread
    failed: list[BaseException]


@contextmanager
def collector_against(script: Script, tmp_path: Path, group: str = "") -> Iterator[Running]:
    """A collector running (as `natest-central collect` runs it) against the script;
    stopped, and its run ended, on the way out."""
    with ScriptedBroker(script) as broker:
        collector = Collector(f"mqtt://127.0.0.1:{broker.port}", tmp_path / "c.db", group)
        failed: list[BaseException] = []
        stop = threading.Event()

        def run() -> None:
            try:
                collector.run(stop, tick_s=0.1)
            except CollectorRefused as exc:
                failed.append(exc)

        runner = threading.Thread(target=run, daemon=True)
        runner.start()
        try:
            yield Running(collector, broker, runner, failed)
        finally:
            stop.set()
            runner.join(10)


def suback_script(reason: int) -> Script:
    def script(conn: Conn, n: int) -> None:
        conn.send(CONNACK_OK)
        _, _, body = conn.expect(codec.SUBSCRIBE)
        conn.send(codec.packet(codec.SUBACK, 0, body[:2] + b"\x00" + bytes((reason,))))
        idle(conn)
    return script


@pytest.mark.parametrize(("reason", "said"), [
    (0x80, "0x80 (unspecified error)"), (0x87, "0x87 (not authorized)"),
    (0x9E, "0x9e (shared subscriptions not supported)"), (0x00, "at QoS 0, not 1")])
def test_a_refused_or_downgraded_events_subscription_ends_the_collector(
        reason: int, said: str, tmp_path: Path) -> None:
    with collector_against(suback_script(reason), tmp_path) as running:
        running.runner.join(8)
        assert not running.runner.is_alive() and len(running.failed) == 1
        assert said in str(running.failed[0])
        assert not running.collector.subscribed.is_set() and len(running.broker.conns) == 1


def test_a_group_on_a_broker_without_shared_subscriptions_ends_the_collector(
        tmp_path: Path) -> None:
    def script(conn: Conn, n: int) -> None:
        conn.send(connack(props=b"\x2a\x00"))   # Shared Subscription Available: 0
        idle(conn)

    with collector_against(script, tmp_path, group="g") as running:
        running.runner.join(8)
        assert running.failed
        assert "does not offer shared subscriptions" in str(running.failed[0])


def test_a_topic_that_is_not_utf8_is_quarantined_and_acknowledged(tmp_path: Path) -> None:
    acked: list[bytes] = []

    def script(conn: Conn, n: int) -> None:
        conn.send(CONNACK_OK)
        _, _, body = conn.expect(codec.SUBSCRIBE)
        conn.send(codec.packet(codec.SUBACK, 0, body[:2] + b"\x00\x01"))
        conn.send(publish(b"natest/v1/\xff\xfe/events", b"{}", 42))
        acked.append(conn.expect(codec.PUBACK)[2])
        idle(conn)

    with collector_against(script, tmp_path) as running:
        assert eventually(lambda: bool(acked), 8)
        assert running.collector.metrics.registry.get_sample_value(
            "natest_mqtt_protocol_errors_total") == 0   # quarantined, not an error
        assert acked[0][:2] == (42).to_bytes(2, "big")
        assert eventually(lambda: running.collector.quarantined == 1, 5)


# --- a real mosquitto with a password file and an ACL ----------------------------------

SECRET = "c0llector-Pa55-not-logged"


@pytest.fixture
def password_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    for n, (user, secret) in enumerate((("central", SECRET), ("lane-01", "lane-pw"))):
        subprocess.run(["mosquitto_passwd", *(["-c"] if n == 0 else []), "-b", str(passwd),
                        user, secret], check=True, capture_output=True)
    passwd.chmod(0o644)
    acl.write_text("user central\ntopic readwrite natest/#\n"
                   "user lane-01\ntopic readwrite natest/v1/site-001/lane-01/#\n")
    listener = f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
    with LocalBroker(listener=listener) as broker:
        yield broker


def collect(broker: LocalBroker, tmp_path: Path, user: str, secret: str,
            mode: int = 0o600) -> subprocess.CompletedProcess[str]:
    password = tmp_path / f"{user}.pw"
    password.write_text(secret + "\n")
    password.chmod(mode)
    return subprocess.run(
        [sys.executable, "-m", "central.cli", "collect", "--mqtt-url", broker.url, "--db",
         str(tmp_path / "c.db"), "--username", user, "--password-file", str(password),
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=30, check=False)


def test_a_collector_logs_in_with_its_password_and_stores_a_lanes_event(
        password_broker: LocalBroker, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    collector = Collector(password_broker.url, tmp_path / "c.db",
                          login=("central", SECRET.encode())).start()
    try:
        assert collector.subscribed.wait(10)
        lane = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="lane-01")
        lane.username_pw_set("lane-01", "lane-pw")
        lane.connect("127.0.0.1", password_broker.port)
        lane.loop_start()
        event = published_event()
        lane.publish(event[0], event[1], qos=1).wait_for_publish(5)
        assert eventually(lambda: collector.stored == 1, 10)
        lane.loop_stop()
        lane.disconnect()
    finally:
        collector.stop()
    assert SECRET not in caplog.text


def test_a_wrong_password_ends_the_collector_once_with_its_reason(
        password_broker: LocalBroker, tmp_path: Path) -> None:
    """mosquitto answers a wrong password with 0x87 (not authorized), not 0x86."""
    done = collect(password_broker, tmp_path, "central", "wrong-Pa55")
    assert done.returncode == 77, done.stderr
    assert done.stderr.count("not trying again") == 1        # said once, not retried
    assert done.stderr.endswith("natest-central collect: the broker refused the connection: "
                                "reason code 0x87 (not authorized)\n")
    assert "wrong-Pa55" not in done.stderr


def test_a_password_file_others_can_read_is_refused(password_broker: LocalBroker,
                                                    tmp_path: Path) -> None:
    done = collect(password_broker, tmp_path, "central", SECRET, mode=0o644)
    assert done.returncode == 2 and "central.pw: readable by others (mode 0644)" in done.stderr


def published_event() -> tuple[str, bytes]:
    """A tube.released event of lane-01, as its uplink publishes it."""
    body = {"v": contract.VERSION, "id": str(uuid.uuid4()), "site": "site-001",
            "station": "lane-01", "seq": 1, "session": 1, "ts": "2026-12-04T08:00:00.000Z",
            "clock_synced": True, "type": "tube.released", "data": {"tube": "T000001"}}
    return (contract.event_topic("site-001", "lane-01", "tube.released"),
            json.dumps(body).encode())


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_the_collectors_unit_passes_verify_and_does_not_restart_a_refusal(
        tmp_path: Path) -> None:
    unit = Path(__file__).resolve().parents[2] / "systemd" / "natest-central@.service"
    text = unit.read_text()
    assert "RestartPreventExitStatus=77" in text and "Restart=always" in text
    root = tmp_path / "root"
    binary = root / "opt/natest-central/.venv/bin/natest-central"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    units = root / "usr/lib/systemd/system"
    shutil.copytree("/usr/lib/systemd/system", units, symlinks=True)
    shutil.copy(unit, units / unit.name)
    done = subprocess.run(["systemd-analyze", "verify", f"--root={root}",
                           str(units / "natest-central@1.service")],
                          capture_output=True, text=True, timeout=60, check=False)
    said = [line for line in (done.stdout + done.stderr).splitlines() if "natest" in line]
    assert done.returncode == 0 and said == [], "\n".join(said)


# --- TLS: a broker the collector cannot verify is never talked to ---------------------

@pytest.mark.parametrize("wrong", ["CA", "host name"])
def test_over_tls_a_wrong_ca_or_host_name_is_refused(
        wrong: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    make_ca(ours)
    make_ca(theirs)
    # The broker's certificate: signed by our CA but for another name, or by theirs.
    signer = ours if wrong == "host name" else theirs
    make_cert(signer, "server", server=True,
              names="DNS:broker.example" if wrong == "host name" else "IP:127.0.0.1")
    listener = (f"cafile {signer / 'ca.crt'}\ncertfile {signer / 'server.crt'}\n"
                f"keyfile {signer / 'server.key'}\nallow_anonymous true\n")
    with LocalBroker(listener=listener) as broker:
        collector = Collector(f"mqtts://127.0.0.1:{broker.port}", tmp_path / "c.db",
                              tls=tls_context(str(ours / "ca.crt"))).start()
        try:
            assert not collector.subscribed.wait(3)
        finally:
            collector.stop()
    said = "IP address mismatch" if wrong == "host name" else "certificate verify failed"
    assert said in caplog.text
