"""natest-central's command line (central/cli.py): the options every command shares are
written once, so they read alike in every command."""

from __future__ import annotations

import argparse
from pathlib import Path

from central.cli import build_parser
from central.site_facts import ZONE

CENTRAL = Path(__file__).resolve().parents[2] / "central"


def commands() -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action | None:
    return next((a for a in parser._actions if flag in a.option_strings), None)


def test_the_shared_options_are_each_declared_in_one_place() -> None:
    for flag in ('"--tz"', '"--db"'):
        places = [str(p.relative_to(CENTRAL)) for p in CENTRAL.rglob("*.py")
                  if flag in p.read_text(encoding="utf-8")]
        assert len(places) == 1, (flag, places)


def test_every_time_zone_option_reads_alike() -> None:
    zoned = {name: action for name, parser in commands().items()
             if (action := option(parser, "--tz")) is not None}
    assert {"collect", "report", "import-results", "receive"} <= set(zoned)
    for name, action in zoned.items():
        assert action.default == ZONE, name
        assert (action.help or "").endswith(f"(default {ZONE})"), name


def test_every_database_option_reads_alike() -> None:
    helps = {name: action.help for name, parser in commands().items()
             if (action := option(parser, "--db")) is not None}
    assert len(helps) >= 6
    assert all(option(commands()[name], "--db").required for name in helps)  # type: ignore[union-attr]
