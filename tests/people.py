"""Valid test identities (synthetic numbers with correct check characters)."""

import datetime as dt

from station.identity import check_char


def id_number(area: str = "110105", birth: str = "19491231", seq: int = 2) -> str:
    first17 = f"{area}{birth}{seq:03d}"
    return first17 + check_char(first17)


ZHANG = id_number(seq=1)        # male
LI = id_number(seq=2)           # female
WANG = id_number("310101", "19800101", 15)
ZHAO = id_number("440305", "20010229"[:4] + "0228", 7)


def nth_person(n: int) -> str:
    """The n-th of an unbounded supply of distinct valid numbers (n from 1)."""
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=(n - 1) // 999)
    return id_number("110105", birth.strftime("%Y%m%d"), (n - 1) % 999 + 1)
