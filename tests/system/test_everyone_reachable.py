"""Everyone at the lane reachable and registrable (#38, its "Done means"), end to end on a
real mosquitto and central, SQLite and PostgreSQL: one lane asking for phones registers a
card-holder with a phone typed after the read, one without (asked, nothing recorded until
Enter skips it, a 10-digit phone refused meanwhile), a passport holder from a QR code and
one from the keyboard, a child under its guardian's card, in a tube that tests positive;
two paper cards (信息卡), completed at central by `import-forms`, one with an ID number
and one without (无证人员), each with its phone; two card-holders in a tube sealed and
then voided. Bad documents are refused between them, each said and nothing recorded.
`report positives --roster` lists each person of the positive tube with a phone and
where it came from (the lane's, the card's, the roster's, the guardian's: the child's,
whose guardian's roster row gives it nothing else); `report resample --roster` holds the
voided tube's people; a roster without its ID column, or read in the
wrong encoding, ends the report naming the file and the line with nothing written. Then
the lane's data folder, the broker's persistence file and central's database hold no
number, name, phone, birth date or address of anyone (the cards' people too), nor a
phone of the roster's."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from central.cli import main as central
from central.ingest.collector import Collector
from central.site_facts import ZONE, time_zone
from contract.events import Person
from drivers.sam.text import CardText
from station.core.messages import NumberTyped
from station.runner import Station
from tests.central.test_every_document import REFUSED, refused
from tests.central_keys import key_pair
from tests.conftest import eventually, in_process
from tests.lane_days import person
from tests.system.test_lane_phone import lane
from tests.system.test_sealed_bytes import (
    away_subscriber,
    document_holder,
    files_under,
    leaks,
    pg_dump,
    registered,
    secrets_of,
)
from tools.broker import LocalBroker

pytestmark = pytest.mark.broker
PHONED, UNPHONED, VOID_PHONED, VOID_UNPHONED, REQUIRED = (person(n) for n in range(401, 406))
QR_PASSPORT, CHILD = document_holder(300), document_holder(302)   # each with a phone
TYPED_PASSPORT = Person("passport", "G00000301", "", "unknown", "")   # no phone at the lane
# The paper cards' people as typed from them: an ID number, and none (its serial stays).
CARD, NO_NUMBER = person(406), Person("other", "", "无证人", "unknown", "", phone="13822220407")
# What only the roster holds: the phones of those the lane recorded without one.
ROSTER_PHONE = {UNPHONED.id_number: "13822220402", TYPED_PASSPORT.id_number: "13822220301",
                VOID_UNPHONED.id_number: "13822220404"}
# The roster's row of the number the child was registered under: its guardian's.
GUARDIANS_PHONE, GUARDIANS_ADDRESS = "13822229998", "和平小区302号楼"
ROSTER_HEADER = ["序号", "姓名", "证件类型", "证件号码", "联系电话", "现住址", "楼栋", "户"]


def card_with_phone(station: Station, someone: Person, phone: str | None) -> None:
    """A card read, asked for its phone with nothing recorded, then the phone typed (or
    Enter alone: None), with a phone of 10 digits refused first for the one without; on a
    lane requiring phones, Enter alone is refused first."""
    card = station.devices.card_sim
    assert card is not None
    before = station.store.last_seq
    card.present(CardText("resident", someone.id_number, someone.name, someone.gender,
                          someone.birth, address=someone.card_address))
    assert eventually(lambda: station.state.held is not None)
    card.lift()
    assert eventually(lambda: (station.view()["last"] or {}).get("pattern") == "asking")
    assert station.store.last_seq == before
    if phone is None:
        refused(station, NumberTyped(someone.phone[:10]), "bad_phone")
        assert station.state.held is not None   # still waiting for its phone
    if station.config.station.phone == "require":
        refused(station, NumberTyped(""), "phone_wanted")
    station.events.put(NumberTyped(phone or ""))


def lane_day(tmp_path: Path, broker: LocalBroker, db: str) -> None:
    """The lanes' day into `db`, every step committed before the next: one asking for
    phones, one requiring them."""
    collector = Collector(broker.url, db).start()
    assert collector.subscribed.wait(10)
    with in_process(lane(tmp_path, broker.url, "lane-req", "require")) as station:
        assert station.devices.scanner_sim is not None
        station.devices.scanner_sim.scan("T000003")   # left open: its person is recorded
        assert eventually(lambda: station.accepted == 1)
        card_with_phone(station, REQUIRED, REQUIRED.phone)
        assert eventually(lambda: station.accepted == 2)
        done = station.store.last_seq
    with in_process(lane(tmp_path, broker.url, "lane-ask", "ask")) as station:
        scanner = station.devices.scanner_sim
        assert scanner is not None
        steps = 0

        def then(do: Callable[..., None], *args: object) -> None:
            nonlocal steps
            do(*args)
            steps += 1
            assert eventually(lambda: station.accepted >= steps), (steps, do)

        then(scanner.scan, "T000001")
        then(card_with_phone, station, PHONED, PHONED.phone)
        then(card_with_phone, station, UNPHONED, None)
        then(registered, station, QR_PASSPORT)
        for bad, reason in REFUSED:   # lowercase, punctuation, a permit's wrong form
            refused(station, bad, reason)
        then(station.events.put, NumberTyped(TYPED_PASSPORT.id_number, "passport"))
        then(registered, station, CHILD)
        then(scanner.scan, "FORM-000001")
        then(scanner.scan, "FORM-000002")
        then(scanner.scan, "CMD:SEAL")
        then(scanner.scan, "T000002")
        then(card_with_phone, station, VOID_PHONED, VOID_PHONED.phone)
        then(card_with_phone, station, VOID_UNPHONED, None)
        then(scanner.scan, "CMD:SEAL")
        then(scanner.scan, "CMD:VOID")   # the sealed tube voided: both to come again
        done += station.store.last_seq
    assert eventually(lambda: collector.stored == done)
    collector.stop()


def cards(tmp_path: Path, db: str) -> None:
    """The paper cards' data typed at central and imported sealed."""
    typed = tmp_path / "cards.csv"
    typed.write_text("serial,id_number,name,phone\n"
                     f"FORM-000001,{CARD.id_number},{CARD.name},{CARD.phone}\n"
                     f"FORM-000002,,{NO_NUMBER.name},{NO_NUMBER.phone}\n", encoding="utf-8")
    assert central(["import-forms", str(typed), "--db", db, "--seal-to",
                    str(key_pair()[1])]) == 0


def roster(path: Path) -> Path:
    """The community's list, GBK as Excel saves a CSV: the lane's phoneless with phones,
    the phoned with another (the lane's is kept), the passport holder by its document,
    the card's person with another phone (the card's is kept), and the child's guardian
    (by the number the child was registered under) with its phone and address."""
    rows = [[str(n), p.name or "G先生", "护照" if p.id_type == "passport" else "居民身份证",
             p.id_number, ROSTER_PHONE.get(p.id_number, "13822229999"), "", f"{n}栋", f"{n}01"]
            for n, p in enumerate((PHONED, UNPHONED, TYPED_PASSPORT, VOID_UNPHONED, CARD), 1)]
    rows.append(["6", "王大", "居民身份证", CHILD.id_number, GUARDIANS_PHONE, GUARDIANS_ADDRESS,
                 "6栋", "601"])
    text = io.StringIO()
    csv.writer(text).writerows([ROSTER_HEADER, *rows])
    path.write_bytes(text.getvalue().encode("gbk"))
    return path


def report(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, str]]:
    capsys.readouterr()
    assert central(["report", *args, "--columns", "en", "--no-mark", "--private-key",
                    str(key_pair()[0])]) == 0, capsys.readouterr().err
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))


def positive(tmp_path: Path, db: str) -> None:
    """The lab's result: T000001 and T000003 (the requiring lane's open tube) positive."""
    now = dt.datetime.now(time_zone(ZONE)).strftime("%Y-%m-%d %H:%M")
    lis = tmp_path / "lis.csv"
    lis.write_text(f"tube,result,lab,tested_at\nT000001,阳性,市一院,{now}\n"
                   f"T000003,阳性,市一院,{now}\n", encoding="utf-8")
    assert central(["import-results", str(lis), "--db", db]) == 0


def calls(capsys: pytest.CaptureFixture[str], db: str, listed: Path) -> None:
    """Each of the positive tube with a phone, the voided tube's people to come again."""
    rows = report(capsys, "positives", "--db", db, "--roster", str(listed))
    assert [(r["id_type"], r["id_number"], r["name"], r["phone"], r["phone_source"],
             r["filled"]) for r in rows if r["tube"] == "T000001"] == [
        ("resident", PHONED.id_number, PHONED.name, PHONED.phone, "lane", ""),   # not the roster's
        ("resident", UNPHONED.id_number, UNPHONED.name, ROSTER_PHONE[UNPHONED.id_number],
         "roster", "phone"),
        ("passport", QR_PASSPORT.id_number, QR_PASSPORT.name, QR_PASSPORT.phone, "lane", ""),
        ("passport", TYPED_PASSPORT.id_number, "G先生", ROSTER_PHONE[TYPED_PASSPORT.id_number],
         "roster", "name phone"),
        ("guardian", CHILD.id_number, CHILD.name, CHILD.phone, "guardian", ""),
        ("resident", CARD.id_number, CARD.name, CARD.phone, "form", ""),
        ("other", "FORM-000002", NO_NUMBER.name, NO_NUMBER.phone, "form", "")]
    (child,) = [r for r in rows if r["id_type"] == "guardian"]   # nothing of its guardian's
    assert (child["address"], child["building"], child["household"]) == ("", "", "")
    assert [(r["station"], r["id_number"], r["phone"]) for r in rows if r["tube"] == "T000003"
            ] == [("lane-req", REQUIRED.id_number, REQUIRED.phone)]
    again = report(capsys, "resample", "--db", db, "--roster", str(listed))
    assert [(r["reason"], r["tube"], r["id_number"], r["phone"], r["filled"])
            for r in again] == [
        ("voided", "T000002", VOID_PHONED.id_number, VOID_PHONED.phone, ""),
        ("voided", "T000002", VOID_UNPHONED.id_number, ROSTER_PHONE[VOID_UNPHONED.id_number],
         "phone")]


def bad_rosters(capsys: pytest.CaptureFixture[str], db: str, listed: Path) -> None:
    """A roster without its ID numbers' column, and one read in the wrong encoding: each
    ends the report naming the file and the line, and no list is written."""
    headless = listed.with_name("no-id.csv")
    headless.write_bytes(b"\n".join(b",".join(line.split(b",")[:3] + line.split(b",")[4:])
                                    for line in listed.read_bytes().splitlines()))
    output = listed.with_name("calls.csv")
    for args, said in (
            (["--roster", str(headless)], f"{headless}: lines 1-7: no column of ID numbers"),
            (["--roster", str(listed), "--encoding", "utf-8"],
             f"{listed}: line 1: not utf-8 text")):
        capsys.readouterr()
        assert central(["report", "positives", "--db", db, "--no-mark", "--output",
                        str(output), "--private-key", str(key_pair()[0]), *args]) == 1
        err = capsys.readouterr().err
        assert said in err, err
        assert not output.exists()
        assert ROSTER_PHONE[UNPHONED.id_number] not in err


def central_files(tmp_path: Path, db: str) -> dict[str, bytes]:
    """Central's database as a thief would copy it: the SQLite file with its WAL, or a
    pg_dump of the PostgreSQL database."""
    if db.endswith("central.db"):
        return {p.name: p.read_bytes() for p in files_under(tmp_path)
                if p.name.startswith("central.db")}
    return {"pg_dump": pg_dump(db)}


def test_everyone_registered_reaches_the_call_lists_and_nothing_personal_is_stored(
        tmp_path: Path, central_db: str, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with LocalBroker(persistent=True) as broker:
        away_subscriber(broker)
        lane_day(tmp_path, broker, central_db)
        broker.stop()   # mosquitto writes its persistence file as it stops
        copied = (broker.dir / "mosquitto.db").read_bytes()
    cards(tmp_path, central_db)
    positive(tmp_path, central_db)
    listed = roster(tmp_path / "名单.csv")
    calls(capsys, central_db, listed)
    bad_rosters(capsys, central_db, listed)

    people = [PHONED, UNPHONED, QR_PASSPORT, TYPED_PASSPORT, CHILD, VOID_PHONED,
              VOID_UNPHONED, REQUIRED, CARD, NO_NUMBER]
    secrets = secrets_of(people)
    secrets.update({phone.encode(): "roster phone" for phone in ROSTER_PHONE.values()})
    secrets.update({GUARDIANS_PHONE.encode(): "roster phone",
                    GUARDIANS_ADDRESS.encode(): "roster address"})
    lanes = [p for p in files_under(tmp_path) if "data" in p.parts]   # both lanes' folders
    assert {p.name for p in lanes} >= {"station.db"} and len({p.parent for p in lanes}) >= 2
    found = {str(p): leaks(p.read_bytes(), secrets) for p in lanes}
    found["mosquitto.db"] = leaks(copied, secrets)
    found |= {name: leaks(blob, secrets) for name, blob in central_files(tmp_path,
                                                                          central_db).items()}
    found["log"] = leaks(caplog.text.encode(), secrets)
    assert {where: what for where, what in found.items() if what} == {}
    assert len(found) > 3 and b"sample.registered.encrypted" in copied   # it searched
