"""The station prints through a real TSPL printer protocol over TCP; jobs are durable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.lights.sim import SimOutputs
from drivers.printer.layout import LabelSize, place_barcode
from drivers.printer.sim import PrinterSim
from drivers.voice.sim import SimSpeaker
from station import runner
from station.outbox import Outbox
from tests.central_keys import REGISTERED
from tests.conftest import eventually, in_process, write_config
from tests.people import LI, WANG, ZHANG
from tools.broker import LocalBroker
from tools.watch import Watcher


@pytest.fixture
def printer() -> Iterator[PrinterSim]:
    sim = PrinterSim(language="tspl")
    yield sim
    sim.close()


def single_sampling(tmp_path: Path, broker: LocalBroker, printer: PrinterSim) -> Path:
    config = write_config(tmp_path, broker.url, pool_size=1, tubes="print")
    with config.open("a") as f:
        f.write(f'[printer]\ndriver = "tspl"\nuri = "{printer.uri}"\n')
    return config


def test_single_sampling_prints_one_masked_label_per_person_with_the_event_tube(
        tmp_path: Path, broker: LocalBroker, printer: PrinterSim) -> None:
    watcher = Watcher(broker.url).start()
    with in_process(single_sampling(tmp_path, broker, printer)) as station:
        sim = station.devices.scanner_sim
        assert sim is not None
        for number, name in ((ZHANG, "张三丰"), (LI, "李四")):
            sim.scan(json.dumps({"id": number, "name": name}, ensure_ascii=False))
        assert printer.wait_printed(2)
        assert watcher.wait_for(lambda w: len([e for e in w.events()
                                               if e["type"] == "tube.sealed"]) == 2)
    registered = [e["data"] for e in watcher.events() if e["type"] in REGISTERED]
    assert [label.barcode for label in printer.printed] == [d["tube"] for d in registered]
    shown = [" ".join(label.lines) for label in printer.printed]
    assert "张*丰" in shown[0] and "李*" in shown[1]
    everything = b"".join(printer.received)
    assert "张*丰".encode("gbk") in everything            # GBK for the built-in font
    for secret in ("张三丰", "李四", ZHANG, LI):
        assert secret.encode("gbk") not in everything
    first = registered[0]["tube"]
    at = place_barcode(first, LabelSize())                # centred, quiet zones included
    assert (f'BARCODE {at.x},16,"128",64,1,0,{at.module},{at.module},"{first}"'
            .encode() in everything)
    watcher.stop()


def test_paper_out_is_a_fault_and_the_label_prints_after_recovery(
        tmp_path: Path, broker: LocalBroker, printer: PrinterSim) -> None:
    watcher = Watcher(broker.url).start()
    with in_process(single_sampling(tmp_path, broker, printer)) as station:
        sim = station.devices.scanner_sim
        assert sim is not None
        printer.paper_out = True
        sim.scan(WANG)
        assert watcher.wait_for(lambda w: any(e["type"] == "device.fault"
                                              for e in w.events()))
        fault = next(e for e in watcher.events() if e["type"] == "device.fault")
        assert fault["data"] == {"device": "printer", "reason": "out of paper"}
        assert station.health["printer"] == "fault"
        assert printer.printed == [] and printer.lost == []
        printer.paper_out = False                        # paper loaded
        assert printer.wait_printed(1)
        assert watcher.wait_for(lambda w: any(e["type"] == "device.recovered"
                                              for e in w.events()))
        tube = next(e["data"]["tube"] for e in watcher.events() if e["type"] == "tube.opened")
        assert printer.printed[0].barcode == tube
    watcher.stop()


def test_a_label_waiting_at_a_power_cut_prints_after_the_restart(
        tmp_path: Path, broker: LocalBroker, printer: PrinterSim) -> None:
    config = single_sampling(tmp_path, broker, printer)
    printer.head_open = True
    with in_process(config) as station:
        sim = station.devices.scanner_sim
        assert sim is not None
        sim.scan(WANG)
        outbox = Outbox(tmp_path / "data" / "station.db")
        assert eventually(lambda: outbox.next_job() is not None)
    printer.head_open = False                            # the station went away; fixed
    with in_process(config):                             # and it comes back
        assert printer.wait_printed(1)
        assert eventually(lambda: outbox.next_job() is None)  # marked right after printing
        assert len(printer.printed) == 1
        # The single tube's label held its person's masks: blanked once printed (#39).
        assert outbox.db.execute("SELECT job FROM print_jobs").fetchall() == [("[]",)]
    outbox.close()




def test_out_of_paper_holds_the_tower_on_fault_through_accepted_scans_until_paper_is_back(
        tmp_path: Path, broker: LocalBroker, printer: PrinterSim) -> None:
    config = write_config(tmp_path, broker.url, pool_size=3, tubes="print")
    with config.open("a") as f:
        f.write(f'[printer]\ndriver = "tspl"\nuri = "{printer.uri}"\n')
    with in_process(config) as station:
        sim, lights, voice = (station.devices.scanner_sim, station.devices.lights,
                              station.devices.voice)
        tower = lights.outputs
        assert sim is not None and isinstance(voice, SimSpeaker)
        assert isinstance(tower, SimOutputs)
        printer.paper_out = True
        sim.scan("CMD:NEWTUBE")                          # opens; its label cannot come out
        assert eventually(lambda: "printer" in station.state.faulted)
        assert eventually(lambda: "打印机缺纸" in voice.said)
        for n, person in enumerate((ZHANG, LI), start=1):
            sim.scan(person)                             # people still join the open tube
            assert eventually(lambda n=n: station.state.tube is not None  # type: ignore[misc]
                              and station.state.tube.count == n)
            assert lights.current == ("accepted" if n == 1 else "one_left")
            assert lights.holding == "fault"             # the cue, then back to fault
            assert eventually(lambda: tower.lit == {"red"})
        sim.scan("CMD:SEAL")
        sim.scan("CMD:NEWTUBE")                          # this tube's label would be lost
        assert eventually(lambda: "打印机故障，不能开管" in voice.said)
        assert station.state.tube is None and lights.holding == "fault"
        printer.paper_out = False                        # paper loaded
        assert printer.wait_printed(1)
        assert eventually(lambda: not station.state.faults)
        assert eventually(lambda: lights.holding == "ready")
        sim.scan("CMD:NEWTUBE")                          # and now it may
        assert printer.wait_printed(2)
        assert eventually(lambda: lights.holding == "tube_open")


def test_a_fault_is_said_again_until_it_clears(
        tmp_path: Path, broker: LocalBroker, printer: PrinterSim,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # That the reminders stop once it clears is the pure core's, stepped without a clock
    # (tests/test_attention.py); here, that the running station says them.
    monkeypatch.setattr(runner, "FAULT_REMIND_S", 0.3)   # 20 s at a lane
    config = write_config(tmp_path, broker.url, pool_size=3, tubes="print")
    with config.open("a") as f:
        f.write(f'[printer]\ndriver = "tspl"\nuri = "{printer.uri}"\n')
    with in_process(config) as station:
        sim, voice = station.devices.scanner_sim, station.devices.voice
        assert sim is not None and isinstance(voice, SimSpeaker)
        printer.paper_out = True
        sim.scan("CMD:NEWTUBE")
        # Said when it happened, then reminded: a suited operator may miss one prompt.
        assert eventually(lambda: list(voice.said).count("打印机缺纸") >= 3)
        printer.paper_out = False
        assert eventually(lambda: not station.state.faults)
        assert eventually(lambda: station.state.fault_due is None)   # nothing more due


@pytest.mark.parametrize(("language", "trouble", "spoken"), [
    ("tspl", "jammed", "打印机卡纸"),          # the status byte's jam bit
    ("tspl", "ribbon_out", "打印机缺碳带"),
    ("tspl", "head_open", "打印机开盖"),
    ("zpl", "jammed", "打印机无响应"),         # a Zebra in trouble does not answer ~HS
    ("zpl", "paper_out", "打印机无响应"),      # ... so it is not "out of paper" either
])
def test_each_printer_fault_is_said_as_what_to_fix(
        tmp_path: Path, broker: LocalBroker, language: str, trouble: str,
        spoken: str) -> None:
    sim_printer = PrinterSim(language=language)
    config = write_config(tmp_path, broker.url, pool_size=3, tubes="print")
    with config.open("a") as f:
        f.write(f'[printer]\ndriver = "{language}"\nuri = "{sim_printer.uri}"\n')
    try:
        with in_process(config) as station:
            sim, voice = station.devices.scanner_sim, station.devices.voice
            assert sim is not None and isinstance(voice, SimSpeaker)
            setattr(sim_printer, trouble, True)
            sim.scan("CMD:NEWTUBE")
            assert eventually(lambda: "printer" in station.state.faulted)
            assert eventually(lambda: spoken in voice.said), list(voice.said)
            assert "打印机缺纸" not in voice.said
            setattr(sim_printer, trouble, False)
            assert sim_printer.wait_printed(1)
            assert eventually(lambda: not station.state.faults)
    finally:
        sim_printer.close()
