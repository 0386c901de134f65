"""Prompt latency: from the signal to the player running, on the real espeak-ng and aplay.

The prompts are rendered ahead as the station does at start; ALSA's `null` device
stands in for a speaker where the machine has none. What is measured ends when `aplay`
is running with the WAV: the sound card's own buffer comes after, and is the same for
any player. The baseline spawns the same `aplay` directly, without the speaker's thread.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from drivers.voice.speaker import Speaker, Synth
from station.core.messages import Signal
from station.core.prompts import Prompts
from tools.bench.common import percentile


def prompt_latency(count: int, work: Path) -> dict[str, Any]:
    if shutil.which("espeak-ng") is None or shutil.which("aplay") is None:
        print("  (skipped: espeak-ng or aplay is not installed: apt-get install espeak-ng "
              "alsa-utils)")
        return {}
    prompts = Prompts.with_overrides({})
    ahead = prompts.ahead(10)
    faults: list[str] = []
    speaker = Speaker(work / "voice", Synth(), "null", faults.append, lambda: None)
    began = time.monotonic()
    speaker.start(prepare=ahead)
    texts = [prompts.speech(Signal("accepted", "", n % 10 + 1, 10)) for n in range(count)]
    for text in texts:                      # the same wait a station's first scans see
        while not (work / "voice" / f"{speaker.synth.key(text)}.wav").exists():
            if time.monotonic() - began > 120 or faults:
                speaker.stop()
                raise RuntimeError(f"voice: prompts not rendered: {faults}")
            time.sleep(0.01)
    rendered_s = time.monotonic() - began
    try:
        for n, text in enumerate(texts, start=1):
            speaker.say(text)
            while len(speaker.started) < min(n, speaker.started.maxlen or n):
                time.sleep(0.001)
            time.sleep(0.02)                # an operator scans far slower than this
    finally:
        speaker.stop()
    latencies = [(s.playing - s.asked) * 1000 for s in speaker.started]
    wav = speaker.wav(texts[0])
    floor = []
    for _ in range(count):
        t0 = time.monotonic()
        proc = subprocess.Popen(["aplay", "-q", "-D", "null", str(wav)])
        floor.append((time.monotonic() - t0) * 1000)
        proc.wait()
    return {"prompt_latency_p50_ms": percentile(latencies, 50),
            "prompt_latency_p99_ms": percentile(latencies, 99),
            "prompt_spawn_floor_p99_ms": percentile(floor, 99),
            "prompts_rendered_s": rendered_s, "prompts_rendered": len(ahead)}
