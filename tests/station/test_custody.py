"""Who registered and who carried the box away: sign-in, handover, sign-out, dispatch, and
the reminder of a box still at the lane. The pure core, then a whole lane end to end."""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace

from contract.events import BoxDispatched, OperatorSignedIn, OperatorSignedOut
from drivers.sam.text import CardText
from station.core.codes import PERSON_DECODERS, Classifier
from station.core.messages import (
    CodeScanned,
    Event,
    HandoverSlip,
    LinkChanged,
    NumberTyped,
    PrintLabel,
    Record,
    Signal,
    Ticked,
)
from station.core.state import State
from station.core.state_codec import restore, snapshot
from station.core.workflow import Workflow
from station.store import Store
from tests.browser import Browser
from tests.central_keys import people_in
from tests.conftest import eventually, in_process, personal_data_in, write_config
from tests.people import LI, WANG, ZHANG
from tests.station.core.test_workflow import NOW, rules
from tools.broker import LocalBroker, free_port
from tools.watch import Watcher

STAFF = Classifier(re.compile(r"T[0-9]{6}"), list(PERSON_DECODERS.values()),
                   staff_pattern=re.compile(r"S[0-9]{4}"),
                   box_pattern=re.compile(r"L1B[0-9]{5}"))
FLOW = Workflow(rules(classifier=STAFF, station_id="L1", box_reminder_s=1800.0))


def steps(*inputs: str | Event, state: State | None = None, at: dt.datetime = NOW
          ) -> tuple[State, list[Any]]:
    """Step through scans and events; the final state and every effect, in order."""
    state = state or State()
    effects: list[Any] = []
    for item in inputs:
        event = CodeScanned(item) if isinstance(item, str) else item
        state, done = FLOW.step(state, event, at)
        effects += done
    return state, effects


def cues(effects: Sequence[Any]) -> list[str]:
    return [e.cue for e in effects if isinstance(e, Signal)]


def facts(effects: Sequence[Any]) -> list[Any]:
    return [f for e in effects if isinstance(e, Record) for f in e.facts]


def test_a_badge_signs_in_another_hands_over_and_the_same_again_signs_out() -> None:
    state, effects = steps("S0001", "T000001", ZHANG, "S0002", LI, "S0002")
    assert cues(effects) == ["signed_in", "tube_opened", "accepted", "handed_over",
                             "one_left", "signed_out"]
    assert [f for f in facts(effects) if not hasattr(f, "tube")] == [
        OperatorSignedIn("S0001"), OperatorSignedOut("S0001", "handover"),
        OperatorSignedIn("S0002"), OperatorSignedOut("S0002", "operator")]
    assert state.operator == "" and state.tube is not None and state.tube.count == 2


def test_a_badge_the_contract_cannot_carry_is_refused_at_the_lane() -> None:
    """A site's pattern may be wider than the contract's badge ids: such a badge would
    put an operator central refuses on every event; it is refused here, and said."""
    flow = Workflow(rules(classifier=Classifier(
        re.compile(r"T[0-9]{6}"), list(PERSON_DECODERS.values()),
        staff_pattern=re.compile(r"S.+"))))
    state, effects = flow.step(State(), CodeScanned("S.0001"), NOW)
    assert cues(effects) == ["unrecognised_code"] and state.operator == ""
    _, effects = flow.step(State(), CodeScanned("S" + "1" * 32), NOW)   # 33 characters
    assert cues(effects) == ["unrecognised_code"]
    assert cues(flow.step(State(), CodeScanned("S0001"), NOW)[1]) == ["signed_in"]


def test_a_code_whose_name_the_contract_cannot_carry_is_refused() -> None:
    state, _ = steps("T000001")
    _, effects = steps(json.dumps({"id": ZHANG, "name": "张" * 121}, ensure_ascii=False),
                       state=state)
    assert cues(effects) == ["unrecognised_code"] and not facts(effects)


def test_signout_by_command_and_with_nobody_signed_in() -> None:
    state, effects = steps("S0001", "CMD:SIGNOUT", "CMD:SIGNOUT")
    assert cues(effects) == ["signed_in", "signed_out", "nothing_to_do"]
    assert state.operator == ""


def test_with_staff_required_nobody_signed_in_registers_nothing() -> None:
    flow = Workflow(replace(FLOW.rules, staff_required=True))
    state, _ = flow.step(State(), CodeScanned("T000001"), NOW)
    refused, effects = flow.step(state, NumberTyped(ZHANG), NOW)
    assert cues(effects) == ["not_signed_in"] and refused == state and not facts(effects)
    state, _ = flow.step(state, CodeScanned("S0001"), NOW)
    _, effects = flow.step(state, NumberTyped(ZHANG), NOW)
    assert cues(effects) == ["accepted"]


def test_the_badge_after_box_is_the_courier_and_a_box_leaves_once() -> None:
    state, effects = steps("S0001", "T000001", ZHANG, LI, "CMD:SEAL", "CMD:BOX", "S0009",
                           "S0009")
    assert cues(effects)[-3:] == ["box_closed", "dispatched", "already_dispatched"]
    assert [f for f in facts(effects) if isinstance(f, BoxDispatched)] == [
        BoxDispatched("L1B00001", "S0009", 1, 2)]
    slips = [e.label for e in effects if isinstance(e, PrintLabel)
             and isinstance(e.label, HandoverSlip)]
    assert [(s.box, s.courier) for s in slips] == [("L1B00001", ""), ("L1B00001", "S0009")]
    assert state.waiting == () and state.operator == "S0001"   # the courier did not sign in
    state, effects = steps("L1B00001", state=state)            # its slip, once more
    assert cues(effects) == ["already_dispatched"]


def test_a_courier_who_comes_later_is_called_by_scanning_the_box_slip() -> None:
    state, effects = steps("T000001", ZHANG, "CMD:SEAL", "CMD:BOX", "T000002", "S0009")
    assert cues(effects)[-1] == "signed_in"          # the tube scan: no courier was there
    assert [w.box for w in state.waiting] == ["L1B00001"]
    state, effects = steps("L1B00001", "S0042", state=state)
    assert cues(effects) == ["courier_wanted", "dispatched"]
    assert [f.courier for f in facts(effects)] == ["S0042"]
    _, effects = steps("L1B00099", state=state)       # never closed here
    assert cues(effects) == ["unrecognised_code"]


def test_a_box_still_at_the_lane_is_said_every_reminder_period_until_it_leaves() -> None:
    state, _ = steps(LinkChanged(True), "T000001", ZHANG, "CMD:SEAL", "CMD:BOX", "T000002")
    said = []
    for minutes in range(0, 95, 5):
        state, effects = FLOW.step(state, Ticked(float(minutes)),
                                   NOW + dt.timedelta(minutes=minutes))
        said += [minutes for e in effects if isinstance(e, Signal) and e.cue == "box_waiting"
                 and e.pattern == "box_waiting"]   # a tower pattern of its own, not offline's
    assert said == [30, 60, 90]
    state, _ = steps("L1B00001", "S0009", state=state, at=NOW + dt.timedelta(minutes=95))
    _, effects = FLOW.step(state, Ticked(200.0), NOW + dt.timedelta(hours=3))
    assert cues(effects) == []


def test_the_operator_and_the_waiting_boxes_survive_a_restart() -> None:
    state, _ = steps("S0001", "T000001", ZHANG, "CMD:SEAL", "CMD:BOX", "T000002")
    again = restore(json.loads(json.dumps(snapshot(state))), state.closed_tubes,
                    state.sampled_today, keys=str.upper)
    assert again.operator == "S0001" and again.waiting == state.waiting


def test_every_event_carries_the_operator_signed_in_when_it_was_recorded(
        tmp_path: Path) -> None:
    store = Store(tmp_path / "station.db", "s", "L1")
    state = State()
    for item in ("T000001", "S0001", ZHANG, "S0002", LI):
        new, effects = FLOW.step(state, CodeScanned(item), NOW)
        store.commit(facts(effects), new, NOW, True)
        state = new
    rows = [json.loads(p) for (p,) in store.db.execute("SELECT payload FROM outbox "
                                                       "ORDER BY seq")]
    assert [(r["type"], r.get("operator")) for r in rows] == [
        ("tube.opened", None), ("operator.signed_in", "S0001"),
        ("sample.registered", "S0001"), ("operator.signed_out", "S0002"),
        ("operator.signed_in", "S0002"), ("sample.registered", "S0002")]
    store.close()


# --- a whole lane ------------------------------------------------------------------------

PHONES = ("13800138000", "13900139000")
ADDRESSES = ("北京市朝阳区某路2号", "北京市东城区某胡同1号")


@pytest.mark.broker
def test_a_lane_end_to_end_records_who_registered_who_carried_and_shows_no_one(
        tmp_path: Path, broker: LocalBroker, caplog: pytest.LogCaptureFixture) -> None:
    roster = tmp_path / "staff.csv"
    roster.write_text("badge,name\nS0107001,张登记\nS0107002,李登记\nS0100009,王转运\n")
    roster.chmod(0o600)
    config = write_config(tmp_path, broker.url, pool_size=3)
    config.write_text(config.read_text().replace(
        'listen = ""', f'listen = "127.0.0.1:{free_port()}"')
        + f'[staff]\npattern = "S[0-9]{{7}}"\nroster = "{roster}"\nrequired = true\n')
    watcher = Watcher(broker.url).start()
    card = CardText("resident", WANG, "王五", "male", "1990-01-01", address=ADDRESSES[1])
    qr = json.dumps({"id": LI, "name": "李四", "phone": PHONES[0], "address": ADDRESSES[0]},
                    ensure_ascii=False)
    with in_process(config) as station:
        sim, card_sim = station.devices.scanner_sim, station.devices.card_sim
        assert sim is not None and card_sim is not None
        printer = station.devices.printer_sim
        assert printer is not None

        def after(n: int) -> None:
            assert eventually(lambda: station.store.last_seq >= n), station.store.last_seq

        sim.scan("T000001")
        sim.scan(ZHANG)                                   # nobody signed in: refused
        assert eventually(lambda: station.view()["last"] is not None
                          and station.view()["last"]["cue"] == "not_signed_in")
        sim.scan("S0107001")
        after(2)
        card_sim.present(card)
        after(3)
        sim.scan(qr)
        after(4)
        assert station.screen is not None
        with urllib.request.urlopen(station.screen.url + "api/state", timeout=5) as reply:
            shown = reply.read().decode()
        assert json.loads(shown)["operator"] == "张*记 (S0107001)"
        sim.scan("S0107002")                              # handover: the tube stays open
        after(6)
        station.events.put(NumberTyped(ZHANG + "+" + PHONES[1]))   # third: full, sealed
        after(8)
        sim.scan("CMD:BOX")
        after(9)
        sim.scan("S0100009")                              # the courier
        after(10)
        assert printer.wait_printed(2)
        labels = " ".join(line for p in printer.printed for line in p.lines)
        everything = b"".join(printer.received)
    assert watcher.wait_for(lambda w: w.has_seqs_up_to(10))
    events = watcher.events()
    watcher.stop()
    kinds = [(e["type"], e.get("operator")) for e in events]
    assert kinds == [
        ("tube.opened", None), ("operator.signed_in", "S0107001"),
        ("sample.registered.encrypted", "S0107001"),
        ("sample.registered.encrypted", "S0107001"),
        ("operator.signed_out", "S0107002"), ("operator.signed_in", "S0107002"),
        ("sample.registered.encrypted", "S0107002"), ("tube.sealed", "S0107002"),
        ("box.closed", "S0107002"), ("box.dispatched", "S0107002")]
    dispatched = events[-1]["data"]
    assert dispatched == {"box": "0107B00001", "courier": "S0100009", "tube_count": 1,
                          "sample_count": 3}
    people = people_in(events)
    assert [(p.get("phone"), p.get("address"), p.get("card_address")) for p in people] == [
        (None, None, ADDRESSES[1]), (PHONES[0], ADDRESSES[0], None), (PHONES[1], None, None)]
    assert "转运人 王*运 (S0100009)" in labels            # the slip names the courier, masked
    secrets = (*PHONES, *ADDRESSES, "王五", "李四", "张登记", "李登记", "王转运", WANG, LI, ZHANG)
    log = caplog.text
    for secret in secrets:
        assert secret not in log and secret not in shown and secret not in labels, secret
        assert secret.encode("gb18030") not in everything, secret
    assert personal_data_in(log) == []


def test_the_kiosk_page_names_the_operator_masked(tmp_path: Path) -> None:
    roster = tmp_path / "staff.csv"
    roster.write_text("badge,name\nS0107001,张登记\n")
    roster.chmod(0o600)
    config = write_config(tmp_path, f"mqtt://127.0.0.1:{free_port()}")
    config.write_text(config.read_text().replace(
        'listen = ""', f'listen = "127.0.0.1:{free_port()}"')
        + f'[staff]\npattern = "S[0-9]{{7}}"\nroster = "{roster}"\n')
    with in_process(config) as station, Browser() as browser:
        assert station.screen is not None and station.devices.scanner_sim is not None
        browser.open(station.screen.url)
        assert browser.wait_for("document.getElementById('operator').innerText === '未登录'")
        station.devices.scanner_sim.scan("S0107001")
        assert browser.wait_for(
            "document.getElementById('operator').innerText === '登记人 张*记 (S0107001)'")
        assert "张登记" not in browser.evaluate("document.body.innerText")
