"""Every cue the operator can be given has its own light, its own words and its own line."""

from __future__ import annotations

import pytest

from drivers.lights.patterns import PATTERNS
from station.config import ConfigError
from station.core.messages import CUE_PATTERNS, CUES, OUTCOMES, REFUSALS, Cue, Signal
from station.core.parts import PARTS, fault_cue
from station.core.prompts import (
    DEFAULT,
    PromptError,
    Prompts,
    check_templates,
    chinese_number,
    screen_line,
)
from tests.central_keys import parse

MINIMAL = '[station]\nid = "L1"\nsite = "s1"\n'


def told(cue: Cue) -> Signal:
    return Signal(cue, "", position=7, pool_size=10, who="张*丰 1101**********002X", count=10,
                  tubes=3)


def test_every_cue_has_a_pattern_a_prompt_and_a_screen_line() -> None:
    assert set(CUE_PATTERNS) == set(DEFAULT) == set(CUES)
    assert len(CUES) == len(set(CUES)) == len(REFUSALS) + len(OUTCOMES)
    for cue in CUES:
        assert CUE_PATTERNS[cue] in PATTERNS
        assert Prompts.with_overrides({}).speech(told(cue)).strip(), cue
        assert screen_line(told(cue)).strip(), cue


def test_no_two_cues_sound_or_read_alike() -> None:
    prompts = Prompts.with_overrides({})
    spoken = [prompts.speech(told(cue)) for cue in CUES]
    shown = [screen_line(told(cue)) for cue in CUES]
    assert len(set(spoken)) == len(CUES), [s for s in spoken if spoken.count(s) > 1]
    assert len(set(shown)) == len(CUES), [s for s in shown if shown.count(s) > 1]


def test_refusals_light_red_and_faults_blink_red() -> None:
    assert {CUE_PATTERNS[r] for r in REFUSALS} == {"refused"}
    for spec in PARTS:
        assert CUE_PATTERNS[fault_cue(spec.part, "fault")] == "fault"
        assert {CUE_PATTERNS[cue] for cue in spec.cues.values()} == {"fault"}


@pytest.mark.parametrize(("kind", "spoken"), [
    ("paper_out", "打印机缺纸"), ("head_open", "打印机开盖"), ("paper_jam", "打印机卡纸"),
    ("ribbon_out", "打印机缺碳带"), ("no_answer", "打印机无响应"), ("other", "打印机故障")])
def test_each_printer_fault_says_what_to_fix(kind: str, spoken: str) -> None:
    cue = fault_cue("printer", kind)  # type: ignore[arg-type]
    assert Prompts.with_overrides({}).speech(Signal(cue, "")) == spoken


@pytest.mark.parametrize(("n", "said"), [(1, "一"), (7, "七"), (10, "十"), (12, "十二"),
                                         (20, "二十"), (35, "三十五"), (0, "零"), (120, "120")])
def test_numbers_are_said_in_chinese(n: int, said: str) -> None:
    assert chinese_number(n) == said


def test_positions_are_spoken_in_chinese_and_shown_in_digits() -> None:
    prompts = Prompts.with_overrides({})
    assert prompts.speech(Signal("accepted", "", 7, 10)) == "第七位"
    assert prompts.speech(Signal("one_left", "", 9, 10)) == "第九位，还剩一位"
    assert screen_line(Signal("accepted", "", 7, 10)) == "已登记 第7位"
    assert prompts.speech(Signal("box_closed", "", count=96, tubes=10)) == "已装箱，十管九十六人"


def test_no_name_is_spoken_unless_the_site_chooses_the_surname() -> None:
    signal = Signal("accepted", "", 7, 10, who="张*丰 1101**********002X")
    assert Prompts.with_overrides({}).speech(signal) == "第七位"
    assert Prompts.with_overrides({}, say_surname=True).speech(signal) == "张，第七位"
    nameless = Signal("accepted", "", 7, 10, who="- 1101**********002X")  # a bare number
    assert Prompts.with_overrides({}, say_surname=True).speech(nameless) == "第七位"


def test_a_site_overrides_a_prompt_in_config() -> None:
    config = parse(MINIMAL + '[voice]\nsay_name = "surname"\n[voice.prompts]\n'
                   'accepted = "{position}号"\n', "site.toml")
    prompts = Prompts.with_overrides(config.voice.prompts, config.voice.say_name == "surname")
    assert prompts.speech(Signal("accepted", "", 3, 10, who="李* 1101**")) == "李，三号"
    assert prompts.speech(Signal("no_tube_open", "")) == "请先扫试管"   # the rest stay


@pytest.mark.parametrize(("prompts", "says"), [
    ('acepted = "好"', "'acepted' is not a prompt"),
    ('accepted = "第{place}位"', "unknown field {place}"),
    ('accepted = "第{position位"', "accepted:"),
    ('accepted = 3', "[voice] prompts.accepted: must be a string"),
    ('accepted = " "', "accepted: empty prompt"),
])
def test_a_broken_prompt_names_the_file_and_the_cue(prompts: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(MINIMAL + f"[voice.prompts]\n{prompts}\n", "site.toml")
    assert any(p.startswith("site.toml: [voice") and says in p for p in caught.value.problems), \
        caught.value.problems


def test_templates_are_checked_before_use() -> None:
    check_templates({"accepted": "第{position}位，共{pool_size}位"})
    with pytest.raises(PromptError):
        check_templates({"ready": "{0}"})
