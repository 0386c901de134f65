"""Fuzzing every parser that takes outside input: no crash, no hang, a clear error.

Bounded for CI by the "ci" hypothesis profile; HYPOTHESIS_PROFILE=long digs deeper.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from central.mqtt import codec
from contract.id_numbers import InvalidIdNumber, validate_id_number
from drivers.printer import tspl, zpl
from drivers.printer.job import PrinterFault
from drivers.printer.status import NotAStatus
from drivers.printer.transport import open_transport
from drivers.sam import protocol as p
from drivers.sam.text import CardTextError, decode
from drivers.scanner.lines import LineFramer
from station import replay
from station.config import ConfigError
from station.core.codes import PERSON_DECODERS, BadCode, Classifier
from tests.central_keys import parse
from tests.conftest import FIGURES

settings.register_profile("ci", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=20_000, deadline=None)
settings.register_profile("report", deadline=None,
                          max_examples=int(os.environ.get("NATEST_FUZZ_EXAMPLES", "3000")),
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# How many inputs each parser was given, for RELIABILITY.md.
COUNTS: dict[str, int] = FIGURES.setdefault("fuzz", {})  # type: ignore[assignment]


def counted(name: str) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + 1

pytestmark = pytest.mark.fuzz
TODAY = dt.date(2026, 11, 22)


def frames(payload: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return payload.map(p.frame)


@given(st.lists(st.one_of(st.binary(max_size=64), frames(st.binary(min_size=3,
                                                                     max_size=300))),
                max_size=20),
       st.integers(1, 64))
def test_sam_parser_never_crashes_and_finds_every_good_frame(chunks: list[bytes],
                                                             cut: int) -> None:
    counted("SAM frame parser: noise, frames, split reads")
    stream = b"".join(chunks)
    parser = p.FrameParser()
    out = []
    for i in range(0, len(stream), cut):
        out += parser.data_received(stream[i:i + cut])
    assert len(parser._buffer) <= len(stream)
    # Noise may hold a preamble and a length that swallow what follows (the test below
    # keeps it out); whatever the parser reports as a frame is one, whole, in the stream,
    # and every good frame sent is either found or swallowed by noise before it.
    found = [o.payload for o in out if isinstance(o, p.Frame)]
    assert all(p.frame(payload) in stream for payload in found)
    assert len(found) <= stream.count(p.HEADER)


@given(st.lists(st.one_of(st.binary(max_size=64).map(lambda b: b.replace(b"\xaa", b"")),
                          frames(st.binary(min_size=3, max_size=300))), max_size=20),
       st.integers(1, 64))
def test_sam_parser_finds_every_frame_between_noise_without_a_preamble(
        chunks: list[bytes], cut: int) -> None:
    """Noise with no 0xAA cannot start a preamble: then every frame is found, in order,
    and nothing else is taken for one."""
    counted("SAM frame parser: frames between noise")
    stream = b"".join(chunks)
    parser = p.FrameParser()
    out = [o for i in range(0, len(stream), cut) for o in parser.data_received(stream[i:i + cut])]
    good = [c[7:-1] for c in chunks if c.startswith(p.HEADER)]
    assert [o.payload for o in out if isinstance(o, p.Frame)] == good


@given(st.binary(min_size=3, max_size=2000))
def test_every_sam_frame_round_trips(payload: bytes) -> None:
    counted("SAM frame round trip")
    (frame,) = p.FrameParser().data_received(p.frame(payload))
    assert isinstance(frame, p.Frame) and frame.payload == payload


@given(st.binary(min_size=0, max_size=300))
def test_card_text_decodes_or_names_the_problem(text: bytes) -> None:
    counted("ID-card text block decoder")
    try:
        card = decode(text)
    except CardTextError as exc:
        assert str(exc)
    else:
        assert card.id_type in ("resident", "hmt_permit", "foreign")


@given(st.binary(max_size=10_000), st.integers(1, 512))
def test_line_framer_is_bounded_and_total(data: bytes, cut: int) -> None:
    counted("USB-CDC scanner line framing")
    framer = LineFramer()
    codes = [c for i in range(0, len(data), cut) for c in framer.data_received(data[i:i + cut])]
    codes += framer.flush() if framer.partial else []
    assert all(len(c.encode("utf-8", "surrogatepass")) <= 3 * 4096 for c in codes)


@given(st.lists(st.tuples(st.sampled_from([1, 4, 17, 0]), st.integers(0, 300),
                          st.integers(-1, 3)), max_size=300))
def test_hid_key_decoder_takes_any_event_stream(events: list[tuple[int, int, int]]) -> None:
    counted("HID scanner key-event decoder")
    hid_keys = pytest.importorskip("drivers.scanner.hid_keys")
    decoder = hid_keys.KeyDecoder()
    for event_type, code, value in events:
        out = decoder.feed(event_type, code, value)
        assert out is None or isinstance(out, str)
    decoder.flush()


CLASSIFIER = Classifier(re.compile(r"[A-Z]{0,4}[0-9]{6,14}"), list(PERSON_DECODERS.values()))


@given(st.one_of(st.text(max_size=300),
                 st.from_regex(r"\d{17}[\dX]", fullmatch=True),
                 st.builds(lambda i, n: json.dumps({"id": i, "name": n}),
                           st.one_of(st.text(max_size=20), st.integers()),
                           st.one_of(st.text(max_size=20), st.none()))))
def test_any_scan_is_classified_or_refused_clearly(text: str) -> None:
    counted("scanned-code classifier and person codes")
    try:
        CLASSIFIER.classify(text, TODAY)
    except BadCode as exc:
        assert str(exc)


@given(st.text(max_size=30))
def test_id_validation_is_total(number: str) -> None:
    counted("ID number validation")
    try:
        validate_id_number(number, TODAY)
    except InvalidIdNumber as exc:
        assert number not in str(exc) or len(number) < 6  # never echoes a full number


TOML_VALUES = st.one_of(st.integers(-10**6, 10**6), st.text(max_size=20), st.booleans(),
                        st.lists(st.text(max_size=5), max_size=3), st.floats(allow_nan=False))


@given(st.dictionaries(st.sampled_from(["station", "mqtt", "scanner", "printer", "lights",
                                        "card_reader", "other"]),
                       st.dictionaries(st.text(min_size=1, max_size=12), TOML_VALUES,
                                       max_size=6), max_size=7))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_config_loader_reports_or_loads_never_crashes(doc: dict[str, dict[str, object]]) -> None:
    counted("config loader: TOML tables")
    tomli_w = pytest.importorskip("tomli_w")
    text = tomli_w.dumps(doc)
    try:
        parse(text, "fuzz.toml")
    except ConfigError as exc:
        assert exc.problems and all(p.startswith("fuzz.toml") for p in exc.problems)


URLISH = st.from_regex(r"(mqtts?|tcp|file|serial|http)://[\[\]a-z0-9:./?=%@-]{0,16}",
                       fullmatch=True)


@given(URLISH, URLISH)
@example("mqtt://[::1", "tcp://[zz")
@example("mqtt://h:99999", "serial:///dev/x?baud=abc")
def test_broken_urls_are_named_problems_not_crashes(mqtt_url: str, printer_uri: str) -> None:
    counted("config loader: broker and printer URLs")
    text = (f'[station]\nid = "L1"\nsite = "s"\n[mqtt]\nurl = {json.dumps(mqtt_url)}\n'
            f'[printer]\ndriver = "tspl"\nuri = {json.dumps(printer_uri)}\n')
    try:
        parse(text, "fuzz.toml")
    except ConfigError as exc:
        assert exc.problems


def test_a_bad_baud_is_refused_by_the_check_and_a_fault_at_use() -> None:
    # Not fuzzed: opening generated paths read-write as root could touch real devices.
    with pytest.raises(ConfigError, match="baud must be a number"):
        parse('[station]\nid = "L1"\nsite = "s"\n[printer]\ndriver = "tspl"\n'
              'uri = "serial:///dev/null?baud=abc"\n', "x.toml")
    with pytest.raises(PrinterFault, match="baud=abc"):
        open_transport("serial:///dev/null?baud=abc")


@given(st.text(max_size=200))
def test_config_loader_survives_any_text(text: str) -> None:
    counted("config loader: any text")
    try:
        parse(text, "fuzz.toml")
    except ConfigError as exc:
        assert exc.problems


@given(st.one_of(st.binary(max_size=100),
                 st.dictionaries(st.sampled_from(["from_seq", "to_seq", "x"]),
                                 st.one_of(st.integers(-5, 10**9), st.booleans(), st.none(),
                                           st.floats(), st.text(max_size=5)),
                                 max_size=3).map(lambda d: json.dumps(d).encode())))
@example(b'{"from_seq": true, "to_seq": 2}')
@example(b"[" * 5000)
def test_replay_command_payloads_parse_or_are_refused(payload: bytes) -> None:
    counted("replay command payloads")
    try:
        request = replay.parse(payload)
    except ValueError as exc:
        assert str(exc)
    else:
        assert 1 <= request.first <= request.served_to < request.first + 10_000
        assert request.served_to <= request.last


# What each status bit and flag means, from the printers' manuals (DOMAIN.md: TSPL's
# `ESC ! ?` byte; Zebra's ~HS strings 1 and 2), written here apart from the drivers'
# tables: a parser that stopped reporting a fault, or named the wrong one, fails.
TSPL_BITS = {0: "head_open", 1: "paper_jam", 2: "paper_out", 3: "ribbon_out", 4: "other",
             6: "head_open", 7: "other"}   # bit 5: printing, not a fault
ZPL_FLAGS = {(0, 1): "paper_out", (0, 2): "other", (0, 5): "other", (0, 10): "other",
             (0, 11): "other", (1, 2): "head_open", (1, 3): "ribbon_out"}
KINDS = {"head_open", "paper_jam", "paper_out", "ribbon_out", "other"}


@given(st.binary(max_size=200))
def test_printer_status_parsers_are_total(data: bytes) -> None:
    counted("printer status answers (TSPL, ZPL)")
    for parser in (tspl.parse_status, zpl.parse_status):
        try:
            found = parser(data)
        except NotAStatus:   # the one refusal, named: something else answered
            continue
        assert found is None or {problem.kind for problem in found} <= KINDS
    if len(data) > tspl.LONGEST_ANSWER:
        with pytest.raises(NotAStatus, match="not a TSPL printer's one status byte"):
            tspl.parse_status(data)
    else:   # one byte is an answer; a few, the newest of late answers
        assert (tspl.parse_status(data) is None) == (data == b"")


@given(st.binary(min_size=1, max_size=4))
def test_a_tspl_status_byte_names_every_fault_bit_it_sets(data: bytes) -> None:
    counted("printer status answers (TSPL, ZPL)")
    found = tspl.parse_status(data)
    assert found is not None
    assert sorted(problem.kind for problem in found) == sorted(
        kind for bit, kind in TSPL_BITS.items() if data[-1] >> bit & 1)


@given(st.lists(st.sampled_from("01"), min_size=12, max_size=12),
       st.lists(st.sampled_from("01"), min_size=11, max_size=11))
def test_a_zebra_host_status_names_every_flag_it_raises(first: list[str],
                                                        second: list[str]) -> None:
    counted("printer status answers (TSPL, ZPL)")
    strings = (",".join(first), ",".join(second), "1234,0")
    answer = b"".join(b"\x02" + text.encode() + b"\x03\r\n" for text in strings)
    found = zpl.parse_status(answer)
    assert found is not None
    fields = (first, second)
    assert sorted(problem.kind for problem in found) == sorted(
        kind for (string, index), kind in ZPL_FLAGS.items() if fields[string][index] == "1")
    assert zpl.parse_status(answer[:-3]) is None   # the third string not yet complete


# --- the collector's MQTT 5 codec: what a broker (or anything posing as one) sends -----

def _mqtt_packets() -> st.SearchStrategy[bytes]:
    """Packets a broker sends, well formed, to mutate: PUBLISH with and without
    properties, CONNACK with properties, SUBACK, PUBACK, PINGRESP, DISCONNECT."""
    topic = st.binary(max_size=40)
    publish = st.builds(
        lambda t, q, mid, props, payload: codec.packet(
            codec.PUBLISH, q << 1,
            len(t).to_bytes(2, "big") + t + (mid.to_bytes(2, "big") if q else b"")
            + codec.varint(len(props)) + props + payload),
        topic, st.integers(0, 1), st.integers(0, 65535), st.binary(max_size=20),
        st.binary(max_size=200))
    connack = st.builds(lambda sp, rc, props: codec.packet(
        codec.CONNACK, 0, bytes((sp, rc)) + codec.varint(len(props)) + props),
        st.integers(0, 1), st.integers(0, 255), st.binary(max_size=30))
    acks = st.builds(lambda kind, mid, rest: codec.packet(kind, 0, mid.to_bytes(2, "big")
                                                              + rest),
                     st.sampled_from([codec.SUBACK, codec.PUBACK]),
                     st.integers(0, 65535), st.binary(max_size=8))
    return st.one_of(publish, connack, acks, st.just(b"\xd0\x00"), st.just(b"\xe0\x01\x8e"))


def _mutated(packets: list[bytes], flips: list[tuple[int, int]]) -> bytes:
    data = bytearray(b"".join(packets))
    for at, value in flips:
        if data:
            data[at % len(data)] = value
    return bytes(data)


@given(st.one_of(st.binary(max_size=600),
                 st.builds(_mutated, st.lists(_mqtt_packets(), max_size=6),
                           st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
                                    max_size=4))),
       st.integers(1, 64))
def test_the_mqtt5_codec_raises_only_protocol_errors_and_stays_bounded(
        data: bytes, cut: int) -> None:
    """Whatever arrives, split at any read boundary: packets, or a ProtocolError (which
    ends the connection, never the thread); the buffer never holds more than one
    packet's limit beyond what was parsed."""
    counted("MQTT 5 packets from a broker: random and mutated")
    buf = bytearray()
    try:
        for i in range(0, len(data), cut):
            buf += data[i:i + cut]
            found, used = codec.split_packets(buf, limit=1024)
            del buf[:used]
            assert len(buf) <= 1024 + 5
            for kind, flags, body in found:
                if kind == codec.PUBLISH:
                    topic, payload, qos, mid = codec.parse_publish(flags, body)
                    assert topic.encode() and qos in (0, 1) and (mid or not qos)
                    assert isinstance(payload, bytes)
                elif kind == codec.CONNACK:
                    codec.parse_connack(body)
                elif kind in (codec.SUBACK, codec.PUBACK):
                    codec.parse_ack(body, "SUBACK" if kind == codec.SUBACK
                                         else "PUBACK")
    except codec.ProtocolError as exc:
        assert str(exc)
