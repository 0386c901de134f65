"""Many stations publishing at once: the load a city's collectors meet at 07:00.

Each simulated station has its own MQTT connection and client id (as a lane's uplink:
`natest-{site}-{station}`), and publishes a lane's day in order: a tube opened, ten
people registered into it with realistic names and ID numbers, the tube sealed; seq from
1, +1 per event; QoS 1, with at most WINDOW unacknowledged, as the uplink does.

Why not paho: on a small machine the generator shares the cores with the broker and the
collectors it measures, and paho spends tens of microseconds of Python per message. Here
the MQTT 3.1.1 packets (CONNECT, PUBLISH QoS 1) are encoded before the clock starts and
one selector loop writes them, counting the broker's PUBACKs. Malformed bytes would make
mosquitto drop the connection, and the bench checks every event arrives exactly once.

Run as a process of its own (`python -m tools.central.loadgen …`), so it has its own interpreter.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import selectors
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import contract
from central.mqtt.codec import text as _string
from central.mqtt.codec import varint as _length
from contract.events import (
    EventData,
    Person,
    SampleRegistered,
    SampleRegisteredEncrypted,
    TubeOpened,
    TubeSealed,
)
from contract.id_numbers import check_char
from contract.sealed import keygen, read_keys
from contract.sealer import Sealer

WINDOW = 256                 # unacknowledged publishes per station
SAMPLE = 10                  # every 10th seq's send time is kept, for latency
PER_TUBE = 10
PUBACK = b"\x40\x02"         # MQTT 3.1.1 PUBACK: fixed header, then the packet id


def connect_packet(client_id: str, keepalive: int = 120) -> bytes:
    body = _string("MQTT") + b"\x04\x02" + keepalive.to_bytes(2, "big") + _string(client_id)
    return b"\x10" + _length(len(body)) + body


def publish_packet(topic: str, packet_id: int, payload: bytes) -> bytes:
    body = _string(topic) + packet_id.to_bytes(2, "big") + payload
    return b"\x32" + _length(len(body)) + body


def throwaway_central_key() -> dict[str, Any]:
    """A public key of central's made as `natest-central keygen` makes one, its private
    half deleted at once: nothing is opened in a load, only the sealed events' size and
    shape matter."""
    with tempfile.TemporaryDirectory(prefix="natest-loadgen-") as folder:
        _, public, _ = keygen(Path(folder), "loadgen")
        return read_keys(public, private=False)[0]


def valid_number(first17: str) -> str:
    """An ID number that passes the check a roster's numbers get (a birth date, its
    check character): 17 digits of a made-up person and their check character."""
    return first17 + check_char(first17)


FIRST_BIRTH = dt.date(1940, 1, 1)


def distinct_number(k: int) -> str:
    """The k-th of 10^3 × 36,500 distinct valid ID numbers (a birth date a day apart
    every thousand people, then the sequence): a city's people, each once."""
    born = FIRST_BIRTH + dt.timedelta(days=k // 1000)
    return valid_number(f"110105{born:%Y%m%d}{k % 1000:03d}")


def day_of_events(site: str, station: str, count: int,
                  sealer: Sealer | None = None,
                  first_person: int | None = None) -> list[tuple[str, bytes]]:
    """(topic, payload) of a lane's first `count` events, in seq order; with `sealer`,
    each person sealed as a sealing station's uplink publishes it. Its people's numbers
    repeat from lane to lane (some 10^5 in all), or, from `first_person` on, are the
    city's distinct ones (`distinct_number` of first_person + seq)."""
    now = dt.datetime.now(dt.UTC)
    out: list[tuple[str, bytes]] = []
    tube_no, position = 0, 0
    for seq in range(1, count + 1):
        tube_no += position == 0
        tube = f"{station[-4:]}{tube_no:06d}"
        event_id = str(uuid.uuid4())
        fact: EventData
        if position == 0:
            fact, position = TubeOpened(tube, PER_TUBE), 1
        elif position <= PER_TUBE:
            number = (valid_number(f"11{seq % 10000:04d}19900101{position:03d}")
                      if first_person is None else distinct_number(first_person + seq))
            person = Person("resident", number, "张三丰", "male", "1990-01-01")
            fact = SampleRegistered(tube, position, "card", person, False)
            if sealer is not None:
                fact = SampleRegisteredEncrypted.of(fact, sealer.seal(event_id, person))
            position += 1
        else:
            fact, position = TubeSealed(tube, PER_TUBE, "full"), 0
        out.append(published(site, station, seq, now + dt.timedelta(milliseconds=seq), fact,
                             event_id=event_id))
    return out


def published(site: str, station: str, seq: int, at: dt.datetime, fact: EventData, *,
              event_id: str | None = None) -> tuple[str, bytes]:
    """(topic, payload) of one event as a lane with a synced clock publishes it."""
    envelope: dict[str, Any] = {
        "v": contract.VERSION, "id": event_id or str(uuid.uuid4()), "site": site,
        "station": station, "seq": seq, "session": 1, "ts": contract.rfc3339(at),
        "clock_synced": True, "type": fact.type, "data": fact.data}
    return (contract.event_topic(site, station, fact.type),
            json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode())


@dataclass
class Lane:
    """One simulated station's connection and what it still has to send."""

    sock: socket.socket
    packets: list[bytes]
    sent: int = 0
    acked: int = 0
    inbox: bytearray = field(default_factory=bytearray)
    outbox: bytearray = field(default_factory=bytearray)
    sent_at: list[tuple[int, float]] = field(default_factory=list)  # (seq, unix time sent)


def open_lane(host: str, port: int, client_id: str, packets: list[bytes]) -> Lane:
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(connect_packet(client_id))
    connack = b""
    while len(connack) < 4:
        chunk = sock.recv(4 - len(connack))
        if not chunk:
            raise ConnectionError(f"{client_id}: the broker closed the connection")
        connack += chunk
    if connack[0] != 0x20 or connack[3] != 0:
        raise ConnectionError(f"{client_id}: refused, CONNACK {connack.hex()}")
    sock.setblocking(False)
    return Lane(sock, packets)


def run_lanes(lanes: list[Lane]) -> float:
    """Send every lane's packets with at most WINDOW unacknowledged; seconds it took."""
    sel = selectors.DefaultSelector()
    for n, lane in enumerate(lanes):
        sel.register(lane.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, n)
    started = time.perf_counter()
    left = sum(len(lane.packets) for lane in lanes)
    while left:
        for key, mask in sel.select(timeout=30):
            lane = lanes[key.data]
            if mask & selectors.EVENT_READ:
                chunk = lane.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("the broker closed a station's connection")
                lane.inbox += chunk
                acks = len(lane.inbox) // 4          # PUBACKs are 4 bytes each, in 3.1.1
                del lane.inbox[:acks * 4]
                lane.acked += acks
                left -= acks
            _fill(lane)
            if lane.outbox:
                with contextlib.suppress(BlockingIOError):   # full: the selector says when
                    del lane.outbox[:lane.sock.send(lane.outbox)]
            if lane.acked == len(lane.packets):
                sel.unregister(lane.sock)
            else:
                writing = selectors.EVENT_WRITE if lane.outbox else 0
                sel.modify(lane.sock, selectors.EVENT_READ | writing, key.data)
    sel.close()
    return time.perf_counter() - started


def _fill(lane: Lane) -> None:
    room = WINDOW - (lane.sent - lane.acked)
    if room <= 0 or lane.sent >= len(lane.packets):
        return
    upto = min(len(lane.packets), lane.sent + room)
    now = time.time()
    lane.outbox += b"".join(lane.packets[lane.sent:upto])
    # Every SAMPLE-th seq's send time, for publish-to-commit latency (seq = index + 1).
    lane.sent_at.extend((index + 1, now) for index in range(lane.sent, upto)
                        if index % SAMPLE == 0)
    lane.sent = upto


def generate(host: str, port: int, site: str, stations: list[str],
             per_station: int, *, sealed: bool = False,
             seal_to: Path | None = None) -> dict[str, Any]:
    """Encode, connect every station, then publish all; the figures of the run. Sealed
    to `seal_to` (a central's public key: its reports open the persons), or with
    `sealed` to a throwaway key."""
    plans = []
    central_key = (read_keys(seal_to, private=False)[0] if seal_to is not None
                   else throwaway_central_key() if sealed else None)
    for station in stations:   # a Sealer each: one agreement per station run, as a lane
        sealer = Sealer(central_key) if central_key is not None else None
        events = day_of_events(site, station, per_station, sealer)
        # Packet ids cycle through 1..WINDOW: never more than WINDOW are unacknowledged.
        plans.append([publish_packet(topic, seq % WINDOW + 1, payload)
                      for seq, (topic, payload) in enumerate(events)])
    lanes = [open_lane(host, port, contract.station_client_id(site, station), packets)
             for station, packets in zip(stations, plans, strict=True)]
    started = time.time()
    seconds = run_lanes(lanes)
    sent_at = {station: lane.sent_at for station, lane in zip(stations, lanes, strict=True)}
    for lane in lanes:
        lane.sock.close()
    return {"events": sum(len(p) for p in plans), "started": started, "seconds": seconds,
            "sent_at": sent_at}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.central.loadgen", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--site", default="city")
    parser.add_argument("--stations", type=int, required=True)
    parser.add_argument("--first", type=int, default=0, help="number of the first station")
    parser.add_argument("--events", type=int, required=True, help="per station")
    parser.add_argument("--sealed", action="store_true",
                        help="persons sealed, as a sealing station publishes them (to a "
                             "throwaway key: nothing opens them)")
    parser.add_argument("--central-key", metavar="PUBLIC_JWK",
                        help="persons sealed to this central's public key (natest-central "
                             "keygen's KID.pub.jwk): its reports open them")
    args = parser.parse_args(argv)
    stations = [f"lane-{n:04d}" for n in range(args.first, args.first + args.stations)]
    result = generate(args.host, args.port, args.site, stations, args.events,
                      sealed=args.sealed,
                      seal_to=Path(args.central_key) if args.central_key else None)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
