"""The fault suite: power cuts, outages, a flapping link, a full disk, unplugged
devices, a wrong clock. Each test records its figures; scripts/reliability.py runs the
suite at full size and writes them to RELIABILITY.md. CI runs it smaller."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import random
import sqlite3
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.printer.sim import PrinterSim
from drivers.sam.sim import SamSimulator
from drivers.sam.text import CardText
from drivers.scanner.sim import ScannerSim
from station.clock import Clock
from station.config import MqttConfig, load
from station.runner import Station
from station.store import Store
from station.uplink import Sender, Uplink
from tests.central_keys import REGISTERED, people_in
from tests.conftest import eventually, in_process, write_config
from tests.harness.proxy import FlappingProxy
from tests.people import nth_person
from tools.bench.drain import buffer_events
from tools.broker import LocalBroker, free_port
from tools.station_process import StationProcess
from tools.station_process import told as told_in
from tools.watch import Watcher, delivery_problems

pytestmark = [pytest.mark.faults, pytest.mark.slow]

KILLS = int(os.environ.get("NATEST_KILLS", "5"))
OUTAGE_EVENTS = int(os.environ.get("NATEST_OUTAGE_EVENTS", "10000"))
FLAPS = int(os.environ.get("NATEST_FLAPS", "10"))
Figures = dict[str, dict[str, object]]


def outbox_rows(db: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        return [json.loads(p) for (p,) in conn.execute("SELECT payload FROM outbox ORDER BY seq")]


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def burst(scanner: ScannerSim, stop: threading.Event, base: int) -> None:
    n = 0
    while not stop.is_set():
        if n % 10 == 0:
            scanner.scan(f"T{base + n:06d}")
        scanner.scan(nth_person(base + n + 1))
        n += 1
        stop.wait(0.002)


@pytest.mark.parametrize("with_broker", [True, False], ids=["broker-up", "broker-down"])
def test_power_cuts_at_random_instants_lose_nothing(
        tmp_path: Path, scanner: ScannerSim, spawn: type[StationProcess], figures: Figures,
        with_broker: bool) -> None:
    rng = random.Random(20261122 + with_broker)
    broker = LocalBroker().start() if with_broker else None
    url = broker.url if broker else f"mqtt://127.0.0.1:{free_port()}"
    watcher = Watcher(url).start() if broker else None
    config = write_config(tmp_path, url, scanner.port, pool_size=10)
    db = tmp_path / "data" / "station.db"
    told: set[tuple[str, str]] = set()
    ok_checks = 0
    try:
        for round_ in range(KILLS):
            station = spawn(config)
            station.wait_for(r"ready \(session")
            stop = threading.Event()
            feeder = threading.Thread(target=burst, args=(scanner, stop, round_ * 1000))
            feeder.start()
            station.wait_for(r" (accepted|one_left|sealed|duplicate): ", rng.randint(1, 40))
            time.sleep(rng.uniform(0, 0.02))            # any instant, mid-commit included
            station.kill()
            stop.set()
            feeder.join()
            told |= told_in(station.lines)
            ok_checks += integrity(db) == "ok"
        rows = outbox_rows(db)
        seqs = [int(r["seq"]) for r in rows]
        recorded = {(str(r["data"]["tube"]), str(r["data"]["position"]))
                    for r in rows if r["type"] in REGISTERED}
        delivered_problems: list[str] = []
        if broker and watcher:
            station = spawn(config)                    # power back, network up
            assert watcher.wait_for(lambda w: w.has_seqs_up_to(seqs[-1]), timeout=60)
            station.stop()
            delivered_problems = delivery_problems(watcher.events())
    finally:
        if watcher:
            watcher.stop()
        if broker:
            broker.stop()
    result = {
        "kills": KILLS, "accepted_told": len(told), "recorded": len(recorded),
        "lost": len(told - recorded),
        "seq_gaps": sum(1 for a, b in itertools.pairwise(seqs) if b != a + 1) + (seqs[0] != 1),
        "duplicate_seqs": len(seqs) - len(set(seqs)),
        "integrity_ok": f"{ok_checks}/{KILLS}",
        "delivery_problems": len(delivered_problems) if broker else "n/a",
    }
    figures[f"power_cut_{'broker_up' if with_broker else 'broker_down'}"] = result
    assert result["lost"] == 0 and result["seq_gaps"] == 0 and result["duplicate_seqs"] == 0
    assert ok_checks == KILLS and delivered_problems == []
    assert len(told) >= KILLS


def test_a_long_outage_is_delivered_in_order(tmp_path: Path, figures: Figures) -> None:
    store = Store(tmp_path / "station.db", "bench", "bench")
    buffer_events(store, OUTAGE_EVENTS)                 # recorded while the broker is down
    with LocalBroker() as broker:
        watcher = Watcher(broker.url).start()
        uplink = Uplink(MqttConfig(url=broker.url), Sender("bench", "bench", 1), store.path,
                        health=dict, clock_synced=lambda: True)
        started = time.monotonic()
        uplink.start()
        assert watcher.wait_for(lambda w: w.has_seqs_up_to(OUTAGE_EVENTS), timeout=120)
        elapsed = time.monotonic() - started
        uplink.stop()
        problems = delivery_problems(watcher.events())
        watcher.stop()
    store.close()
    figures["long_outage"] = {"buffered": OUTAGE_EVENTS, "delivered": OUTAGE_EVENTS,
                              "drain_s": round(elapsed, 2), "delivery_problems": len(problems)}
    assert problems == []


def test_a_flapping_link_delivers_everything_first_arrivals_in_order(
        tmp_path: Path, broker: LocalBroker, figures: Figures) -> None:
    proxy = FlappingProxy(broker.port)
    watcher = Watcher(broker.url).start()
    stop = threading.Event()

    def flap() -> None:
        while not stop.wait(0.5):
            proxy.cut()

    cutter = threading.Thread(target=flap)
    config = write_config(tmp_path, proxy.url, pool_size=10)
    registrations = 200
    try:
        with in_process(config) as station:
            assert station.uplink.connected.wait(10)
            cutter.start()
            sim = station.devices.scanner_sim
            assert sim is not None
            for n in range(registrations):
                if n % 10 == 0:
                    sim.scan(f"T{n:06d}")
                sim.scan(nth_person(n + 1))
                time.sleep(0.01)
            assert eventually(lambda: station.accepted >= registrations + registrations // 10)
            stop.set()
            cutter.join()
            last = station.store.last_seq
            assert watcher.wait_for(lambda w: w.has_seqs_up_to(last), timeout=60)
            connections = station.uplink.connections
    finally:
        stop.set()
        proxy.close()
    events = watcher.events()
    problems = delivery_problems(events)
    watcher.stop()
    figures["flapping_link"] = {
        "cuts": proxy.cuts, "connections": connections, "events": last,
        "redelivered": len(events) - len({e["id"] for e in events}),
        "delivery_problems": len(problems)}
    assert problems == [] and proxy.cuts >= 3 and connections >= 2


def test_a_mobile_link_that_flaps_is_back_in_seconds_not_at_the_backoff_cap(
        tmp_path: Path, broker: LocalBroker, figures: Figures) -> None:
    """Up 2 s, down 1 s, FLAPS times, with reconnect_max_s = 30: after each return, the
    first delivery comes within seconds (a backoff that never reset waited up to 30)."""
    proxy = FlappingProxy(broker.port)
    watcher = Watcher(broker.url).start()
    config = write_config(tmp_path, proxy.url, pool_size=10)
    config.write_text(config.read_text().replace("reconnect_max_s = 1", "reconnect_max_s = 30"))
    stop = threading.Event()
    back: list[float] = []                         # when the link came back

    def scans(station: Any) -> None:               # registrations keep coming, 10/s
        sim = station.devices.scanner_sim
        for n in itertools.count():
            if stop.wait(0.1):
                return
            if n % 10 == 0:
                sim.scan(f"T{n:06d}")
            sim.scan(nth_person(n + 1))

    try:
        with in_process(config) as station:
            assert station.uplink.connected.wait(10)
            feeder = threading.Thread(target=scans, args=(station,))
            feeder.start()
            for _ in range(FLAPS):
                time.sleep(2)
                proxy.down()
                time.sleep(1)
                proxy.up()
                back.append(time.monotonic())
            last = station.store.last_seq
            assert watcher.wait_for(lambda w: w.has_seqs_up_to(last), timeout=60)
            stop.set()
            feeder.join()
    finally:
        stop.set()
        proxy.close()
    watcher.stop()
    arrivals = sorted(m.at for m in watcher.messages if "/events/" in m.topic)
    delays = [next(a for a in arrivals if a > t) - t for t in back]
    figures["mobile_link"] = {
        "flaps": len(back), "up_s": 2, "down_s": 1, "reconnect_max_s": 30,
        "first_delivery_median_s": round(statistics.median(delays), 2),
        "first_delivery_worst_s": round(max(delays), 2),
        "delivery_problems": len(delivery_problems(watcher.events()))}
    # Behaviour, not speed: a reset backoff waits at most a few seconds after a drop,
    # one that never reset waits a random 0-30 s on every return.
    assert statistics.median(delays) <= 5 and max(delays) <= 10, figures["mobile_link"]
    assert figures["mobile_link"]["delivery_problems"] == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                            check=False, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {result.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_refuses_new_registrations_loses_nothing_and_recovers(
        tmp_path: Path, small_disk: Path, figures: Figures) -> None:
    config = write_config(small_disk, f"mqtt://127.0.0.1:{free_port()}", pool_size=50)
    filler = small_disk / "filler"
    with in_process(config) as station:
        sim = station.devices.scanner_sim
        assert sim is not None
        sim.scan("T000001")
        assert eventually(lambda: station.accepted == 1)
        free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
        filler.write_bytes(b"\0" * max(0, free - 96 * 1024))   # leave ~96 KB
        before, n = 0, 0
        while station.health["storage"] == "ok" and n < 400:
            n += 1
            sim.scan(nth_person(n))
            assert eventually(lambda b=before: station.accepted  # type: ignore[misc]
                              + (station.health["storage"] != "ok") > b, timeout=5)
            before = station.accepted
        assert station.health["storage"] == "fault", "the disk never filled"
        assert station.devices.lights.current == "fault"
        accepted_full = station.accepted - 1
        refused = 0
        for extra in range(3):                          # still full: refused, visibly
            shown, accepted = station.devices.lights.shown, station.accepted
            sim.scan(nth_person(1000 + extra))
            assert eventually(lambda s=shown: station.devices.lights.shown > s)  # type: ignore[misc]
            assert station.accepted == accepted and station.devices.lights.current == "fault"
            refused += 1
        filler.unlink()                                 # space comes back
        sim.scan(nth_person(2000))
        assert eventually(lambda: station.health["storage"] == "ok")
        after = station.accepted - 1 - accepted_full
    rows = outbox_rows(small_disk / "data" / "station.db")
    registered = [r for r in rows if r["type"] in REGISTERED]
    figures["disk_full"] = {"accepted_before_full": accepted_full, "refused_while_full": refused,
                            "accepted_after_space_returned": after,
                            "recorded": len(registered),
                            "lost": accepted_full + after - len(registered)}
    assert len(registered) == accepted_full + after and after == 1 and refused == 3


def test_a_scanner_missing_at_start_does_not_hold_the_station_back(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"mqtt://127.0.0.1:{free_port()}",
                          str(tmp_path / "no-scanner"))
    station = Station(load(config))
    station.devices.start()
    waited = threading.Thread(target=station.devices.wait_opened, kwargs={"timeout": 60})
    waited.start()
    try:
        # A failed open takes milliseconds; waiting out the timeout would take a minute.
        waited.join(20)
        assert not waited.is_alive()
        assert not station.devices.scanner.opened.is_set()
    finally:
        waited.join()
        station.devices.stop()
        station.store.close()


def test_devices_unplugged_and_replugged_resume_without_a_restart(
        tmp_path: Path, figures: Figures) -> None:
    scanner_link, reader_link = tmp_path / "scanner", tmp_path / "idcard"
    scanner, reader = ScannerSim(), SamSimulator()
    scanner_link.symlink_to(scanner.port)
    reader_link.symlink_to(reader.port)
    printer = PrinterSim()
    port = printer.port
    config = write_config(tmp_path, f"mqtt://127.0.0.1:{free_port()}", str(scanner_link),
                          card_port=str(reader_link), pool_size=1, tubes="print")
    with config.open("a") as f:
        f.write(f'[printer]\ndriver = "tspl"\nuri = "{printer.uri}"\n')
    faults: list[str] = []
    with in_process(config) as station:
        def health(part: str) -> str:
            return station.health[part]

        scanner.scan(nth_person(1))
        assert printer.wait_printed(1)
        for device, unplug in (("scanner", scanner.close), ("card_reader", reader.close)):
            unplug()
            assert eventually(lambda d=device: bool(health(d) == "fault")), device  # type: ignore[misc]
            faults.append(device)
        scanner, reader = ScannerSim(), SamSimulator()      # plugged back in
        for link, sim in ((scanner_link, scanner), (reader_link, reader)):
            link.unlink()
            link.symlink_to(sim.port)
        assert eventually(lambda: health("scanner") == health("card_reader") == "ok")
        printer.close()                                     # the printer goes away
        scanner.scan(nth_person(2))
        assert eventually(lambda: health("printer") == "fault")
        faults.append("printer")
        printer = PrinterSim(port=port)                     # and comes back
        assert printer.wait_printed(1)
        reader.present(CardText("resident", nth_person(3), "测试", "male", "1950-01-01"))
        assert printer.wait_printed(2)
        recovered = [d for d in ("scanner", "card_reader", "printer") if health(d) == "ok"]
        assert recovered == ["scanner", "card_reader", "printer"]
        assert station.state.faults == ()
        rows = outbox_rows(station.store.path)
    scanner.close()
    reader.close()
    printer.close()
    people = [person["id_number"] for person in people_in(rows)]
    figures["devices_unplugged"] = {"faults_reported": len(faults),
                                    "recovered_without_restart": len(recovered),
                                    "registrations": len(people),
                                    "duplicate_registrations": len(people) - len(set(people))}
    assert people == [nth_person(1), nth_person(2), nth_person(3)]


def test_an_unsynced_clock_and_a_jump_backwards_leave_seq_and_order_alone(
        tmp_path: Path, figures: Figures) -> None:
    moments = [dt.datetime(1970, 1, 1, 0, 0, 5, tzinfo=dt.UTC)]   # a Pi before NTP

    def now() -> dt.datetime:
        return moments[-1]

    config = write_config(tmp_path, f"mqtt://127.0.0.1:{free_port()}", pool_size=10)
    with in_process(config, clock=Clock(forced=False), now=now) as station:
        sim = station.devices.scanner_sim
        assert sim is not None
        sim.scan("T000001")
        sim.scan(nth_person(1))
        assert eventually(lambda: station.accepted == 2)
        moments.append(dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC))  # NTP arrives
        station.clock.forced = True
        sim.scan(nth_person(2))
        assert eventually(lambda: station.accepted == 3)
        moments.append(moments[-1] - dt.timedelta(hours=1))   # and jumps back an hour
        sim.scan(nth_person(3))
        assert eventually(lambda: station.accepted == 4)
        rows = outbox_rows(station.store.path)
    seqs = [r["seq"] for r in rows]
    synced = [r["clock_synced"] for r in rows]
    stamps = [r["ts"] for r in rows]
    figures["clock"] = {"events": len(rows), "unsynced_flagged": synced.count(False),
                        "ts_went_backwards": stamps[-1] < stamps[-2],
                        "seq_contiguous": seqs == list(range(1, len(rows) + 1))}
    assert synced == [False, False, True, True] and seqs == [1, 2, 3, 4]
    assert stamps[-1] < stamps[-2]                # time went back; seq did not
    positions = [r["data"]["position"] for r in rows if r["type"] in REGISTERED]
    assert positions == [1, 2, 3]
