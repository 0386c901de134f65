"""Valid test identities (synthetic numbers with correct check characters)."""

from station.core.identity import nth_synthetic_id, synthetic_id


def id_number(area: str = "110105", birth: str = "19491231", seq: int = 2) -> str:
    return synthetic_id(area, birth, seq)


ZHANG = id_number(seq=1)        # male
LI = id_number(seq=2)           # female
WANG = id_number("310101", "19800101", 15)
ZHAO = id_number("440305", "20010229"[:4] + "0228", 7)


nth_person = nth_synthetic_id


FULL_WIDTH, ARABIC_INDIC, DEVANAGARI = "\uff10", "\u0660", "\u0966"   # each script's zero


def written_in(number: str, zero: str = FULL_WIDTH) -> str:
    """A number's digits written in the script whose zero is `zero` (full-width: as an
    input method in full-width mode types it, X too); any other character as it is."""
    shift = ord(zero) - ord("0")
    return "".join(chr(ord(c) + shift) if c.isdigit() or (c == "X" and zero == FULL_WIDTH)
                   else c for c in number)
