"""`natest-central index` (central/reports/index_cli.py), as its timer runs it through
the day: each sealed person of the day opened once and indexed, the next run opening
only what came since, and `report coverage` then opening nothing; a standby, no --db
(the unit's drop-in not made), a key file that is not one and a person sealed to a key
not given each said. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from central.cli import main
from central.store.open import open_store
from contract.events import SampleRegistered, TubeSealed
from contract.sealed import keygen
from tests.central.test_document_index import DAY, morning, opened_count
from tests.central_keys import key_pair
from tests.lane_days import person, shanghai

PRIVATE = str(key_pair()[0])


def indexed(db: str) -> int:
    store = open_store(db)
    try:
        return store.count("document_index")
    finally:
        store.close()


def test_each_run_opens_what_came_since_and_coverage_then_opens_nothing(
        central_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    store = open_store(central_db)
    try:
        lane = morning(store)   # five people, sealed
    finally:
        store.close()
    opened = opened_count(monkeypatch)
    assert main(["index", "--db", central_db, "--private-key", PRIVATE, "--day", DAY]) == 0
    assert opened[0] == 5 and indexed(central_db) == 5
    said = capsys.readouterr().out
    assert "5 sealed persons opened, 5 indexed now; 5 documents sampled so far" in said
    assert person(1).id_number not in said and person(1).name not in said
    lane.add(SampleRegistered("T3", 1, "card", person(6), False), shanghai(DAY, 10))
    lane.add(TubeSealed("T3", 1, "operator"), shanghai(DAY, 10))
    store = open_store(central_db)
    try:
        lane.deliver(store)
    finally:
        store.close()
    assert main(["index", "--db", central_db, "--private-key", PRIVATE, "--day", DAY]) == 0
    assert opened[0] == 6 and indexed(central_db) == 6   # only the one that came since
    roster = tmp_path / "名单.csv"
    roster.write_text("身份证号,社区\n" + "".join(f"{person(n).id_number},光明社区\n"
                                              for n in range(1, 8)), encoding="utf-8")
    out = tmp_path / "coverage.csv"
    assert main(["report", "coverage", "--db", central_db, "--private-key", PRIVATE,
                 "--day", DAY, "--roster", str(roster), "--output", str(out),
                 "--columns", "en"]) == 0
    assert opened[0] == 6   # nothing opened by the report
    total = out.read_text(encoding="utf-8-sig").splitlines()[1].split(",")
    assert total[7:9] == ["7", "6"]   # 应检 7, 已检 6


def test_a_standby_a_wrong_key_and_a_key_not_given_are_said(
        central_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    store = open_store(central_db)
    try:
        morning(store)
    finally:
        store.close()
    assert main(["index", "--db", "", "--private-key", PRIVATE]) == 1   # the unit's unset
    assert "--db is empty" in capsys.readouterr().err
    not_a_key = tmp_path / "central.jwk"
    not_a_key.write_text("{}", encoding="utf-8")
    assert main(["index", "--db", central_db, "--private-key", str(not_a_key)]) == 1
    assert str(not_a_key) in capsys.readouterr().err and indexed(central_db) == 0
    other, _, _ = keygen(tmp_path / "other", "other-key")
    assert main(["index", "--db", central_db, "--private-key", str(other),
                 "--day", DAY]) == 3
    err = capsys.readouterr().err
    assert "index: 5 sealed persons not opened, left out of the index" in err
    assert "give the file of key" in err and "with --private-key" in err
    assert indexed(central_db) == 0
    store = open_store(central_db)
    store.close()
    monkeypatch.setattr(type(store), "writable", lambda self: False)
    assert main(["index", "--db", central_db, "--private-key", PRIVATE, "--day", DAY]) == 1
    assert "a standby, whose index cannot be written" in capsys.readouterr().err


def test_a_run_whose_index_another_key_set_took_meanwhile_says_so(
        central_db: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A report under other keys makes the index its own between this run's check and
    its first write (done here on a connection of its own, as that report would): the
    run keeps nothing, says why and fails, rather than claiming it indexed."""
    from central.reports import sampled as sampled_module  # noqa: PLC0415

    store = open_store(central_db)
    try:
        morning(store)
    finally:
        store.close()
    written = sampled_module._written

    def taken_first(*args: object) -> object:
        other = open_store(central_db)
        try:
            other.index_under("another key set's check")
        finally:
            other.close()
        return written(*args)   # type: ignore[arg-type]

    monkeypatch.setattr(sampled_module, "_written", taken_first)
    assert main(["index", "--db", central_db, "--private-key", PRIVATE, "--day", DAY]) == 1
    out, err = capsys.readouterr()
    assert "5 sealed persons opened, 0 indexed now" in out
    assert "the index is now another key set's" in err and indexed(central_db) == 0
