"""The collector's MQTT 5 client: its packet codec on bytes, then its behaviour against a
real mosquitto, with paho (a client nobody here wrote) on the other side."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from central.mqtt import codec
from central.mqtt.client import Client, Will
from central.mqtt.codec import ProtocolError, packet, parse_publish, read_varint
from central.mqtt.connect import connect_packet, handshake
from tests.conftest import eventually
from tools.broker import LocalBroker, free_port
from tools.watch import Watcher

# --- the codec --------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152,
                               268_435_455])
def test_a_variable_byte_integer_round_trips_at_every_width(n: int) -> None:
    raw = codec.varint(n)
    assert len(raw) == 1 + (n >= 128) + (n >= 16_384) + (n >= 2_097_152)
    assert read_varint(b"\xff" + raw, 1) == (n, 1 + len(raw))
    assert read_varint(raw[:-1], 0) is None   # cut short: wait for more


def test_a_fifth_length_byte_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="four bytes"):
        read_varint(b"\x80\x80\x80\x80\x01", 0)


def publish_packet(topic: str, payload: bytes, mid: int, note: int = 0) -> bytes:
    """A QoS 1 PUBLISH as MQTT 5.0 (3.3) lays it out, with a payload format indicator and
    a user property of `note` bytes when `note` is given."""
    props = b""
    if note:
        props = (b"\x01\x01" + b"\x26" + struct.pack("!H", 4) + b"note"
                 + struct.pack("!H", note) + b"x" * note)
    body = (struct.pack("!H", len(topic)) + topic.encode() + struct.pack("!H", mid)
            + codec.varint(len(props)) + props + payload)
    return bytes((0x32,)) + codec.varint(len(body)) + body


@pytest.mark.parametrize("note", [0, 10, 300], ids=["none", "short", "long"])
def test_a_publish_parses_with_or_without_properties(note: int) -> None:
    raw = publish_packet("natest/v1/s/l/events/sample.registered", b'{"seq": 7}', 513, note)
    packets, used = codec.split_packets(bytearray(raw))
    assert used == len(raw) and len(packets) == 1
    kind, flags, body = packets[0]
    assert kind == codec.PUBLISH
    assert parse_publish(flags, body) == ("natest/v1/s/l/events/sample.registered",
                                          b'{"seq": 7}', 1, 513)
    assert codec.read_properties(body, 2 + 38 + 2)[0] == (
        {0x01: 1, 0x26: (b"note", b"x" * note)} if note else {})


def test_packets_split_anywhere_across_reads_come_out_whole_and_in_order() -> None:
    stream = b"".join(publish_packet(f"t/{i}", bytes([i]) * (i * 37), i + 1, i * 20)
                      for i in range(12))
    for cut in range(1, 60, 7):   # reads of `cut` bytes
        buf, got = bytearray(), []
        for start in range(0, len(stream), cut):
            buf += stream[start:start + cut]
            packets, used = codec.split_packets(buf)
            del buf[:used]
            got += [parse_publish(flags, body) for _, flags, body in packets]
        assert not buf
        assert [(t, p, m) for t, p, _, m in got] == [
            (f"t/{i}", bytes([i]) * (i * 37), i + 1) for i in range(12)]


def test_a_qos_2_publish_or_a_topic_alias_is_refused() -> None:
    body = struct.pack("!H", 1) + b"t" + struct.pack("!H", 1) + b"\x00"
    with pytest.raises(ProtocolError, match="QoS 2"):
        parse_publish(4, body)
    with pytest.raises(ProtocolError, match="alias"):
        parse_publish(2, struct.pack("!H", 0) + struct.pack("!H", 1) + b"\x03\x23\x00\x01")


# --- against mosquitto --------------------------------------------------------------


class Inbox:
    """What a client received, connection by connection."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.messages: list[tuple[str, bytes, int, int, int]] = []  # + the link
        self.sessions: list[bool] = []
        self.disconnects: list[int | None] = []
        self.subacks: list[list[int]] = []
        self._lock = threading.Lock()
        client.on_connect = self.connected
        client.on_messages = self.received
        client.on_subscribe = lambda mid, reasons: self.subacks.append(reasons)
        client.on_disconnect = self.disconnects.append

    def connected(self, session_present: bool) -> None:
        self.sessions.append(session_present)
        self.client.subscribe("natest/test/#", qos=1)

    def received(self, msgs: list[codec.Received], link: int) -> None:
        with self._lock:
            self.messages += [(*m, link) for m in msgs]

    def payloads(self) -> list[bytes]:
        with self._lock:
            return [m[1] for m in self.messages]


def publisher(broker: LocalBroker) -> mqtt.Client:
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    return pub


@pytest.fixture
def paho_pub(broker: LocalBroker) -> Iterator[mqtt.Client]:
    pub = publisher(broker)
    yield pub
    pub.disconnect()
    pub.loop_stop()


def handed_over(client: Client, inbox: Inbox) -> None:
    """A positive fence: whatever the broker had queued for `client` before this call
    has been handed to `inbox`. mosquitto answers a SUBSCRIBE after what it queued for
    the connection before it; the client hands a read's messages over after the SUBACKs
    in that read, so a second SUBSCRIBE, sent once the first's SUBACK was handled, is
    answered in a later read, after those messages were handed over."""
    subscribed_again(client, inbox)
    subscribed_again(client, inbox)


def subscribed_again(client: Client, inbox: Inbox) -> None:
    answered = len(inbox.subacks)
    client.subscribe("fence/nothing-is-published-here")
    assert eventually(lambda: len(inbox.subacks) > answered, 10)


def started(broker: LocalBroker, client_id: str, **options: object) -> tuple[Client, Inbox]:
    options.setdefault("reconnect_min_s", 0.2)
    client = Client("127.0.0.1", broker.port, client_id, **options)  # type: ignore[arg-type]
    inbox = Inbox(client)
    client.start()
    assert eventually(lambda: bool(inbox.subacks), 10)
    return client, inbox


def test_messages_from_paho_arrive_whole_and_in_order(
        broker: LocalBroker, paho_pub: mqtt.Client) -> None:
    """paho encodes, mosquitto forwards (with paho's properties on every other one)."""
    client, inbox = started(broker, "t-order")
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.PayloadFormatIndicator = 1
    props.UserProperty = ("note", "x" * 300)
    try:
        assert inbox.subacks == [[1]]   # granted QoS 1
        sent = [f"message {i} ".encode() * (i % 50 + 1) for i in range(3000)]
        for i, payload in enumerate(sent):
            paho_pub.publish("natest/test/a", payload, qos=1,
                             properties=props if i % 2 else None)
        assert eventually(lambda: len(inbox.payloads()) == len(sent), 20)
        assert inbox.payloads() == sent
        assert {m[2] for m in inbox.messages} == {1}
        client.ack(1, [m[3] for m in inbox.messages])
    finally:
        client.stop()


def test_the_broker_holds_to_our_receive_maximum_until_we_acknowledge(
        broker: LocalBroker, paho_pub: mqtt.Client) -> None:
    client, inbox = started(broker, "t-recvmax", receive_maximum=10)
    try:
        sent = [paho_pub.publish("natest/test/a", str(i), qos=1) for i in range(50)]
        assert eventually(lambda: len(inbox.payloads()) == 10, 10)
        sent[-1].wait_for_publish(10)   # the broker has all 50, and sent us what it would
        assert sent[-1].is_published()
        handed_over(client, inbox)
        assert len(inbox.payloads()) == 10        # no more without acknowledgements
        assert client.ack(1, [m[3] for m in inbox.messages]) == 10
        # More come once acknowledged. (Debian 12's mosquitto 2.0 then sends all 40 that
        # wait, past the Receive Maximum: why the collector bounds what it holds itself.)
        assert eventually(lambda: len(inbox.payloads()) >= 20, 10)
        assert inbox.payloads() == [str(i).encode() for i in range(len(inbox.payloads()))]
    finally:
        client.stop()


def cut(client: Client) -> None:
    """The network goes: the client's socket shut under it, no DISCONNECT sent."""
    assert client.sock is not None
    client.sock.shutdown(socket.SHUT_RDWR)


def test_after_a_cut_the_session_redelivers_what_was_not_acknowledged(
        broker: LocalBroker, paho_pub: mqtt.Client) -> None:
    client, inbox = started(broker, "t-session", clean_start=False, session_expiry_s=60)
    try:
        assert inbox.sessions == [False]
        for i in range(20):
            paho_pub.publish("natest/test/a", str(i), qos=1)
        assert eventually(lambda: len(inbox.payloads()) == 20, 10)
        first = list(inbox.messages)
        assert client.ack(1, [m[3] for m in first[:5]]) == 5
        # A fence: the broker handles a connection's packets in order, so once it has
        # acknowledged a publication sent after the five, it has taken the five.
        assert client.publish("fence/outside-the-subscription", b"", qos=1).wait_for_publish(10)
        cut(client)
        assert eventually(lambda: inbox.sessions == [False, True], 10)
        # Acknowledgements of the first connection's packet ids are not sent on the second.
        assert client.ack(1, [m[3] for m in first[5:]]) == 0
        assert eventually(lambda: len(inbox.payloads()) == 35, 10)
        again = [m for m in inbox.messages if m[4] == 2]
        assert [m[1] for m in again] == [str(i).encode() for i in range(5, 20)]
        assert inbox.disconnects == [None]
    finally:
        client.stop()


def test_the_will_is_published_on_a_cut_and_not_on_a_clean_stop(
        broker: LocalBroker) -> None:
    watcher, watched = started(broker, "t-watcher")
    will = Will("natest/test/state", b"offline")
    try:
        client, _ = started(broker, "t-will", will=will)
        client.stop()
        # A fence: a message on the will's topic from a connection opened after the stop
        # had sent its DISCONNECT and closed its socket. mosquitto handles every socket
        # ready at a turn, so it read those before the new connection's CONNECT: a will
        # would have been published before the fence.
        pub = publisher(broker)
        pub.publish("natest/test/state", b"fence", qos=1)
        assert eventually(lambda: b"fence" in watched.payloads(), 10)
        pub.disconnect()
        pub.loop_stop()
        assert b"offline" not in watched.payloads()
        client, _ = started(broker, "t-will-2", will=will, reconnect_min_s=30)
        cut(client)
        assert eventually(lambda: b"offline" in watched.payloads(), 10)
        client.stop()
    finally:
        watcher.stop()


def retained(broker: LocalBroker, topic: str) -> list[dict[str, object]]:
    """What a paho subscriber (tools/watch.py) finds retained on `topic`."""
    watcher = Watcher(broker.url, topic=topic).start()
    try:
        assert eventually(lambda: bool(watcher.messages), 10)
        return [m.body for m in watcher.messages if m.retained]
    finally:
        watcher.stop()


def test_our_qos1_publication_is_acknowledged_and_retained(broker: LocalBroker) -> None:
    client, _ = started(broker, "t-pub")
    try:
        assert client.publish("natest/test/claim", b'{"claim": "mine"}',
                              retain=True).wait_for_publish(5)
    finally:
        client.stop()
    assert retained(broker, "natest/test/claim") == [{"claim": "mine"}]


def test_a_second_client_with_our_id_ends_our_connection(broker: LocalBroker) -> None:
    first, inbox = started(broker, "t-same", reconnect_min_s=30)
    second, _ = started(broker, "t-same")
    try:
        # mosquitto 2.0 closes the connection without a DISCONNECT: no reason given.
        assert eventually(lambda: inbox.disconnects == [None], 10)
        assert not first.is_connected() and second.is_connected()
    finally:
        first.stop()
        second.stop()


def test_a_disconnect_from_the_broker_reports_its_reason() -> None:
    """A broker that says why (MQTT 5.0, 3.14: 0x8E, session taken over), as newer brokers
    do on a takeover: a listening socket speaking those bytes."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def broker_says_taken_over() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(1024)                                    # CONNECT
            conn.sendall(b"\x20\x03\x00\x00\x00")              # CONNACK, success
            conn.sendall(b"\xe0\x02\x8e\x00")                  # DISCONNECT 0x8E
            time.sleep(0.5)

    threading.Thread(target=broker_says_taken_over, daemon=True).start()
    client = Client("127.0.0.1", port, "t-reason", reconnect_min_s=30)
    inbox = Inbox(client)
    client.start()
    try:
        assert eventually(lambda: inbox.disconnects == [0x8E], 10)
        assert inbox.sessions == [False]
    finally:
        client.stop()
        server.close()


def test_keepalive_pings_keep_an_idle_connection(broker: LocalBroker) -> None:
    client, inbox = started(broker, "t-idle", keepalive_s=1)
    # A fence, not a wait: a silent connection with the same keep-alive, opened after
    # ours, dropped by mosquitto (past 1.5 keep-alives of silence, at its next check:
    # about 5 s here, longer than the 3.5 s this test used to sleep). Ours, were it
    # silent, would have been dropped no later.
    silent, _, _, _ = handshake("127.0.0.1", broker.port, None, connect_packet(
        "t-silent", clean_start=True, session_expiry_s=0, receive_maximum=10,
        keepalive_s=1, will=None))
    try:
        silent.settimeout(10)
        while silent.recv(1024):   # a DISCONNECT (keep-alive timeout) may come first
            pass
        # Then a round trip on our connection: still the first one.
        assert client.publish("fence/outside-the-subscription", b"").wait_for_publish(10)
        assert client.is_connected() and inbox.disconnects == [] and client.link == 1
    finally:
        silent.close()
        client.stop()


def test_connecting_to_no_broker_retries_and_stops_cleanly(
        caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = Client("127.0.0.1", port, "t-none", reconnect_min_s=0.1).start()
    # It said each failed attempt: three of them are the retries.
    assert eventually(lambda: sum(f"cannot connect to 127.0.0.1:{port}" in r.getMessage()
                                  for r in caplog.records) >= 3, 10)
    assert not client.is_connected()
    client.stop()
    assert not client._thread.is_alive()


def test_a_connect_packet_is_what_the_standard_lays_out() -> None:
    raw = connect_packet("id", clean_start=False, session_expiry_s=3600,
                         receive_maximum=4000, keepalive_s=60, will=Will("w", b"x"),
                         login=("collector", b"s3cret"))
    # Properties: session expiry, receive maximum, maximum packet size (1 MiB).
    assert raw == packet(1, 0, b"\x00\x04MQTT\x05" + bytes((0x80 | 0x40 | 0x04 | 0x08 | 0x20,))
                         + b"\x00\x3c" + b"\x0d\x11\x00\x00\x0e\x10\x21\x0f\xa0"
                         + b"\x27\x00\x10\x00\x00"
                         + b"\x00\x02id" + b"\x00" + b"\x00\x01w" + b"\x00\x01x"
                         + b"\x00\x09collector" + b"\x00\x06s3cret")


def test_a_publication_made_while_no_broker_answers_goes_out_once_one_does() -> None:
    port = free_port()
    client = Client("127.0.0.1", port, "t-later", reconnect_min_s=0.1,
                    reconnect_max_s=0.3).start()
    try:
        pub = client.publish("natest/test/later", b'{"kept": true}', retain=True)
        assert not pub.wait_for_publish(0.5)      # nobody to take it yet
        with LocalBroker(port=port) as later:
            assert pub.wait_for_publish(10)
            assert retained(later, "natest/test/later") == [{"kept": True}]
    finally:
        client.stop()
