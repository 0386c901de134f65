"""coverage_roster.valid, the roster check at a few microseconds a number, says of every
number what roster.problem_of says: valid, or not anyone's (wrong check character,
impossible or future birth date, a legacy 15-digit number, what Excel made of one)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from central.reports.coverage_roster import read_part, valid
from central.reports.roster import problem_of
from central.reports.roster_file import RosterRefused
from contract.id_numbers import card_form, check_char
from tests.people import ARABIC_INDIC, FULL_WIDTH, nth_person, written_in


def test_the_quick_check_agrees_with_the_roster_check() -> None:
    rng = random.Random(41)
    numbers = [nth_person(n) for n in range(1, 200)]
    numbers += [n[:17] + ("0" if n[17] != "0" else "1") for n in numbers[:50]]  # check
    for birth in ("18791231", "18800101", "20991231", "19900230", "19901301", "20000229"):
        first17 = f"110105{birth}{rng.randrange(1000):03d}"
        numbers.append(first17 + check_char(first17))
    numbers += ["110105491231002", "110105491331002", "1.10101E+17", "", "11010519491231002x",
                "11010519491231002X", "81000019900101001" + check_char("81000019900101001"),
                "ABCDEF19900101001X", "1101051949123100", numbers[0][:17] + "Y",
                numbers[0][:17] + "\uff19"]
    # digits as Unicode counts decimals: full-width (the card's number, typed in an input
    # method's full-width mode), Arabic-Indic (no card's); read as the roster reads them
    scripts = [written_in(n[:17], zero) + n[17]
               for n in numbers[:3] for zero in (FULL_WIDTH, ARABIC_INDIC)]
    assert [problem_of(n) for n in scripts] == [None, "format"] * 3
    numbers += scripts
    verdicts = [(n, valid(card_form(n)), problem_of(n.upper()) is None) for n in numbers]
    assert [v for v in verdicts if v[1] != v[2]] == []
    assert sum(v[1] for v in verdicts) > 150 and sum(not v[1] for v in verdicts) > 55


def test_a_roster_typed_in_full_width_holds_the_cards_numbers(tmp_path: Path) -> None:
    """A row whose number was typed in full-width mode is that person, as a lane reads
    their card (the same number given twice, once so, is refused); another script's
    digits are no one's: flagged (名单有误)."""
    n = [nth_person(i) for i in (1, 2, 3)]
    wide, indic = written_in(n[1]), written_in(n[2], ARABIC_INDIC)
    roster = tmp_path / "名单.csv"
    roster.write_text(f"社区,身份证号\n光明社区,{n[0]}\n光明社区,{wide}\n光明社区,{indic}\n",
                      encoding="utf-8")
    read = read_part(roster)
    assert [(p[0], p[3]) for p in read.people] == [(n[0], False), (n[1], False),
                                                    (indic.upper(), True)]
    assert read.flagged == [4]
    roster.write_text(f"社区,身份证号\n光明社区,{n[1]}\n光明社区,{wide}\n", encoding="utf-8")
    with pytest.raises(RosterRefused, match="lines 2 and 3"):
        read_part(roster)
