"""Prompts spoken by the real espeak-ng and played by the real aplay (ALSA).

This machine has no sound card: ALSA's `null` device plays without one, and the
`default` device fails exactly as on a Pi whose speaker is missing.
"""

from __future__ import annotations

import stat
import sys
import time
import wave
from pathlib import Path

import pytest

from drivers.voice.speaker import Speaker, Synth, VoiceFault
from station.core.messages import CUES, Signal
from station.core.prompts import Prompts
from tests.conftest import eventually

NO_CARD = "hw:9"    # a card this machine does not have


def duration(path: Path) -> float:
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        frames: int = w.getnframes()
        rate: int = w.getframerate()
        return frames / rate


def test_espeak_ng_renders_every_fixed_prompt_in_mandarin(tmp_path: Path) -> None:
    synth = Synth()
    prompts = Prompts.with_overrides({})
    for cue in CUES:
        text = prompts.speech(Signal(cue, "", 7, 10, count=10, tubes=3))
        wav = tmp_path / f"{cue}.wav"
        synth.render(text, wav)
        seconds = duration(wav)
        # Long enough to be words, short enough for a queue: espeak-ng says about two
        # syllables a second at its default speed.
        assert 0.3 < seconds < 0.6 * len(text) + 1.0, (cue, text, seconds)
    assert not list(tmp_path.glob(".*")), "no temporary file left behind"


def test_a_longer_prompt_takes_longer_to_say(tmp_path: Path) -> None:
    synth = Synth()
    synth.render("第七位", tmp_path / "short.wav")
    synth.render("第七位，还剩一位，已满封管，请换管", tmp_path / "long.wav")
    assert duration(tmp_path / "long.wav") > 2 * duration(tmp_path / "short.wav")


def test_a_missing_synthesiser_is_a_fault_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(VoiceFault, match="not installed"):
        Synth(program="no-such-espeak").render("就绪", tmp_path / "x.wav")


class Voice:
    """A speaker under test and what it told the station."""

    def __init__(self, tmp_path: Path, device: str, player: str = "aplay") -> None:
        self.faults: list[str] = []
        self.recoveries = 0
        self.speaker = Speaker(tmp_path / "cache", Synth(), device, self.faults.append,
                               self.recovered, player=player)

    def recovered(self) -> None:
        self.recoveries += 1


def test_prompts_are_rendered_ahead_and_played_through_alsa(tmp_path: Path) -> None:
    voice = Voice(tmp_path, "null")
    ahead = Prompts.with_overrides({}).ahead(10)
    voice.speaker.start(prepare=ahead)
    try:
        assert eventually(lambda: len(list((tmp_path / "cache").glob("*.wav"))) == len(ahead),
                          timeout=30)
        assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700
        voice.speaker.say("第七位")
        assert eventually(lambda: [s.text for s in voice.speaker.started] == ["第七位"])
        assert voice.faults == []
    finally:
        voice.speaker.stop()


def test_no_sound_card_is_a_voice_fault_that_clears_when_sound_works(tmp_path: Path) -> None:
    voice = Voice(tmp_path, NO_CARD)
    voice.speaker.start()
    try:
        voice.speaker.say("就绪")
        assert eventually(lambda: len(voice.faults) == 1)
        assert "audio open error" in voice.faults[0] and NO_CARD in voice.faults[0]
        voice.speaker.say("就绪")                 # still no card: told once, not again
        assert eventually(lambda: len(voice.speaker.started) == 2)
        voice.speaker.device = "null"             # the speaker is plugged in
        voice.speaker.say("第一位")
        assert eventually(lambda: voice.recoveries == 1)
        assert len(voice.faults) == 1
    finally:
        voice.speaker.stop()


def slow_player(tmp_path: Path) -> tuple[Path, Path]:
    """ALSA's null device plays in no time; a player that takes its time, as a real
    speaker does, shows a cut: it records which prompts played to the end."""
    played = tmp_path / "played"
    player = tmp_path / "slow-player"
    player.write_text(f"#!{sys.executable}\nimport sys, time\ntime.sleep(1.5)\n"
                      f"open({str(played)!r}, 'a').write(sys.argv[-1] + '\\n')\n")
    player.chmod(0o755)
    return player, played


def test_a_newer_prompt_cuts_the_older_one_short(tmp_path: Path) -> None:
    player, played = slow_player(tmp_path)
    voice = Voice(tmp_path, "null", player=str(player))
    voice.speaker.start()
    try:
        voice.speaker.say("第一位")
        assert eventually(lambda: len(voice.speaker.started) == 1)
        voice.speaker.say("第二位")                # while the first still plays
        assert eventually(played.exists, timeout=5)
        first, second = (voice.speaker.wav(t).name for t in ("第一位", "第二位"))
        lines = played.read_text().split()
        assert [Path(line).name for line in lines] == [second]
        assert first not in played.read_text()
        assert voice.faults == []                  # being cut short is not a fault
    finally:
        voice.speaker.stop()


def test_stopping_the_station_silences_the_prompt_playing(tmp_path: Path) -> None:
    player, played = slow_player(tmp_path)
    voice = Voice(tmp_path, "null", player=str(player))
    voice.speaker.start()
    voice.speaker.say("第一位")
    assert eventually(lambda: len(voice.speaker.started) == 1)
    voice.speaker.stop()
    time.sleep(2.5)                                 # past the player's own 1.5 s
    assert not played.exists(), "the player outlived the station's stop"
    assert voice.faults == []
