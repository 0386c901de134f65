"""From a positive pool to a confirmed person (#40), end to end on mosquitto, SQLite and a
real PostgreSQL: pools of 10 at two lanes, persons sealed as lanes seal them, published
through the broker to a collector; pool A positive and pool B invalid; their people
sampled singly at a third lane over the next hours (1 never comes, 2 positive, 13
invalid, 12 still without a result, the rest negative; 11 sampled singly before B's
result, which is not a retest, and again after). `report followup` gives each their
status, flags the one who never came, and its figures (promtool reads them) say so until
they come. A single result for a tube never registered is refused, nothing stored."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from central.cli import main
from central.ingest.collector import Collector
from central.store.open import open_store
from contract.sealed import read_keys
from station.sealing import Sealer
from tests.central.test_mqtt import publisher
from tests.central_keys import key_pair
from tests.conftest import eventually
from tests.lane_days import Lane, person, shanghai
from tools.broker import LocalBroker

pytestmark = pytest.mark.broker
TODAY = "2026-12-04"
RULES = Path(__file__).resolve().parents[2] / "config" / "prometheus-alerts.yml"
POOLS = ("tube,result,lab,tested_at\nPA,阳性,市一院,2026-12-04 14:00\n"
         "PB,无效,市一院,2026-12-04 14:00\nPN,阴性,市一院,2026-12-04 14:00\n")
# Lane c's single tubes after the pools' results: person → (hour, minute, result or "").
RETESTS = {2: (15, 0, "阳性"), 11: (15, 10, "阴性"), 12: (16, 0, ""), 13: (15, 20, "无效"),
           **{n: (15, 30 + n, "阴性") for n in (*range(3, 11), *range(14, 21))}}


class Central:
    """Lanes publishing through a real mosquitto to a collector storing in `target`."""

    def __init__(self, broker: LocalBroker, target: str) -> None:
        self.target, self.collector = target, Collector(broker.url, target).start()
        assert self.collector.subscribed.wait(10)
        self.pub, self.sent = publisher(broker), 0

    def deliver(self, lane: Lane) -> None:
        for arrived in lane.events:
            self.pub.publish(arrived.topic, arrived.raw, qos=1).wait_for_publish(10)
        self.sent += len(lane.events)
        lane.events = []
        assert eventually(lambda: self.collector.stored >= self.sent)

    def close(self) -> None:
        self.pub.disconnect()
        self.pub.loop_stop()
        self.collector.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def central(request: pytest.FixtureRequest, tmp_path: Path,
            broker: LocalBroker) -> Iterator[Central]:
    target = (str(tmp_path / "central.db") if request.param == "sqlite"
              else str(request.getfixturevalue("pg_db")))
    running = Central(broker, target)
    yield running
    running.close()


def lane(name: str) -> Lane:
    return Lane("s1", name, sealer=Sealer(read_keys(key_pair()[1], private=False)[0]))


def imported(db: str, tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]
             ) -> tuple[int, str]:
    path = tmp_path / "lis.csv"
    path.write_text(text, encoding="utf-8")
    capsys.readouterr()
    status = main(["import-results", str(path), "--db", db])
    return status, capsys.readouterr().err


def followup(db: str, at: str, capsys: pytest.CaptureFixture[str], *more: str
             ) -> list[dict[str, str]]:
    capsys.readouterr()
    assert main(["report", "followup", "--db", db, "--day", TODAY, "--columns", "en",
                 "--at", f"{TODAY} {at}", "--private-key", str(key_pair()[0]), *more]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))


def by_person(rows: list[dict[str, str]]) -> dict[int, dict[str, str]]:
    numbers = {person(n).id_number: n for n in range(1, 31)}
    return {numbers[r["id_number"]]: r for r in rows}


def figures(path: Path) -> dict[tuple[str, str], float]:
    found = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            found[sample.name, ",".join(sample.labels.values())] = sample.value
    if shutil.which("promtool"):   # the file as node_exporter would take it
        checked = subprocess.run(["promtool", "check", "metrics"], input=path.read_bytes(),
                                 capture_output=True, check=False)
        assert checked.returncode == 0, checked.stderr
    return found


def alert_follows(runs: list[float], tmp_path: Path) -> None:
    """promtool, on the district's rules: NatestRetestOverdue fires at each run (a minute
    apart) whose figure is above 0, naming the step, and is quiet at each run of 0."""
    expected = [{"eval_time": f"{minute}m", "alertname": "NatestRetestOverdue",
                 "exp_alerts": [{"exp_labels": {"severity": "critical", "step": "resample"},
                                 "exp_annotations": {
                                     "summary": f"{n:g} person(s) of a positive or invalid "
                                                "pool past the resample bound",
                                     "description": "natest-central report followup "
                                                    "--private-key KEY flags them (超时)."}}]
                 if n else []} for minute, n in enumerate(runs)]
    unit = {"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "alert_rule_test": expected, "input_series": [{
            "series": 'natest_followup_overdue{step="resample", instance="n1", job="node"}',
            "values": " ".join(f"{n:g}" for n in runs)}]}]}
    (tmp_path / "unit.yml").write_text(json.dumps(unit, ensure_ascii=False), encoding="utf-8")
    done = subprocess.run(["promtool", "test", "rules", "unit.yml"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_person_of_a_positive_and_an_invalid_pool_is_followed_to_their_own_result(
        central: Central, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, prom = central.target, tmp_path / "natest_followup.prom"
    a, b, c = lane("a"), lane("b"), lane("c")
    a.tube("PA", [person(n) for n in range(1, 11)], shanghai(TODAY, 8))
    b.tube("PB", [person(n) for n in range(11, 21)], shanghai(TODAY, 8))
    b.tube("PN", [person(n) for n in range(21, 31)], shanghai(TODAY, 9))
    c.tube("E11", [person(11)], shanghai(TODAY, 13, 30))   # before PB's result
    for one in (a, b, c):
        central.deliver(one)
    assert imported(db, tmp_path, POOLS, capsys)[0] == 0
    early = by_person(followup(db, "15:00", capsys))
    assert set(early) == set(range(1, 21))   # the negative pool's people are not followed
    assert {r["followup"] for r in early.values()} == {"to_resample"}
    assert early[11]["note"] == "before_result" and early[11]["retest_tube"] == ""
    assert not any(r["overdue"] for r in early.values())   # an hour: within the bound

    for n, (hour, minute, _) in RETESTS.items():
        c.tube(f"R{n}", [person(n)], shanghai(TODAY, hour, minute))
    central.deliver(c)
    singles = "".join(f"R{n},{said},市一院,2026-12-04 18:{n:02d}\n"
                      for n, (_, _, said) in RETESTS.items() if said)
    assert imported(db, tmp_path, "tube,result,lab,tested_at\n" + singles, capsys)[0] == 0
    rows = followup(db, "21:00", capsys, "--metrics-file", str(prom))
    late = by_person(rows)
    assert [r["followup"] for r in rows[:2]] == ["confirmed", "to_resample"]   # in order
    assert late[2]["retest_tube"] == "R2" and late[2]["retest_station"] == "c"
    assert (late[2]["resampled_h"], late[2]["result_h"]) == ("1.0", "4.0")
    assert (late[1]["followup"], late[1]["overdue"], late[1]["waited_h"]) == (
        "to_resample", "resample", "7.0")
    assert (late[12]["followup"], late[12]["retest_result"], late[12]["overdue"]) == (
        "waiting", "pending", "")
    assert late[13]["followup"] == "invalid_again" and late[11]["note"] == ""
    assert {n for n, r in late.items() if r["followup"] == "cleared"} == {
        *range(3, 12), *range(14, 21)}
    assert [n for n, r in late.items() if r["overdue"]] == [1]
    shown = figures(prom)
    runs = [shown["natest_followup_overdue", "resample"]]
    roster = tmp_path / "名单.csv"   # the community's list: read as positives reads it
    roster.write_text(f"身份证号,姓名,联系电话\n{person(1).id_number},测试1,13811119999\n",
                      encoding="utf-8")
    capsys.readouterr()
    assert main(["report", "followup", "--db", db, "--day", TODAY, "--at", f"{TODAY} 21:00",
                 "--private-key", str(key_pair()[0]), "--roster", str(roster)]) == 0
    zh = list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))
    assert [(r["复核状态"], r["超时"]) for r in zh[:2]] == [("单管阳性（确认）", ""),
                                                       ("待单采", "超时未单采")]
    assert zh[1]["电话"] == person(1).phone and zh[1]["单采时间"] == ""   # the lane's kept
    assert "名单补充" in zh[1] and zh[0]["单采时间"] == f"{TODAY} 15:01:00"
    assert shown["natest_followup_people", "cleared"] == 16
    assert shown["natest_followup_not_opened", ""] == 0

    c.tube("R1", [person(1)], shanghai(TODAY, 21, 30))   # the one who never came, comes
    central.deliver(c)
    came = by_person(followup(db, "22:00", capsys, "--metrics-file", str(prom)))
    assert (came[1]["followup"], came[1]["overdue"]) == ("waiting", "")
    runs.append(figures(prom)["natest_followup_overdue", "resample"])
    assert runs == [1, 0]
    if shutil.which("promtool"):
        alert_follows(runs, tmp_path)
    # Hours on, R1 still without a result: its result is now the late step.
    assert by_person(followup(db, "23:59", capsys))[1]["overdue"] == ""
    strict = followup(db, "23:59", capsys, "--result-within", "2")
    assert by_person(strict)[1]["overdue"] == "result"


def test_a_single_result_for_a_tube_never_registered_is_refused_and_nothing_stored(
        central: Central, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = lane("a")
    a.tube("PA", [person(n) for n in range(1, 11)], shanghai(TODAY, 8))
    central.deliver(a)
    status, err = imported(central.target, tmp_path, POOLS.replace("PB", "RX"), capsys)
    assert status == 1 and "tube RX: no station registered such a tube" in err
    store = open_store(central.target)
    assert store.count("results") == 0
    store.close()
