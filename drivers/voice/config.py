"""The [voice] section: spoken prompts through espeak-ng and ALSA, simulated, or none."""

from __future__ import annotations

from typing import Literal, get_args

import msgspec

from drivers.common.config_section import Section, in_range, one_of

VoiceDriver = Literal["espeak", "sim", "none"]
SayName = Literal["none", "surname"]


class VoiceConfig(msgspec.Struct, frozen=True):
    driver: VoiceDriver = "sim"
    volume: int = 100            # percent of espeak-ng's normal amplitude
    device: str = "default"      # the ALSA playback device (`aplay -L` lists them)
    voice: str = "cmn"           # espeak-ng's Mandarin
    speed: int = 175             # words per minute: espeak-ng's default
    # No personal data is spoken unless a site chooses it: "surname" says 张 before 第七位.
    say_name: SayName = "none"
    prompts: dict[str, str] = msgspec.field(default_factory=dict)   # cue → the site's own wording


def read(section: Section) -> VoiceConfig:
    d = VoiceConfig()
    prompts = section.get("prompts", dict, {})
    for cue, text in prompts.items():
        if not isinstance(text, str):
            section.problem(f"prompts.{cue}", f"must be a string in quotes, not {text!r}")
    return VoiceConfig(
        driver=section.get("driver", str, d.driver, one_of(*get_args(VoiceDriver))),
        volume=section.get("volume", int, d.volume, in_range(0, 200)),
        device=section.get("device", str, d.device),
        voice=section.get("voice", str, d.voice),
        speed=section.get("speed", int, d.speed, in_range(80, 450)),
        say_name=section.get("say_name", str, d.say_name, one_of(*get_args(SayName))),
        prompts={k: v for k, v in prompts.items() if isinstance(v, str)},
    )
