"""Our GB 11643 check against python-stdnum's, an implementation nobody here wrote.

The station keeps its own validation: stdnum's `cn.ric.validate` also looks the area
code up by birth year, which refuses Hong Kong/Macau/Taiwan residence permits (81/82/83)
and residents whose county was created after their birth, who must be accepted at a lane.
So stdnum is a second opinion in the tests, not a dependency of the Pi.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from contract.id_numbers import InvalidIdNumber, card_form, check_char, validate_id_number
from tests.people import ARABIC_INDIC, DEVANAGARI, FULL_WIDTH, written_in

TODAY = dt.date(2026, 11, 22)


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_our_check_character_is_stdnums(first17: str) -> None:
    assert check_char(first17) == ric.calc_check_digit(first17 + "0")


@given(st.dates(dt.date(1900, 1, 1), TODAY), st.integers(0, 999))
def test_a_number_stdnum_accepts_we_accept(birth: dt.date, sequence: int) -> None:
    first17 = f"110105{birth:%Y%m%d}{sequence:03d}"
    number = first17 + ric.calc_check_digit(first17 + "0")
    assert ric.is_valid(number)
    assert validate_id_number(number, TODAY).birth == birth


@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.sampled_from("0123456789X"))
def test_a_wrong_check_character_both_refuse(first17: str, last: str) -> None:
    if ric.calc_check_digit(first17 + "0") == last:
        return
    assert not ric.is_valid(first17 + last)
    with pytest.raises(InvalidIdNumber):
        validate_id_number(first17 + last, TODAY)


def test_residence_permits_are_ours_to_accept() -> None:
    """Where the two differ on purpose: stdnum refuses a valid HMT permit number."""
    number = "810000199408230021"
    assert not ric.is_valid(number)
    assert validate_id_number(number, TODAY).id_type == "hmt_permit"




@pytest.mark.parametrize(("zero", "same"), [(FULL_WIDTH, True), (ARABIC_INDIC, False),
                                            (DEVANAGARI, False)])
def test_a_number_typed_full_width_is_the_cards_as_stdnum_reads_it(zero: str,
                                                                   same: bool) -> None:
    """Full-width digits (an input method in full-width mode) are the card's number, as
    python-stdnum reads them; Arabic-Indic and Devanagari digits, which str.isdigit() also
    takes, are no card's: both refuse them, and a wrong check character in any form."""
    number = "110105194912310011"
    assert check_char(number[:17]) == number[17]
    typed, wrong = written_in(number, zero), written_in(number[:17] + "2", zero)
    assert ric.is_valid(typed) == same and not ric.is_valid(wrong)
    if same:
        assert validate_id_number(f" {typed}\u3000", TODAY).number == number
        assert card_form(typed) == number == ric.compact(typed)
    else:
        with pytest.raises(InvalidIdNumber, match="another script"):
            validate_id_number(typed, TODAY)
    with pytest.raises(InvalidIdNumber):
        validate_id_number(wrong, TODAY)


def test_a_full_width_x_is_the_check_character_x() -> None:
    """Ｘ as full-width mode types it (python-stdnum leaves it, and refuses the number)."""
    number = "11010519491231002X"
    assert check_char(number[:17]) == "X"
    assert validate_id_number(number[:17] + "Ｘ", TODAY).number == number
    assert validate_id_number(number[:17] + "ｘ", TODAY).number == number
