"""Reports from a collected station session: register, totals, reconcile, missing."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
from pathlib import Path

import pytest
from openpyxl import load_workbook

from central.cli import main
from central.ingest.collector import Collector
from central.reports.projection import TypedCard, project
from central.reports.rows import reconcile
from contract.events import Event, decode_event
from station.core.identity import synthetic_id
from tests.central_keys import key_pair
from tests.conftest import eventually, in_process, write_config
from tests.office import csv_cells, libreoffice_rows, needs_libreoffice, table_in
from tests.people import nth_person
from tools.broker import LocalBroker

KEY = ["--private-key", str(key_pair()[0])]   # central's: the stations seal their persons


def read_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")      # BOM: a spreadsheet reads it as UTF-8
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


@pytest.fixture
def collected(tmp_path: Path, broker: LocalBroker) -> Path:
    """A session: tube 1 full (3), tube 2 with an undo, tube 3 voided, then a box."""
    db = tmp_path / "central.db"
    collector = Collector(broker.url, db).start()
    assert collector.subscribed.wait(10)
    people = [json.dumps({"id": nth_person(n), "name": f"测试{n}"}, ensure_ascii=False)
              for n in range(1, 8)]
    codes = ["T000001", *people[:3], "T000002", people[3], people[4], "CMD:UNDO", "CMD:SEAL",
             "T000003", people[5], "CMD:VOID", "CMD:BOX"]
    with in_process(write_config(tmp_path, broker.url, pool_size=3)) as station:
        sim = station.devices.scanner_sim
        assert sim is not None
        for code in codes:
            sim.scan(code)
        assert eventually(lambda: station.accepted == len(codes))
        assert eventually(lambda: collector.stored == station.store.last_seq)
    collector.stop()
    return db


def test_register_has_one_row_per_registration_with_its_status(
        collected: Path, tmp_path: Path) -> None:
    out = tmp_path / "register.csv"
    assert main(["report", "register", *KEY, "--columns", "en", "--db", str(collected),
                 "--output", str(out)]) == 0
    rows = read_csv(out)
    assert [(r["tube"], r["position"], r["status"]) for r in rows] == [
        ("T000001", "1", "registered"), ("T000001", "2", "registered"),
        ("T000001", "3", "registered"), ("T000002", "1", "registered"),
        ("T000002", "2", "cancelled"), ("T000003", "1", "voided")]
    assert rows[0]["name"] == "测试1" and rows[0]["id_number"] == nth_person(1)
    assert {r["box"] for r in rows if r["tube"] in ("T000001", "T000002")} == {"0107B00001"}
    assert out.stat().st_mode & 0o077 == 0


def test_register_as_xlsx_keeps_id_numbers_as_text(collected: Path, tmp_path: Path) -> None:
    out = tmp_path / "register.xlsx"
    assert main(["report", "register", *KEY, "--columns", "en", "--db", str(collected),
                 "--format", "xlsx", "--output", str(out)]) == 0
    sheet = load_workbook(out).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("site", "station", "box", "tube") and len(rows) == 7
    assert rows[1][7] == nth_person(1) and rows[1][8] == "测试1"   # text, not a number
    assert rows[1][3:5] == ("T000001", 1)    # the tube's id text, its position a number
    assert out.stat().st_mode & 0o077 == 0


def test_missing_lists_exactly_the_unsampled_roster_entries(
        collected: Path, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("id_number,name,address\n" + "".join(
        f"{nth_person(n)},测试{n},某街{n}号\n" for n in range(1, 9)), encoding="utf-8")
    out = tmp_path / "missing.csv"
    assert main(["report", "missing", *KEY, "--db", str(collected), "--roster", str(roster),
                 "--output", str(out)]) == 0
    # 5 was cancelled, 6 was in the voided tube, 7 and 8 never came.
    rows = read_csv(out)
    assert [r["姓名"] for r in rows] == ["测试5", "测试6", "测试7", "测试8"]
    assert list(rows[0]) == ["证件号码", "姓名", "地址", "名单有误"]
    assert {r["名单有误"] for r in rows} == {""}
    # A roster in Chinese, and the machine form with the roster's own columns.
    roster.write_text("证件号码,姓名\n" + "".join(f"{nth_person(n)},测试{n}\n"
                                                  for n in (1, 7)), encoding="utf-8")
    assert main(["report", "missing", *KEY, "--columns", "en", "--db", str(collected),
                 "--roster", str(roster), "--output", str(out)]) == 0
    assert read_csv(out) == [{"证件号码": nth_person(7), "姓名": "测试7", "roster_problem": ""}]


def test_reconcile_and_totals(collected: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "reconcile", "--columns", "en", "--db", str(collected)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))
    assert rows == [{"site": "test-site", "station": "lane-07", "what": "box 0107B00001",
                     "tubes": "2", "samples": "4", "register_samples": "4",
                     "forms": "0", "forms_awaiting": "0", "result": "matches"}]
    assert main(["report", "totals", "--columns", "en", "--db", str(collected)]) == 0
    hour, site, total = list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip(
        "\ufeff"))))
    assert [hour["level"], site["level"], total["level"]] == ["hour", "site", "day"]
    for row in (hour, site, total):
        assert (row["people"], row["tubes"], row["boxes"]) == ("4", "2", "1")
    assert (total["people_to_date"], total["tubes_to_date"]) == ("4", "2")


def test_reconcile_flags_a_box_that_does_not_match(collected: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(collected) as conn:   # a box event that lies about its count
        (payload,) = conn.execute("SELECT payload FROM events WHERE type = 'box.closed'"
                                  ).fetchone()
        forged = json.loads(payload)
        forged["data"]["sample_count"] = 5
        conn.execute("UPDATE events SET payload = ? WHERE type = 'box.closed'",
                     [json.dumps(forged)])
    assert main(["report", "reconcile", "--columns", "en", "--db", str(collected)]) == 0
    assert "sample_count 5 but 4 in the register" in capsys.readouterr().out


def test_missing_needs_a_roster_and_says_so(collected: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "missing", *KEY, "--db", str(collected)]) == 1
    assert "needs --roster" in capsys.readouterr().err


def test_a_tube_or_box_id_from_two_stations_is_flagged(caplog: pytest.LogCaptureFixture) -> None:
    """Two lanes minting from one prefix (or a duplicated preprinted batch): the lab would
    link one tube barcode to two groups of people. Reconcile says so, and so does the log."""
    def event(station: str, seq: int, type_: str, data: dict[str, object]) -> dict[str, object]:
        return {"v": 1, "id": f"{station}-{seq}", "site": f"site-{station}",
                "station": "lane-01", "seq": seq, "session": 1, "clock_synced": True,
                "ts": "2026-11-22T08:00:00.000Z", "type": type_, "data": data}

    events = [event(s, 1, "tube.opened", {"tube": "110101000001", "pool_size": 1})
              for s in ("a", "b")]
    events += [event("a", 2, "tube.opened", {"tube": "110101000002", "pool_size": 1})]
    events += [event(s, 3, "box.closed", {"box": "110101B00001", "tubes": ["110101000001"],
                                          "tube_count": 1, "sample_count": 0})
               for s in ("a", "b")]
    rows = [r for r in reconcile(project(map(typed, events)))
            if r["result"].startswith("collision")]
    assert [(r["what"], r["site"], r["result"]) for r in rows] == [
        ("box 110101B00001", "site-a; site-b", "collision: the same box id from 2 stations"),
        ("tube 110101000001", "site-a; site-b", "collision: the same tube id from 2 stations")]
    logged = [r.getMessage() for r in caplog.records if r.name == "central.reports"]
    assert logged == [
        "box id 110101B00001 arrived from 2 stations: site-a/lane-01, site-b/lane-01",
        "tube id 110101000001 arrived from 2 stations: site-a/lane-01, site-b/lane-01"]


@pytest.mark.parametrize(("number", "id_type", "gender"), [
    (synthetic_id("810000", "19800101", 13), "hmt_permit", "male"),     # Hong Kong
    (synthetic_id("830000", "19800101", 24), "hmt_permit", "female"),   # Taiwan
    (synthetic_id("110105", "19800101", 35), "resident", "male")])
def test_a_paper_card_is_typed_from_its_number_as_a_card_would_be(
        number: str, id_type: str, gender: str) -> None:
    placeholder = {"id_type": "other", "id_number": "FORM-1", "name": "", "gender": "unknown",
                   "birth": ""}
    event = {"v": 1, "id": "e-1", "site": "s", "station": "l", "seq": 1, "session": 1,
             "clock_synced": True, "ts": "2026-11-22T08:00:00.000Z", "type": "sample.registered",
             "data": {"tube": "T000001", "position": 1, "source": "form", "form": "FORM-1",
                      "repeat_today": False, "person": placeholder}}
    (reg,) = project([typed(event)], forms={"FORM-1": TypedCard(number, "卡上人")}).registrations
    assert (reg.id_number, reg.id_type, reg.gender) == (number, id_type, gender)


def typed(event: dict[str, object]) -> Event:
    return decode_event(json.dumps(event))


# --- as a district office reads them: Chinese, local time ----------------------------

REGISTER_ZH = ["采样点", "采样台", "转运箱", "试管编号", "管内序号", "本管人数", "封管时间",
               "采样时间", "证件类型", "证件号码", "姓名", "性别", "电话", "来源", "信息卡编号",
               "状态", "登记人", "时间来源"]


def shanghai(ts: str) -> str:
    moment = dt.datetime.fromisoformat(ts.replace("Z", "+00:00")) + dt.timedelta(hours=8)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def test_the_register_in_chinese_is_grouped_by_tube_in_local_time(
        collected: Path, tmp_path: Path) -> None:
    zh, en = tmp_path / "登记表.csv", tmp_path / "register.csv"
    assert main(["report", "register", *KEY, "--db", str(collected), "--output", str(zh)]) == 0
    assert main(["report", "register", *KEY, "--columns", "en", "--db", str(collected),
                 "--output", str(en)]) == 0
    rows, machine = read_csv(zh), read_csv(en)
    assert list(rows[0]) == REGISTER_ZH
    columns = ("转运箱", "试管编号", "管内序号", "本管人数", "状态")
    assert [tuple(r[c] for c in columns) for r in rows] == [
        ("0107B00001", "T000001", "1", "3", "有效"), ("0107B00001", "T000001", "2", "3", "有效"),
        ("0107B00001", "T000001", "3", "3", "有效"), ("0107B00001", "T000002", "1", "1", "有效"),
        ("0107B00001", "T000002", "2", "1", "已撤销"), ("", "T000003", "1", "0", "已作废")]
    for row, raw in zip(rows, machine, strict=True):   # same people, same order here
        assert row["采样时间"] == shanghai(raw["time"]) and row["姓名"] == raw["name"]
        assert row["证件号码"] == raw["id_number"] and row["来源"] == "扫码"
        assert row["证件类型"] == "居民身份证" and row["性别"] in ("男", "女")
    assert rows[0]["封管时间"] >= rows[0]["采样时间"] and rows[-1]["封管时间"] == ""
    assert main(["report", "register", *KEY, "--site", "another-site", "--db", str(collected),
                 "--output", str(zh)]) == 0
    assert read_csv(zh) == []


def test_totals_and_reconcile_in_chinese(collected: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "totals", "--db", str(collected)]) == 0
    hourly, _, total = csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff")))
    assert (total["层级"], total["采样人数"], total["封管数"], total["转运箱数"]) == (
        "当日合计", "4", "2", "1")
    hour = dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)
    assert hourly["时段"] in (hour.strftime("%Y-%m-%d %H:00"),
                              (hour - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:00"))
    assert main(["report", "reconcile", "--db", str(collected)]) == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff")))
    assert (row["核对项"], row["结果"], row["登记人数"]) == ("转运箱 0107B00001", "一致", "4")


def test_an_unknown_time_zone_is_named(collected: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "totals", "--db", str(collected), "--tz", "Mars/Olympus"]) == 1
    assert "Mars/Olympus" in capsys.readouterr().err


@needs_libreoffice
def test_libreoffice_reads_the_chinese_register_as_written(collected: Path,
                                                          tmp_path: Path) -> None:
    """A spreadsheet nobody here wrote opens the xlsx: every row, Chinese headers, local
    times and ID numbers as text (a number would lose its last digits or its X)."""
    book, expected = tmp_path / "register.xlsx", tmp_path / "register.csv"
    assert main(["report", "register", *KEY, "--db", str(collected), "--format", "xlsx",
                 "--output", str(book)]) == 0
    assert main(["report", "register", *KEY, "--db", str(collected),
                 "--output", str(expected)]) == 0
    seen = table_in(libreoffice_rows(book, tmp_path), "采样点")
    assert seen[0] == REGISTER_ZH and len(seen) == 7
    assert seen == csv_cells(expected)


def test_a_report_of_people_needs_centrals_key_and_one_of_counts_does_not(
        collected: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The stations sealed their persons: the register without --private-key ends with the
    reason and leaves no half-written file; totals count them without opening any."""
    out = tmp_path / "register.csv"
    assert main(["report", "register", "--db", str(collected), "--output", str(out)]) == 1
    assert "give --private-key" in capsys.readouterr().err and not out.exists()
    assert main(["report", "totals", "--columns", "en", "--db", str(collected)]) == 0
    *_, total = csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff")))
    assert (total["people"], total["tubes"]) == ("4", "2")   # as opened (the test above)
    # Given the key, a count still opens nobody: a person that would not open says nothing.
    with sqlite3.connect(collected) as conn:
        conn.execute("UPDATE events SET payload = replace(payload, '\"person_jwe\":\"ey', "
                     "'\"person_jwe\":\"xx') WHERE type = 'sample.registered.encrypted'")
    assert main(["report", "totals", "--columns", "en", "--db", str(collected), *KEY]) == 0
    assert "not opened" not in capsys.readouterr().err
