"""Personal data sealed at the lane (#28): the key files a station takes or refuses, the
lab bench that does not seal and says so, and what central can and cannot open."""

from __future__ import annotations

import base64
import json
import logging
import threading
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest

import contract
from central.reports.opening import Opener, Persons, Unopenable
from contract.events import (
    Person,
    SampleRegistered,
    SampleRegisteredEncrypted,
    SampleRegisteredEncryptedEvent,
    SampleRegisteredEvent,
    decode_event,
)
from contract.sealed import EXAMPLE_KEY_X, b64url, keygen, plaintext, read_keys
from station.cli import main
from station.config import ConfigError, load
from station.core.messages import NumberTyped
from station.runner import Station
from station.sealing import Sealer
from tests.central_keys import key_pair, parse
from tests.conftest import write_config
from tests.contract_tools import CONTRACT, needs_node, node
from tests.people import LI, ZHANG
from tools.broker import LocalBroker
from tools.watch import Watcher

LANE = '[station]\nid = "L1"\nsite = "s"\n'
PERSON = Person("resident", ZHANG, "张三丰", "male", "1949-12-31", phone="13800138000",
                address="北京市朝阳区某路2号", card_address="北京市东城区某胡同1号")


def problems(text: str) -> str:
    with pytest.raises(ConfigError) as refused:
        parse(text, "x.toml")
    return str(refused.value)


def privacy(**keys: str) -> str:
    return LANE + "[privacy]\n" + "".join(f'{k} = "{v}"\n' for k, v in keys.items())


def test_a_station_without_centrals_key_is_refused_naming_the_key() -> None:
    assert "[privacy] central_key: is required" in problems(LANE + "[privacy]\n")


@pytest.mark.parametrize(("content", "said"), [
    (None, "cannot read"),
    (b"not json", "not a JWK (not JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (b'{"kty": "RSA", "kid": "k"}', "not an X25519 key"),
    (b'{"kty": "OKP", "crv": "X25519", "kid": "k", "x": "short"}', "x is not a base64url"),
    (b'{"keys": []}', "a JWK Set with no keys"),
])
def test_a_broken_key_file_is_named_with_what_is_wrong(tmp_path: Path, content: bytes | None,
                                                       said: str) -> None:
    path = tmp_path / "central.pub.jwk"
    if content is not None:
        path.write_bytes(content)
    found = problems(privacy(central_key=str(path)))
    assert f"[privacy] central_key: {path}" in found and said in found


def test_a_station_takes_the_public_key_only(tmp_path: Path) -> None:
    private, _, _ = keygen(tmp_path, "k1")
    found = problems(privacy(central_key=str(private)))
    assert "holds the private part (d)" in found


def test_a_key_set_needs_the_kid_to_seal_to(tmp_path: Path) -> None:
    keys = [read_keys(keygen(tmp_path, kid)[1], private=False)[0] for kid in ("k1", "k2")]
    both = tmp_path / "set.jwk"
    both.write_text(json.dumps({"keys": keys}))
    assert "name the one to seal to" in problems(privacy(central_key=str(both)))
    assert "'k3' is not in" in problems(privacy(central_key=str(both), key_id="k3"))
    config = parse(privacy(central_key=str(both), key_id="k2"), "x.toml")
    assert config.privacy.key is not None and config.privacy.key["kid"] == "k2"


def test_the_published_example_key_is_refused_at_the_lane(tmp_path: Path) -> None:
    """Its private half is in the contract's folder: sealing to it hides nothing (#39).
    Refused by check-config and by run alike (both read the config this way)."""
    public = {k: v for k, v in json.loads((CONTRACT / "example-central.jwk").read_text())
              .items() if k != "d"}
    assert public["x"] == EXAMPLE_KEY_X   # the lane's copy of the published key
    for name, doc in (("example.pub.jwk", public), ("set.jwk", {"keys": [public]})):
        path = tmp_path / name
        path.write_text(json.dumps(doc))
        found = problems(privacy(central_key=str(path), key_id="central-example"))
        assert f"[privacy] central_key: {path} holds the contract's published example" in found
    renamed = tmp_path / "renamed.pub.jwk"   # another kid does not hide it
    renamed.write_text(json.dumps({**public, "kid": "central-2026"}))
    assert "published example key" in problems(privacy(central_key=str(renamed)))


def test_a_kid_in_two_key_files_is_refused_naming_both(tmp_path: Path) -> None:
    first, _, _ = keygen(tmp_path / "a", "central-1")
    second, _, _ = keygen(tmp_path / "b", "central-1")   # another key, the same name
    with pytest.raises(ValueError, match="kid 'central-1' is also in") as refused:
        Opener([first, second])
    assert str(first) in str(refused.value) and str(second) in str(refused.value)
    copy = tmp_path / "copy.jwk"   # the same key given twice is one key
    copy.write_bytes(first.read_bytes())
    copy.chmod(0o600)
    assert Opener([first, copy]).kids == {"central-1"}


def test_run_exits_78_on_a_key_file_it_cannot_use(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "station.toml"
    path.write_text(privacy(central_key=str(tmp_path / "missing.jwk")))
    assert main(["run", "--config", str(path)]) == 78
    err = capsys.readouterr().err
    assert "[privacy] central_key" in err and "missing.jwk" in err


def test_a_lab_bench_sends_persons_plain_and_says_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """seal = false: loud at start, `sealed: false` in the status, plain sample.registered
    (which the contract still takes: stations before 1.4 send it)."""
    events, statuses = run_lane(tmp_path, sealed=False, caplog=caplog)
    assert "IN PLAINTEXT" in caplog.text
    assert [s["sealed"] for s in statuses] and not any(s["sealed"] for s in statuses)
    registered = [e for e in events if e["type"] == "sample.registered"]
    assert registered and registered[0]["data"]["person"]["id_number"] == ZHANG
    validator = jsonschema.Draft7Validator(contract.schema("events.schema.json"))
    for event in events:
        validator.validate(event)


def test_a_lane_seals_every_person_and_central_opens_them(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    events, statuses = run_lane(tmp_path, sealed=True, caplog=caplog)
    assert all(s["sealed"] for s in statuses)
    sealed = [e for e in events if e["type"] == "sample.registered.encrypted"]
    assert sealed and not [e for e in events if e["type"] == "sample.registered"]
    published = json.dumps(events, ensure_ascii=False)
    assert ZHANG not in published and "张三丰" not in published and "13800138000" not in published
    header = json.loads(b64url(sealed[0]["data"]["person_jwe"].split(".")[0]))
    assert {k: header[k] for k in ("alg", "enc", "kid")} == {
        "alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": "central-test"}
    opened = Opener([key_pair()[0]]).open(typed(sealed[0]))
    person = opened.data.person
    assert (person.id_number, person.name, person.phone) == (ZHANG, "张三丰", "13800138000")
    assert opened.data.tube == sealed[0]["data"]["tube"] and opened.id == sealed[0]["id"]


def run_lane(tmp_path: Path, *, sealed: bool, caplog: pytest.LogCaptureFixture
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A station that opens a tube, registers Zhang by a pre-registration code (phone,
    address) and Li by the keypad (with a phone)."""
    caplog.set_level(logging.INFO)
    with LocalBroker() as broker:
        watcher = Watcher(broker.url).start()
        station = Station(load(write_config(tmp_path, broker.url, sealed=sealed)))
        stop = threading.Event()
        core = threading.Thread(target=station.run, args=(stop,))
        core.start()
        try:
            assert station.ready.wait(10) and station.devices.scanner.opened.wait(10)
            sim = station.devices.scanner_sim
            assert sim is not None
            sim.scan("T000001")
            sim.scan(json.dumps({"id": ZHANG, "name": "张三丰", "phone": "13800138000",
                                 "address": "北京市朝阳区某路2号"}, ensure_ascii=False))
            assert watcher.wait_for(lambda w: w.has_seqs_up_to(2))   # the scans first
            station.events.put(NumberTyped(f"{LI}+13900139000"))
            assert watcher.wait_for(lambda w: w.has_seqs_up_to(3))
        finally:
            stop.set()
            core.join(10)
        watcher.wait_for(lambda w: any(s["state"] == "offline" for s in w.statuses()), 5)
        watcher.stop()
    return watcher.events(), watcher.statuses()


def typed(body: dict[str, Any]) -> SampleRegisteredEncryptedEvent:
    event = decode_event(json.dumps(body))
    assert isinstance(event, SampleRegisteredEncryptedEvent)
    return event


def sealed_event(event_id: str, person_jwe: str) -> SampleRegisteredEncryptedEvent:
    data = SampleRegisteredEncrypted.of(SampleRegistered("T000001", 1, "card", PERSON, False),
                                        person_jwe)
    return SampleRegisteredEncryptedEvent(
        v=1, id=event_id, site="s", station="L1", seq=2, session=1,
        ts="2026-12-04T08:00:00.000Z", clock_synced=True, data=data)


def seal(event_id: str, public: Path | None = None) -> str:
    key = read_keys(public or key_pair()[1], private=False)[0]
    return Sealer(key).seal(event_id, PERSON)


def test_what_central_cannot_open_is_named_never_printed(tmp_path: Path) -> None:
    opener = Opener([key_pair()[0]])
    assert opener.open(sealed_event("e1", seal("e1"))).data.person == PERSON
    _, other, _ = keygen(tmp_path, "another-central")
    with pytest.raises(Unopenable, match="sealed to key 'another-central'"):
        opener.open(sealed_event("e1", seal("e1", other)))
    token = seal("e1")
    head, key, iv, text, tag = token.split(".")
    flipped = text[:-2] + ("A" if text[-2] != "A" else "B") + text[-1]
    with pytest.raises(Unopenable, match="changed or damaged"):
        opener.open(sealed_event("e1", ".".join((head, key, iv, flipped, tag))))
    with pytest.raises(Unopenable, match="belongs to another event"):
        opener.open(sealed_event("e2", token))   # a person copied into another event
    odd_header = base64.urlsafe_b64encode(b'["kid"]').decode().rstrip("=")
    with pytest.raises(Unopenable, match="sealed to key None"):
        opener.open(sealed_event("e1", ".".join((odd_header, key, iv, text, tag))))
    persons = Persons(opener, needed=True)
    shown = persons.registered(sealed_event("e2", token))
    assert shown.data.person.name == "（未能解密）" and shown.data.person.id_number == ""
    assert len(persons.errors) == 1 and "e2" in persons.errors[0]
    assert ZHANG not in persons.errors[0]


def test_a_private_key_file_must_be_its_owners_alone(tmp_path: Path) -> None:
    private, _, _ = keygen(tmp_path, "k1")
    private.chmod(0o644)
    with pytest.raises(ValueError, match="chmod 600"):
        Opener([private])


def test_a_sealed_event_round_trips_as_the_registration_it_was() -> None:
    token = seal("e1")
    event = sealed_event("e1", token)
    body = json.loads(msgspec.json.encode(event))
    assert body["type"] == "sample.registered.encrypted" and "person" not in body["data"]
    opened = Opener([key_pair()[0]]).open(typed(body))
    assert isinstance(opened, SampleRegisteredEvent)
    assert opened.data.data == SampleRegistered("T000001", 1, "card", PERSON, False).data


@needs_node
def test_npm_jose_opens_what_a_station_sealed_field_by_field(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An implementation nobody here wrote (npm's jose) opens a station's sealed events,
    and the contract's example with its example key, to what central's opener reads."""
    events, _ = run_lane(tmp_path, sealed=True, caplog=caplog)
    sealed = [e for e in events if e["type"] == "sample.registered.encrypted"]
    opener = Opener([key_pair()[0]])
    ours = {e["id"]: msgspec.to_builtins(opener.open(typed(e)).data.person) for e in sealed}
    assert [(p["id_number"], p["name"], p["phone"], p.get("address")) for p in ours.values()
            ] == [(ZHANG, "张三丰", "13800138000", "北京市朝阳区某路2号"),
                  (LI, "", "13900139000", None)]   # as the lane took them in
    theirs = jose_opened(key_pair()[0], sealed, tmp_path)
    for event in sealed:
        got = theirs[event["id"]]
        assert {k: got["header"][k] for k in ("alg", "enc", "kid")} == {
            "alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": "central-test"}
        assert got["opened"] == {"event": event["id"], "person": ours[event["id"]]}
    (example,) = [json.loads(line.split("payload: ", 1)[1]) for line in (
        CONTRACT / "asyncapi.yaml").read_text(encoding="utf-8").splitlines()
        if "payload: {" in line and '"type": "sample.registered.encrypted"' in line]
    assert example["type"] == "sample.registered.encrypted"
    key = tmp_path / "example.jwk"
    key.write_text((CONTRACT / "example-central.jwk").read_text())
    key.chmod(0o600)
    opened = jose_opened(key, [example], tmp_path)[example["id"]]["opened"]
    assert opened["person"]["id_number"] == "440305200102280071"
    assert opened["person"] == msgspec.to_builtins(
        Opener([key]).open(typed(example)).data.person)
    token = sealed[0]["data"]["person_jwe"]
    tampered = {**sealed[0], "id": "tampered", "data": {
        **sealed[0]["data"], "person_jwe": token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")}}
    assert "error" in jose_opened(key_pair()[0], [tampered], tmp_path)["tampered"]


def jose_opened(key: Path, events: list[dict[str, Any]], tmp_path: Path
                ) -> dict[str, dict[str, Any]]:
    listed = tmp_path / "sealed.json"
    listed.write_text(json.dumps([{"id": e["id"], "person_jwe": e["data"]["person_jwe"]}
                                  for e in events]))
    result = node("jwe-open.mjs", str(key), str(listed))
    assert result.returncode == 0, result.stderr[-2000:]
    return {row["id"]: row for row in json.loads(result.stdout)}


def test_one_key_agreement_per_run_and_a_new_one_at_every_start() -> None:
    """A run's seals share the header's epk (its agreement, in memory only), each with a
    content key and an IV of its own; another run (another Sealer) agrees anew."""
    key = read_keys(key_pair()[1], private=False)[0]
    first, again = Sealer(key), Sealer(key)
    one, two, other = (first.seal("e1", PERSON), first.seal("e2", PERSON),
                       again.seal("e3", PERSON))
    header = [json.loads(b64url(token.split(".")[0])) for token in (one, two, other)]
    assert header[0]["epk"] == header[1]["epk"] != header[2]["epk"]
    assert one.split(".")[1] != two.split(".")[1] and one.split(".")[2] != two.split(".")[2]
    opener = Opener([key_pair()[0]])
    assert [opener.open(sealed_event(i, t)).data.person for i, t in (
        ("e1", one), ("e2", two), ("e3", other))] == [PERSON] * 3


def test_central_opens_the_contracts_algorithms_only() -> None:
    """A JWE to central's key under another algorithm (direct ECDH-ES) is refused."""
    from joserfc import jwe  # noqa: PLC0415
    from joserfc.jwk import OKPKey  # noqa: PLC0415

    public = OKPKey.import_key(read_keys(key_pair()[1], private=False)[0])
    token = jwe.encrypt_compact({"alg": "ECDH-ES", "enc": "A256GCM", "kid": "central-test"},
                                plaintext("e1", PERSON.to_json()), public)
    with pytest.raises(Unopenable, match="does not open"):
        Opener([key_pair()[0]]).open(sealed_event("e1", token))
