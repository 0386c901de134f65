"""The same lane day, sealed and not: the register, the missing list and the recall list
opened with central's key equal the ones made from plain events, field by field, on
SQLite and a real PostgreSQL (#28)."""

from __future__ import annotations

import base64
import csv
import io
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from central.cli import main
from central.errors import NOT_OPENED
from central.reports import opening_pool
from central.store.open import open_store
from contract.sealed import keygen, read_keys
from station.sealing import Sealer
from tests.central_keys import key_pair
from tests.lane_days import Lane, person, shanghai
from tests.people import nth_person

TODAY = "2026-12-04"
KEY = ["--private-key", str(key_pair()[0])]


def lane_day(target: str, sealer: Sealer | None) -> None:
    """Two lanes: a pooled tube with an undo, a single tube, a voided one, a box."""
    store = open_store(target)
    a, b = Lane("s1", "a", sealer=sealer), Lane("s2", "b", operator="S2002", sealer=sealer)
    at = a.tube("P1", [person(n) for n in range(1, 6)], shanghai(TODAY, 8), undo=2)
    at = a.tube("S1", [person(6)], at)
    a.tube("V1", [person(7)], at, void=True)
    a.box("B1", {"P1": 4, "S1": 1}, shanghai(TODAY, 10), courier="C01")
    b.tube("I1", [person(n) for n in (8, 9, 10)], shanghai(TODAY, 8, 30))
    for lane in (a, b):
        lane.deliver(store, shanghai(TODAY, 16, 30))
    store.close()


def rows(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, str]]:
    capsys.readouterr()
    assert main(list(args)) == 0, capsys.readouterr().err
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))


@pytest.fixture(params=["sqlite", "postgresql"])
def targets(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(plain, sealed): the same day written twice."""
    if request.param == "sqlite":
        found = (str(tmp_path / "plain.db"), str(tmp_path / "sealed.db"))
    else:   # a second database beside the test's own, in the run's PostgreSQL
        import psycopg  # noqa: PLC0415 - the central extra

        cluster, first = request.getfixturevalue("pg_cluster"), request.getfixturevalue("pg_db")
        second = first.rsplit("/", 1)[1] + "_sealed"
        with psycopg.connect(cluster, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {second}".encode())
        found = (first, cluster.rsplit("/", 1)[0] + f"/{second}")
    lane_day(found[0], None)
    lane_day(found[1], Sealer(read_keys(key_pair()[1], private=False)[0]))
    return found


def test_reports_opened_with_the_key_equal_the_plain_ones(
        targets: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain, sealed = targets
    roster = tmp_path / "roster.csv"
    roster.write_text("id_number,name\n" + "".join(f"{nth_person(n)},测试{n}\n"
                                                   for n in range(1, 13)), encoding="utf-8")
    results = tmp_path / "lis.csv"
    results.write_text("试管编号,检测结果,检测机构,检测时间\nP1,阳性,市一院,2026-12-04 14:00\n"
                       "S1,阴性,市一院,2026-12-04 14:01\nI1,阴性,市一院,2026-12-04 14:02\n",
                       encoding="utf-8-sig")
    for target in (plain, sealed):
        assert main(["import-results", str(results), "--db", target]) == 0
    for report in (["register", "--columns", "en"], ["register"],
                   ["missing", "--roster", str(roster)],
                   ["positives", "--columns", "en"], ["results", "--columns", "en"]):
        common = ["report", *report, "--day", TODAY]
        expected = rows(capsys, *common, "--db", plain)
        opened = rows(capsys, *common, "--db", sealed, *KEY)
        assert opened == expected and expected, report
    register = rows(capsys, "report", "register", "--columns", "en", "--day", TODAY,
                    "--db", sealed, *KEY)
    assert {r["id_number"] for r in register} >= {nth_person(1), nth_person(10)}
    assert {r["name"] for r in register} >= {"测试1", "测试10"}


def changed_byte(token: str) -> str:
    return token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")


def hostile_header(token: str) -> str:
    """A protected header nesting 2,000 brackets, within the schema's 8,192 characters:
    json.loads raises RecursionError on it (#39)."""
    deep = base64.urlsafe_b64encode(b"[" * 2000 + b"]" * 2000).decode().rstrip("=")
    return ".".join((deep, *token.split(".")[1:]))


SAID: dict[Callable[[str], str], str] = {changed_byte: "changed or damaged",
                                         hostile_header: "not a JWE"}


@pytest.mark.parametrize("damage", list(SAID))
@pytest.mark.parametrize("in_workers", [True, False])
def test_a_person_that_does_not_open_is_named_and_marked_in_the_register(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        in_workers: bool, damage: Callable[[str], str]) -> None:
    """Opened in worker processes (central/reports/opening_pool.py, as a large report does) or in
    the report's own (a small one), one sealed person damaged (a changed byte, a hostile
    header): the register is written, that row says 未能解密, stderr names the event, the
    status is 1; every other row is whole."""
    if in_workers:
        monkeypatch.setattr(opening_pool, "FIRST_IN_PROCESS", 0)
        monkeypatch.setattr(opening_pool, "WHILE_WORKERS_START", False)
    target = str(tmp_path / "sealed.db")
    lane_day(target, Sealer(read_keys(key_pair()[1], private=False)[0]))
    with sqlite3.connect(target) as conn:
        (event_id, payload) = conn.execute(
            "SELECT id, payload FROM events WHERE type = 'sample.registered.encrypted' "
            "ORDER BY seq LIMIT 1").fetchone()
        body = json.loads(payload)
        token = body["data"]["person_jwe"]
        body["data"]["person_jwe"] = damage(token)
        assert len(body["data"]["person_jwe"]) <= 8192   # what the contract lets through
        conn.execute("UPDATE events SET payload = ? WHERE id = ?",
                     [json.dumps(body, ensure_ascii=False), event_id])
    capsys.readouterr()
    assert main(["report", "register", "--columns", "en", "--day", TODAY, "--db", target,
                 *KEY]) == 1
    out, err = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out.lstrip("\ufeff"))))
    assert [r["name"] for r in rows].count("（未能解密）") == 1
    assert sum(r["name"].startswith("测试") for r in rows) == len(rows) - 1
    assert event_id in err and SAID[damage] in err


def two_keys_day(target: str, tmp_path: Path) -> None:
    """Lane a sealed to central's key, lane b (three people, no box) to another central's:
    a trial key, a retired one, that the report is not given."""
    other = keygen(tmp_path / "other-keys", "another-central")[1]
    store = open_store(target)
    a = Lane("s1", "a", sealer=Sealer(read_keys(key_pair()[1], private=False)[0]))
    b = Lane("s2", "b", operator="S2002", sealer=Sealer(read_keys(other, private=False)[0]))
    a.tube("P1", [person(n) for n in range(1, 6)], shanghai(TODAY, 8))
    a.box("B1", {"P1": 5}, shanghai(TODAY, 10), courier="C01")
    b.tube("I1", [person(n) for n in (8, 9, 10)], shanghai(TODAY, 8, 30))
    for lane in (a, b):
        lane.deliver(store, shanghai(TODAY, 16, 30))
    store.close()


@pytest.mark.parametrize("in_workers", [True, False])
def test_persons_sealed_to_a_key_not_given_are_counted_once_and_the_rest_listed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        in_workers: bool) -> None:
    """The register meets three persons sealed to a key it was not given: it lists the
    other five whole and those three as 未能解密, says so in one line naming the key and
    the first of them, and exits NOT_OPENED (3), not FAILED: a script tells "give the
    other key" from a person changed or damaged. The box of lane a alone, none of lane
    b's people in it, is whole."""
    if in_workers:
        monkeypatch.setattr(opening_pool, "FIRST_IN_PROCESS", 0)
        monkeypatch.setattr(opening_pool, "WHILE_WORKERS_START", False)
    target = str(tmp_path / "two-keys.db")
    two_keys_day(target, tmp_path)
    capsys.readouterr()
    assert main(["report", "register", "--columns", "en", "--day", TODAY, "--db", target,
                 *KEY]) == NOT_OPENED == 3
    out, err = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out.lstrip("\ufeff"))))
    assert sorted(r["name"] for r in rows if r["station"] == "a") == [
        f"测试{n}" for n in range(1, 6)]
    assert [r["name"] for r in rows if r["station"] == "b"] == ["（未能解密）"] * 3
    said = [line for line in err.splitlines() if "not opened" in line]
    assert said == [line for line in said if line.startswith(
        "report register: 3 sealed persons not opened, their rows say 未能解密 (the first: "
        "s2/b seq ")] and len(said) == 1, err
    assert "sealed to key 'another-central'" in said[0] and "--private-key" in said[0]
    assert main(["report", "register", "--columns", "en", "--day", TODAY, "--db", target,
                 "--box", "B1", *KEY]) == NOT_OPENED
    out, err = capsys.readouterr()
    assert sorted(r["name"] for r in csv.DictReader(io.StringIO(out.lstrip("\ufeff")))) == [
        f"测试{n}" for n in range(1, 6)]


def test_a_recall_list_with_persons_not_opened_marks_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    """Lane b's pool is positive and its three are sealed to a key not given: the list
    cannot call them, so no result is marked and natest_recall_waiting keeps counting
    it; given the other key too, the list is whole and marks both."""
    target = str(tmp_path / "two-keys.db")
    two_keys_day(target, tmp_path)
    results = tmp_path / "lis.csv"
    results.write_text("试管编号,检测结果,检测机构,检测时间\nP1,阳性,市一院,2026-12-04 14:00\n"
                       "I1,阳性,市一院,2026-12-04 14:02\n", encoding="utf-8-sig")
    assert main(["import-results", str(results), "--db", target]) == 0
    capsys.readouterr()
    assert main(["report", "positives", "--columns", "en", "--day", TODAY, "--db", target,
                 *KEY]) == NOT_OPENED
    assert "marked none of the 2 results as recalled: 3 persons on the list were not " \
           "opened (未能解密)" in caplog.text, caplog.text
    store = open_store(target)
    try:
        assert sorted(result for result, _ in store.awaiting_recall()) == ["positive"] * 2
    finally:
        store.close()
    both = ["--private-key", str(tmp_path / "other-keys" / "another-central.jwk")]
    assert main(["report", "positives", "--columns", "en", "--day", TODAY, "--db", target,
                 *KEY, *both]) == 0, capsys.readouterr().err
    assert "marked 2 results as listed" in caplog.text
    store = open_store(target)
    try:
        assert store.awaiting_recall() == []
    finally:
        store.close()


def test_the_old_key_option_still_opens_and_says_its_new_name(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--key-file` was the report's name for central's private key, and is collect's for
    its TLS key: a report still takes it, says on stderr to use --private-key, and makes
    the same report."""
    target = str(tmp_path / "sealed.db")
    lane_day(target, Sealer(read_keys(key_pair()[1], private=False)[0]))
    register = ["report", "register", "--columns", "en", "--day", TODAY, "--db", target]
    made = {}
    for option in ("--private-key", "--key-file"):
        capsys.readouterr()
        assert main([*register, option, str(key_pair()[0])]) == 0
        made[option] = capsys.readouterr()
    assert made["--key-file"].out == made["--private-key"].out and "测试1" in made[
        "--key-file"].out
    assert ("report register: --key-file is deprecated here: give central's private key "
            "with --private-key (--key-file stays collect's TLS key)\n") in made[
        "--key-file"].err
    assert "deprecated" not in made["--private-key"].err
