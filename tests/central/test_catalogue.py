"""The reports declared once (central/reports/catalogue.py): the command line offers what
it declares, each declared report is made, with the header it declares, and the key is
asked for by what it says of people."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
from pathlib import Path
from typing import get_args

import pytest

from central.cli import build_parser
from central.errors import Usage
from central.reports import keys, reports
from central.reports.catalogue import REPORTS, ReportName
from central.store.open import open_store
from tests.central_keys import key_pair
from tests.lane_days import Lane


def report_parser() -> argparse.ArgumentParser:
    (sub,) = [a for a in build_parser()._actions
              if isinstance(a, argparse._SubParsersAction)]
    parser: argparse.ArgumentParser = sub.choices["report"]
    return parser


def test_the_command_offers_the_declared_reports_in_their_order() -> None:
    (name,) = [a for a in report_parser()._actions if a.dest == "name"]
    assert list(name.choices or []) == list(REPORTS) == list(get_args(ReportName))
    assert set(reports.BUILT) == set(REPORTS)   # and each one is made
    usage = build_parser().format_help() + report_parser().format_help()
    assert all(report in usage for report in REPORTS)


@pytest.mark.parametrize("name", list(REPORTS))
@pytest.mark.parametrize("columns", ["zh", "en"])
def test_each_report_is_written_with_the_header_it_declares(
        name: ReportName, columns: str, tmp_path: Path) -> None:
    """On a store with nothing in it (but the box a manifest lists); missing keeps its
    roster's columns (in Chinese, the usual ones named so); a call list given a roster adds
    the roster's columns."""
    roster = tmp_path / "roster.csv"
    report = REPORTS[name]
    # (coverage refuses a column it does not know: ward might be where a person belongs)
    roster.write_text(f"id_number,name{'' if report.matches else ',ward'}\n"
                      f"110101199001010011,x{'' if report.matches else ',3'}\n",
                      encoding="utf-8")
    if name == "manifest":
        lane, store = Lane("s1", "a"), open_store(str(tmp_path / "central.db"))
        lane.box("B1", {"T1": 1}, dt.datetime.now(dt.UTC))
        lane.deliver(store)
        store.close()
    for given in ([None, roster] if report.fills else [roster if report.roster else None]):
        text = reports.run(name, str(tmp_path / "central.db"), None, given, columns=columns,
                           box="B1" if name == "manifest" else "")
        header = next(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
        shown = report.with_roster() if given else report
        if not report.columns:
            assert header == (["证件号码", "姓名", "ward", "名单有误"] if columns == "zh"
                              else ["id_number", "name", "ward", "roster_problem"])
        else:
            assert header == (shown.headers if columns == "zh" else shown.keys)
            assert ("楼栋" in header or "building" in header) is (
                given is not None or report.matches)   # coverage counts by building


def test_a_roster_is_refused_where_nothing_reads_it(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("id_number\n", encoding="utf-8")
    with pytest.raises(Usage, match="--roster: for missing, coverage, positives, results, "
                                    "resample, followup, brief, not register"):
        reports.run("register", str(tmp_path / "central.db"), None, roster)


@pytest.mark.parametrize("name", list(REPORTS))
def test_the_key_is_used_where_a_report_prints_people_and_only_there(
        name: ReportName) -> None:
    """And where it matches them by document (coverage), printing none."""
    persons = keys.persons([str(key_pair()[0])], name)
    assert persons.needed is REPORTS[name].opens
    # The brief prints nobody and needs no key, but links a pool's people with one.
    assert (persons.opener is not None) is (REPORTS[name].opens or REPORTS[name].links)
    assert REPORTS[name].opens is (REPORTS[name].people or name == "coverage")
