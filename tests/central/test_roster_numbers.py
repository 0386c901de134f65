"""coverage_roster.valid, the roster check at a few microseconds a number, says of every
number what roster.problem_of says: valid, or not anyone's (wrong check character,
impossible or future birth date, a legacy 15-digit number, what Excel made of one)."""

from __future__ import annotations

import random

from central.reports.coverage_roster import valid
from central.reports.roster import problem_of
from contract.id_numbers import check_char
from tests.people import nth_person


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
    # digits of other scripts, as Unicode counts decimals (full-width, Arabic-Indic)
    numbers += ["".join(chr(ord(c) + shift) if c.isdigit() else c for c in n[:17]) + n[17]
                for n in numbers[:3] for shift in (0xFEE0, 0x660 - 0x30)]
    verdicts = [(n, valid(n.upper()), problem_of(n.upper()) is None) for n in numbers]
    assert [v for v in verdicts if v[1] != v[2]] == []
    assert sum(v[1] for v in verdicts) > 150 and sum(not v[1] for v in verdicts) > 55
