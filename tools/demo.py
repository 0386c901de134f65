"""`station demo`: a scripted pooled-sampling session on simulated devices, against a
local broker, printing what the operator sees and what a central subscriber receives.

All people here are synthetic (valid check characters, made-up names).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import msgspec

import contract
from central.reports.opening import Opener
from contract.events import decode_event
from contract.sealed import keygen
from drivers.sam.text import CardText
from station.config import parse
from station.core.identity import mask_id, mask_name, mask_phone, synthetic_id
from station.core.messages import NumberTyped
from station.runner import Station
from tools.broker import LocalBroker
from tools.watch import Watcher, delivery_problems

ZHANG = CardText("resident", synthetic_id("110105", "19491231", 1), "张三丰", "male",
                 "1949-12-31", nation="01", address="北京市西城区", valid_from="2010-01-01",
                 valid_to="长期")
ZHAO = CardText("resident", synthetic_id("440305", "19900615", 7), "赵敏", "female",
                "1990-06-15", nation="01", address="深圳市南山区", valid_from="2021-01-01",
                valid_to="2041-01-01")
LI_QR = json.dumps({"id": synthetic_id("310101", "19800101", 12), "name": "李四",
                    "phone": "13800138000", "address": "上海市黄浦区某路8号"},
                   ensure_ascii=False)
QIAN_QR = json.dumps({"id": synthetic_id("320102", "20010203", 33), "name": "钱七"},
                     ensure_ascii=False)
WANG_BARE = synthetic_id("510104", "19750505", 45)
SUN_TYPED = synthetic_id("110108", "19400707", 27)   # an elderly man with neither card nor code
SUN_PHONE = "13900139000"                            # his daughter's, typed after "+"
PHONES = ("13800138000", SUN_PHONE)
ADDRESSES = (ZHANG.address, ZHAO.address, "上海市黄浦区某路8号")

# (what the operator does, with what, why)
SCRIPT: list[tuple[str, Any, str]] = [
    ("scan", "S0101001", "the registrar signs in with the badge (登记人)"),
    ("scan", "T20261122001", "open a tube (3混1 in this demo)"),
    ("card", ZHANG, "an ID card on the reader"),
    ("scan", LI_QR, "a pre-registration QR code"),
    ("scan", WANG_BARE, "a bare ID-number code: the tube is now full and seals itself"),
    ("scan", QIAN_QR, "a person with no open tube: refused"),
    ("scan", "T20261122002", "the next tube"),
    ("scan", "S0101002", "a colleague takes over the lane: the open tube stays open"),
    ("card", ZHAO, "another card"),
    ("card", ZHANG, "someone already sampled today: accepted with a warning"),
    ("scan", "CMD:UNDO", "the operator cancels that last registration"),
    ("scan", "@@not-a-code@@", "a garbage scan: refused"),
    ("scan", QIAN_QR, "a QR code"),
    ("scan", "CMD:SEAL", "the operator seals the tube early"),
    ("scan", "T20261122001", "a sealed tube cannot be reopened: refused"),
    ("scan", "T20261122003", "a third tube"),
    ("keypad", SUN_TYPED[:-1] + ("0" if SUN_TYPED[-1] != "0" else "1"),
     "an ID number typed with a wrong last character: refused, said why"),
    ("keypad", SUN_TYPED + "+" + SUN_PHONE,
     "retyped right, with a phone number after +: registered (source manual)"),
    ("scan", "FORM-000001", "a paper information card: its data is typed in centrally later"),
    ("scan", "CMD:SEAL", "seal"),
    ("scan", "CMD:BOX", "close the transport box: handover slip printed"),
    ("scan", "S0100009", "the courier's badge: the box leaves, a slip names the courier"),
]

CONFIG = """
[station]
id = "lane-01"
site = "demo-site"
tube_prefix = "110101"
pool_size = 3
tube_pattern = "T[0-9]{11}"
data_dir = "{data_dir}"
[staff]
pattern = "S[0-9]{7}"
[screen]
listen = ""
[privacy]
central_key = "{key}"
[mqtt]
url = "{url}"
"""


def masked_body(body: dict[str, Any], opener: Opener | None) -> dict[str, Any]:
    """The printout is seen by bystanders: mask the personal fields, as everywhere. A
    sealed person is shown as the subscriber sees it (the start of its JWE), then as
    central opens it with the demo's throwaway private key, masked; sealed to a central's
    own key (`--central-key`), only central's reports open it."""
    sealed = body.get("data", {}).get("person_jwe")
    if sealed and opener is None:
        return {**body, "data": {**body["data"], "person_jwe": sealed[:40] + "…"}}
    if sealed and opener is not None:
        opened = opener.open(decode_event(json.dumps(body)))  # type: ignore[arg-type]
        body = {**body, "data": {**body["data"], "person_jwe": sealed[:40] + "…",
                                 "person": msgspec.to_builtins(opened.data.person)}}
    person = body.get("data", {}).get("person")
    if person:
        person = {**person, "name": mask_name(person["name"]),
                  "id_number": mask_id(person["id_number"])}
        if "phone" in person:
            person["phone"] = mask_phone(person["phone"])
        if person.get("birth"):   # the year alone, as on a masked ID number's screen
            person["birth"] = person["birth"][:4] + "-**-**"
        for key in ("address", "card_address"):
            if key in person:
                person[key] = "***"
        body = {**body, "data": {**body["data"], "person": person}}
    return body


def describe(kind: str, what: Any) -> str:
    if kind == "card":
        return f"card {mask_name(what.name)} {mask_id(what.number)}"
    text = str(what)
    if text.startswith("{"):
        obj = json.loads(text)
        return f"QR   {mask_name(obj['name'])} {mask_id(obj['id'])}"
    if kind == "keypad":
        number, plus, phone = text.partition("+")
        return f"keys {mask_id(number)}" + (f" + {mask_phone(phone)}" if plus else "")
    if text[:1].isdigit() and len(text) == 18:
        return f"code {mask_id(text)}"
    return f"scan {text}"


def run_script(station: Station) -> None:
    lights = station.devices.lights
    sim = station.devices.scanner_sim
    assert sim is not None
    if not station.devices.scanner.opened.wait(10):
        raise RuntimeError("simulated scanner did not open")
    print("\n== at the lane: what the operator does, and the light/buzzer pattern ==")
    for kind, what, why in SCRIPT:
        before = lights.shown
        if kind == "card":
            card_sim = station.devices.card_sim
            assert card_sim is not None
            card_sim.present(what)
        elif kind == "keypad":   # as the keypad's driver hands on an entered number
            station.events.put(NumberTyped(what))
        else:
            sim.scan(what)
        deadline = time.monotonic() + 10
        while lights.shown == before and time.monotonic() < deadline:
            time.sleep(0.01)
        pattern = lights.current
        print(f"  {describe(kind, what):<34} → {pattern:<10} {why}")


def main(mqtt_url: str | None = None, central_key: str | None = None) -> int:
    """`central_key`: a central's public key (keygen's KID.pub.jwk) to seal the lane's
    persons to, so that central's reports open them; by default a throwaway pair, gone
    with the demo."""
    broker = LocalBroker() if mqtt_url is None else None
    if broker is not None:
        broker.start()
        mqtt_url = broker.url
    assert mqtt_url is not None
    try:
        with tempfile.TemporaryDirectory(prefix="natest-demo-") as data_dir:
            return _session(mqtt_url, Path(data_dir),
                            Path(central_key) if central_key else None)
    finally:
        if broker is not None:
            broker.stop()


def _session(url: str, data_dir: Path, central_key: Path | None) -> int:
    # Without a central's key, a throwaway pair: the lane seals to its public half, and
    # this demo plays central and opens with the private half. Gone with the demo's folder.
    opener = None
    if central_key is None:
        private, central_key, _ = keygen(data_dir / "central-keys", "demo")
        opener = Opener([private])
    config = parse(CONFIG.replace("{data_dir}", str(data_dir / "data"))
                   .replace("{url}", url).replace("{key}", str(central_key.resolve())),
                   "demo")
    watcher = Watcher(url).start()
    station = Station(config)
    stop = threading.Event()
    core = threading.Thread(target=station.run, args=(stop,), name="core")
    core.start()
    try:
        station.ready.wait(10)
        run_script(station)
        last = station.store.last_seq
        arrived = watcher.wait_for(lambda w: w.has_seqs_up_to(last))
        printer_sim = station.devices.printer_sim
        assert printer_sim is not None
        printer_sim.wait_printed(1)  # the handover slip, printed by the spooler
        printed = list(printer_sim.printed)
    finally:
        stop.set()
        core.join(10)
    watcher.wait_for(lambda w: any(s["state"] == "offline" for s in w.statuses()), 5)
    watcher.stop()

    print(f"\n== printed labels ({len(printed)}) ==")
    for label in printed:
        print(f"  barcode {label.barcode or '(continued)'}: " + " | ".join(label.lines))
    print(f"\n== what a subscriber on {contract.ALL_TOPICS} received "
          "(personal fields masked here) ==")
    for message in watcher.messages:
        body = masked_body(message.body, opener)
        print(f"  {message.topic}\n    {json.dumps(body, ensure_ascii=False)}")
    problems = checked(watcher.events(), last, arrived)
    if opener is None:
        print(f"  persons sealed to {central_key}: central's reports open them with its "
              "private key (--private-key)")
    return 1 if problems else 0


def checked(events: list[dict[str, Any]], last: int, arrived: bool) -> list[str]:
    """The delivery promises, printed: what broke them, if anything."""
    problems = delivery_problems(events)
    if not arrived:
        problems.append(f"not every seq up to {last} arrived")
    print("\n== check ==")
    print(f"  {len(events)} events received, seq 1..{last}, "
          f"{len({e['id'] for e in events})} distinct ids")
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    print("  delivery: " + ("OK: contiguous, in order, every id once" if not problems
                            else "FAILED"))
    return problems
