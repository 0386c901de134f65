"""The SAM ID-card reader: byte-exact protocol, text layouts, the driver over a pty."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.sam import protocol as p
from drivers.sam.reader import SamReader
from drivers.sam.session import (
    CardPresented,
    CardSession,
    CardUnreadable,
    Outcome,
    SamIdentified,
    SamNotice,
    Send,
)
from drivers.sam.sim import PHOTO, SamSimulator, encode, put
from drivers.sam.text import CardText, CardTextError, decode
from drivers.scanner.sim import ScannerSim
from tests.central_keys import REGISTERED, people_in
from tests.conftest import write_config
from tools.broker import LocalBroker
from tools.station_process import StationProcess
from tools.watch import Watcher

# --- frames ------------------------------------------------------------------------


def test_find_card_command_is_byte_exact() -> None:
    assert p.command(p.FIND_CARD) == bytes.fromhex("AAAAAA9669 0003 2001 22")


@pytest.mark.parametrize(("cmd", "hexed"), [
    (p.RESET_SAM, "AAAAAA9669 0003 10FF EC"),
    (p.SAM_ID, "AAAAAA9669 0003 12FF EE"),
    (p.SELECT_CARD, "AAAAAA9669 0003 2002 21"),
    (p.READ_TEXT_PHOTO, "AAAAAA9669 0003 3001 32"),
])
def test_commands(cmd: tuple[int, int], hexed: str) -> None:
    assert p.command(cmd) == bytes.fromhex(hexed)


def test_read_answer_is_1295_bytes_with_len_0508() -> None:
    frame = p.answer(p.OK, b"\x01\x00\x04\x00" + bytes(256) + bytes(1024))
    assert len(frame) == 1295 and frame[5:7] == b"\x05\x08"


def test_parser_resyncs_after_noise_split_reads_and_a_bad_checksum() -> None:
    good = p.answer(p.FIND_OK, b"\x00\x00\x00\x00")
    broken = bytearray(p.answer(p.OK))
    broken[-1] ^= 0xFF
    stream = b"\x00\x13garbage\xaa\xaa" + bytes(broken) + good
    parser = p.FrameParser()
    out = []
    for i in range(0, len(stream), 3):  # in pieces, as a UART delivers them
        out += parser.data_received(stream[i:i + 3])
    frames = [o for o in out if isinstance(o, p.Frame)]
    errors = [o for o in out if isinstance(o, p.FrameError)]
    assert [f.sw3 for f in frames] == [p.FIND_OK] and frames[0].data == b"\x00" * 4
    assert any(e.reason == "bad checksum" for e in errors)


def test_parser_rejects_an_impossible_length_and_goes_on() -> None:
    parser = p.FrameParser()
    out = parser.data_received(p.HEADER + b"\xff\xff" + p.answer(p.NO_CARD))
    assert isinstance(out[0], p.FrameError)
    assert [o.sw3 for o in out if isinstance(o, p.Frame)] == [p.NO_CARD]


def test_every_documented_status_has_a_message() -> None:
    for sw3 in (0x90, 0x9F, 0x80, 0x81, 0x41, 0x10, 0x11, 0x21, 0x23, 0x24, 0x31, 0x32,
                0x33, 0x40, 0x47, 0x60, 0x66, 0x91):
        assert "unknown status" not in p.describe(sw3)
    assert p.describe(0x55) == "unknown status 0x55"


# --- text layouts (fixtures placed by offset, as the layout documents them) --------

def block(fields: list[tuple[int, int, str]]) -> bytes:
    raw = bytearray(" ".encode("utf-16-le") * 128)
    for offset, length, value in fields:
        put(raw, offset, length, value)
    return bytes(raw)


def test_resident_card() -> None:
    card = decode(block([(0, 30, "张三丰"), (30, 2, "1"), (32, 4, "01"), (36, 16, "19491231"),
                         (52, 70, "北京市西城区某街1号"), (122, 36, "11010519491231002X"),
                         (158, 30, "北京市公安局西城分局"), (188, 16, "20100101"),
                         (204, 16, "长期")]))
    assert card == CardText(id_type="resident", number="11010519491231002X", name="张三丰",
                            gender="male", birth="1949-12-31", nation="01",
                            address="北京市西城区某街1号", valid_from="2010-01-01",
                            valid_to="长期")


def test_hk_macau_taiwan_permit() -> None:
    card = decode(block([(0, 30, "陈大文"), (30, 2, "2"), (36, 16, "19850305"),
                         (122, 36, "810000198503051234"), (220, 18, "H12345678"),
                         (238, 4, "01"), (248, 2, "J")]))
    assert (card.id_type, card.number, card.gender) == ("hmt_permit", "810000198503051234",
                                                        "female")


def test_foreign_permanent_resident_old_layout() -> None:
    card = decode(block([(0, 120, "SMITH, JOHN"), (120, 2, "1"), (122, 30, "USA110075010101"),
                         (152, 6, "USA"), (158, 30, "约翰"), (188, 16, "20170101"),
                         (204, 16, "20270101"), (220, 16, "19750101"), (248, 2, "I")]))
    assert (card.id_type, card.name, card.english_name, card.nation, card.birth) == (
        "foreign", "约翰", "SMITH, JOHN", "USA", "1975-01-01")


def test_foreign_permanent_resident_2023_layout() -> None:
    card = decode(block([(0, 30, "玛丽"), (30, 2, "2"), (36, 16, "19900707"),
                         (52, 70, "MARY ANN"), (220, 22, " SMITH"),
                         (122, 36, "933156199007070012"), (242, 6, "GBR"), (248, 2, "Y")]))
    assert (card.name, card.english_name, card.nation, card.number) == (
        "玛丽", "MARY ANN SMITH", "GBR", "933156199007070012")


def test_unknown_layout_and_short_block_are_clear_errors() -> None:
    with pytest.raises(CardTextError, match="unknown card type marker 'Q'"):
        decode(block([(248, 2, "Q")]))
    with pytest.raises(CardTextError, match="not 256"):
        decode(b"\x20\x00" * 10)


ZHANG = CardText("resident", "11010519491231002X", "张三丰", "male", "1949-12-31",
                 nation="01", valid_to="长期")


# --- the card session, with frames alone: no port, no thread, no clock -----------------

def frame(sw3: int, data: bytes = b"") -> p.Frame:
    return p.Frame(bytes([0, 0, sw3]) + data)


def card_answer(card: CardText) -> p.Frame:
    return frame(p.OK, b"\x01\x00\x04\x00" + encode(card) + PHOTO)


def converse(session: CardSession, answers: list[p.Frame]) -> tuple[list[Outcome], list[Send]]:
    outcomes: list[Outcome] = []
    sends = [session.start()]
    for answer in answers:
        told, send = session.answered(answer)
        outcomes += told
        sends.append(send)
    return outcomes, sends


START = [frame(p.OK), frame(p.OK), frame(p.OK, bytes.fromhex("0501"))]


def test_the_session_starts_the_sam_then_polls_at_its_pace() -> None:
    outcomes, sends = converse(CardSession(poll_s=0.3), [*START, frame(p.NO_CARD)])
    assert [s.command for s in sends] == [p.RESET_SAM, p.SAM_STATUS, p.SAM_ID, p.FIND_CARD,
                                          p.FIND_CARD]
    assert [s.after_s for s in sends] == [0, 0, 0, 0.3, 0.3]
    assert outcomes == [SamIdentified("0501")]


def test_the_session_counts_a_card_once_until_it_is_lifted() -> None:
    read = [frame(p.FIND_OK, bytes(4)), frame(p.OK), card_answer(ZHANG)]
    outcomes, sends = converse(CardSession(), [*START, *read, *read, frame(p.NO_CARD), *read])
    assert outcomes == [SamIdentified("0501"), CardPresented(ZHANG), CardPresented(ZHANG)]
    assert [s.command for s in sends[4:7]] == [p.SELECT_CARD, p.READ_TEXT_PHOTO, p.FIND_CARD]
    assert [s.after_s for s in sends[4:7]] == [0, 0, CardSession().poll_s]


def test_the_session_reports_a_failed_read_and_retries_after_a_failed_select() -> None:
    outcomes, sends = converse(CardSession(), [
        *START, frame(p.FIND_OK, bytes(4)), frame(0x81),            # select failed
        frame(p.FIND_OK, bytes(4)), frame(p.OK), frame(0x41),       # read failed
        frame(p.FIND_OK, bytes(4)), frame(p.OK), frame(p.OK, bytes(20))])  # garbled text
    assert sends[5].command == p.FIND_CARD                          # back to finding
    assert outcomes[1:] == [CardUnreadable(p.describe(0x41)),
                            CardUnreadable("card text unreadable: text block has 16 "
                                           "bytes, not 256")]


def test_a_start_up_command_refused_is_a_notice_not_a_stop() -> None:
    outcomes, sends = converse(CardSession(), [frame(0x21), frame(p.OK), frame(0x24)])
    assert outcomes == [SamNotice(p.RESET_SAM, "unknown command"), SamIdentified("")]
    assert sends[-1].command == p.FIND_CARD


# --- the driver over a real pty against the emulator -------------------------------

class Sink:
    def __init__(self) -> None:
        self.items: queue.Queue[tuple[str, object]] = queue.Queue()

    def reader(self, port: str) -> SamReader:
        return SamReader(port, on_card=lambda c: self.items.put(("card", c)),
                         on_error=lambda r: self.items.put(("error", r)),
                         on_fault=lambda r: self.items.put(("fault", r)),
                         on_recovered=lambda: self.items.put(("recovered", None)),
                         poll_s=0.05, reopen_s=0.05)

    @contextlib.contextmanager
    def reading(self, port: str) -> Iterator[SamReader]:
        reader = self.reader(port)
        reader.start()
        try:
            assert reader.opened.wait(5)
            yield reader
        finally:
            reader.stop()

    def next(self, timeout: float = 10) -> tuple[str, object]:
        return self.items.get(timeout=timeout)

    def quiet(self, seconds: float) -> bool:
        try:
            self.items.get(timeout=seconds)
        except queue.Empty:
            return True
        return False


@pytest.fixture
def sam() -> Iterator[SamSimulator]:
    sim = SamSimulator()
    yield sim
    sim.close()


def test_a_card_registers_once_until_lifted(sam: SamSimulator) -> None:
    sink = Sink()
    with sink.reading(sam.port) as reader:
        assert reader.sam_id == "05010000000000001234567800000001"
        sam.present(ZHANG)
        kind, card = sink.next()
        assert kind == "card" and card == ZHANG
        assert sink.quiet(0.5)            # still on the reader: not again
        sam.lift()
        sam.present(ZHANG)                # lifted and placed again: counts again
        assert sink.next() == ("card", ZHANG)
        assert sam.history[:3] == [p.RESET_SAM, p.SAM_STATUS, p.SAM_ID]


def test_a_failed_find_is_retried_and_noise_is_survived(sam: SamSimulator) -> None:
    sink = Sink()
    with sink.reading(sam.port):
        sam.noise_before_answer = b"\x00\xff\x13"   # stray bytes before every answer
        sam.fail_next(0x41, p.FIND_CARD)  # the find itself fails: polled again, unreported
        sam.present(ZHANG)
        assert sink.next() == ("card", ZHANG)           # the first thing the operator sees
        finds = [n for n, cmd in enumerate(sam.history) if cmd == p.FIND_CARD]
        selects = [n for n, cmd in enumerate(sam.history) if cmd == p.SELECT_CARD]
        assert len(selects) == 1 and len(finds) >= 2 and finds[-1] < selects[0]


def test_a_reader_without_reset_still_works(sam: SamSimulator) -> None:
    sam.fail_next(0x21)                   # "unknown command" to the reset
    sink = Sink()
    with sink.reading(sam.port) as reader:
        assert reader.sam_id             # status and SAM id still answered
        sam.present(ZHANG)
        assert sink.next() == ("card", ZHANG)


def test_a_read_error_reaches_the_operator_and_placing_again_reads(sam: SamSimulator) -> None:
    sink = Sink()
    with sink.reading(sam.port):
        sam.fail_next(0x41, p.READ_TEXT_PHOTO)   # found and selected, then the read fails
        sam.present(ZHANG)
        kind, reason = sink.next()
        assert kind == "error" and "read failed" in str(reason)
        assert sink.quiet(0.5)                   # reported once, not per poll
        sam.lift()
        sam.present(ZHANG)                       # the operator places the card again
        assert sink.next() == ("card", ZHANG)


def test_a_silent_port_is_a_fault_then_the_reader_recovers(tmp_path: Path) -> None:
    link = tmp_path / "ttyUSB-idcard"
    master, slave = os.openpty()
    tty.setraw(slave)
    link.symlink_to(os.ttyname(slave))   # a port where nothing answers
    sink = Sink()
    reader = sink.reader(str(link))
    reader.start()
    sim = SamSimulator()
    try:
        kind, reason = sink.next()
        assert kind == "fault" and "no answer" in str(reason) and str(link) in str(reason)
        link.unlink()
        link.symlink_to(sim.port)        # the real reader is plugged in
        assert sink.next() == ("recovered", None)
        sim.present(ZHANG)
        assert sink.next() == ("card", ZHANG)
    finally:
        reader.stop()
        sim.close()
        os.close(master)
        os.close(slave)


def test_station_with_a_sam_reader_registers_the_right_people(
        tmp_path: Path, broker: LocalBroker, scanner: ScannerSim, sam: SamSimulator,
        spawn: type[StationProcess]) -> None:
    config = write_config(tmp_path, broker.url, scanner.port, card_port=sam.port)
    watcher = Watcher(broker.url).start()
    station = spawn(config)
    station.wait_for("connected to")
    scanner.scan("T000001")
    permit = CardText("hmt_permit", "810000198503051236", "陈大文", "female", "1985-03-05")
    for card in (ZHANG, permit):
        sam.present(card)
        station.wait_for(r"accepted: ", times=1 if card is ZHANG else 2)
        sam.lift()
    assert watcher.wait_for(lambda w: len([e for e in w.events()
                                           if e["type"] in REGISTERED]) == 2)
    people = people_in(watcher.events())
    assert people == [
        {"id_type": "resident", "id_number": ZHANG.number, "name": "张三丰", "gender": "male",
         "birth": "1949-12-31"},
        {"id_type": "hmt_permit", "id_number": permit.number, "name": "陈大文",
         "gender": "female", "birth": "1985-03-05"},
    ]
    assert all(e["data"]["source"] == "card" for e in watcher.events()
               if e["type"] in REGISTERED)
    assert "张三丰" not in "\n".join(station.lines)   # the log shows 张*丰 only
    watcher.stop()
    station.stop()
    stored = b"".join(f.read_bytes() for f in (tmp_path / "data").glob("station.db*"))
    sent = json.dumps(watcher.events()).encode()
    for place in (stored, sent):                     # the photo went nowhere
        assert PHOTO[:20] not in place and PHOTO[:20].hex().encode() not in place
