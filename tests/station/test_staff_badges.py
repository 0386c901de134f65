"""A `[staff] pattern` that can match a badge the contract refuses is refused by
check-config, naming the key and the contract's rule (#38): before, such a config said OK
and the lane then refused every such badge scan."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from contract.events import BADGE
from station.cli import main
from station.config import ConfigError
from station.core.codes import PERSON_DECODERS, BadCode, BadgeCode, Classifier
from station.custody import BADGE_FLAGS
from station.exit_status import FAILED
from station.staff_badges import refused_badge
from tests.central_keys import key_pair, parse
from tests.station.core.test_workflow import NOW

# Badges as sites print them: a staff number, a district's letters and digits, a
# department's word, two kinds of badge, ids as the contract allows them.
REALISTIC = [r"S[0-9]{7}", r"[A-Z]{2}[0-9]{6}", r"STAFF-\d{4}", r"GH[0-9]{6}|WK-[0-9]{4}",
             r"(?i)s[0-9]{7}", r"[A-Za-z0-9_-]{4,32}", r"\w{8}", r"S[0-9]{7}(?<!0000000)"]
# Each can match a badge the contract refuses: a colon, other punctuation, a space, any
# character, too many characters.
REFUSED = [r"S:[0-9]{7}", r"S[0-9:]{7}", r"(?:S|T:)[0-9]{4}", r"S.{7}", r"S\S{3}",
           r"S[^x]{3}", r"S[0-9]{7}(\.[0-9])?", r"S[0-9 ]{7}", r"S[0-9]+", r"(AB){20}",
           r"S[0-9]{2,}", r"\w+"]


def config(tmp_path: Path, pattern: str | None) -> Path:
    path = tmp_path / "station.toml"
    staff = "" if pattern is None else f"[staff]\npattern = '{pattern}'\n"
    path.write_text(f'[station]\nid = "L1"\nsite = "s"\ntube_prefix = "220107"\n'
                    f'[privacy]\ncentral_key = "{key_pair()[1]}"\n{staff}')
    return path


def test_check_config_refuses_a_pattern_allowing_a_colon_naming_the_key_and_the_contract(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config(tmp_path, r"S[0-9:]{7}")
    assert main(["check-config", str(path)]) == FAILED   # check-config's answer to a ConfigError
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if "[staff] pattern" in line]
    assert len(said) == 1, err
    assert f"{path}: [staff] pattern: can match 'S000000:'" in said[0]
    assert "^[A-Za-z0-9_-]{1,32}$" in said[0] and "contract/events.schema.json" in said[0]


@pytest.mark.parametrize("pattern", [None, *REALISTIC])
def test_the_default_and_realistic_patterns_are_ok(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], pattern: str | None) -> None:
    assert main(["check-config", str(config(tmp_path, pattern))]) == 0, capsys.readouterr()
    assert "OK" in capsys.readouterr().out


@pytest.mark.parametrize("pattern", REFUSED)
def test_each_refusal_names_a_badge_the_pattern_matches_and_the_lane_refuses(
        pattern: str) -> None:
    """The badge named is a proof: the site's pattern takes it, the contract does not,
    and the lane's classifier refuses it as a scan."""
    compiled = re.compile(pattern, BADGE_FLAGS)
    badge = refused_badge(compiled)
    assert badge is not None and compiled.fullmatch(badge) and not BADGE.fullmatch(badge)
    lane = Classifier(re.compile(r"T[0-9]{6}"), list(PERSON_DECODERS.values()),
                      staff_pattern=compiled)
    with pytest.raises(BadCode):
        lane.classify(badge, NOW.date())
    with pytest.raises(ConfigError, match=re.escape(repr(badge))):
        parse(f'[station]\nid = "L1"\nsite = "s"\n[staff]\npattern = \'{pattern}\'\n', "x")


def test_digits_and_letters_of_a_pattern_are_the_contracts_ascii_ones() -> None:
    r"""\d in a site's pattern means 0-9, as the contract's badge: a badge in another
    script's digits is not taken for a staff badge (nor can it reach an event)."""
    staff = parse('[station]\nid = "L1"\nsite = "s"\n[staff]\npattern = \'S\\d{7}\'\n',
                  "x").staff.pattern
    assert staff is not None and staff.fullmatch("S0123456")
    assert not staff.fullmatch("S٠١٢٣٤٥٦")   # Arabic-Indic digits
    lane = Classifier(re.compile(r"T[0-9]{6}"), [], staff_pattern=staff)
    assert lane.classify("S0123456", NOW.date()) == BadgeCode("S0123456")


def test_what_the_search_does_not_follow_is_accepted_as_before() -> None:
    """A back-reference stops the generator: the pattern is accepted (the module's
    limits), and the lane's own check still refuses such a badge at the scan."""
    assert refused_badge(re.compile(r"(S|:)\1[0-9]{4}", BADGE_FLAGS)) is None
