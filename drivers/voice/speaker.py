"""Says short prompts through ALSA without ever blocking the caller.

Each text is synthesised once by espeak-ng (Debian's `espeak-ng`, Mandarin voice `cmn`)
into a WAV kept in a cache folder, the fixed prompts ahead of time, since a Pi takes
10–20 times longer than a desktop to synthesise; `aplay` plays it. One thread owns the
player: a newer prompt cuts an older one short, as a new light pattern cuts the old.
A missing sound card or synthesiser is a fault of the `voice` part, reported once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

import msgspec

from drivers.common.fault_latch import FaultLatch
from drivers.common.files import make_dirs, replace_synced
from drivers.errors import DriverError

log = logging.getLogger("drivers.voice")

POLL_S = 0.05


class VoiceFault(DriverError):
    pass


class Synth(msgspec.Struct, frozen=True):
    """How text becomes a WAV: espeak-ng's voice, speed and amplitude."""

    voice: str = "cmn"
    speed: int = 175
    amplitude: int = 100       # espeak-ng's -a: 100 is normal, 200 its loudest
    program: str = "espeak-ng"

    def key(self, text: str) -> str:
        spec = f"{self.voice}|{self.speed}|{self.amplitude}|{text}"
        return hashlib.sha256(spec.encode()).hexdigest()[:24]

    def render(self, text: str, into: Path) -> None:
        """Write the WAV for `text` to `into`: whole or not at all."""
        tmp = into.with_name(f".{into.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            done = subprocess.run(
                [self.program, "-v", self.voice, "-s", str(self.speed),
                 "-a", str(self.amplitude), "-w", str(tmp), "--", text],
                capture_output=True, timeout=30, check=False)
        except FileNotFoundError as exc:
            raise VoiceFault(f"{self.program} is not installed") from exc
        except subprocess.TimeoutExpired as exc:
            raise VoiceFault(f"{self.program} did not finish in 30 s") from exc
        if done.returncode != 0 or not tmp.exists() or tmp.stat().st_size <= 44:
            tmp.unlink(missing_ok=True)
            raise VoiceFault(f"{self.program} failed: {last_line(done.stderr)}")
        # A cut WAV after a power cut would play as noise: sync before it gets its name.
        replace_synced(tmp, into)


def last_line(data: bytes) -> str:
    text = data.decode(errors="replace").strip()
    return text.splitlines()[-1] if text else "no message"


class Started(msgspec.Struct, frozen=True):
    text: str
    asked: float     # monotonic: when say() was called
    playing: float   # monotonic: when the player process was running


class Speaker:
    def __init__(self, cache: Path, synth: Synth, device: str,
                 on_fault: Callable[[str], None], on_recovered: Callable[[], None], *,
                 player: str = "aplay") -> None:
        self.cache, self.synth, self.device, self.player = cache, synth, device, player
        self.health = FaultLatch(on_fault, on_recovered)
        self.started: deque[Started] = deque(maxlen=256)   # for the bench's latency figure
        self._next: tuple[str, float] | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name="voice", daemon=True)

    def start(self, prepare: Iterable[str] = ()) -> None:
        make_dirs(self.cache)
        texts = list(prepare)
        threading.Thread(target=self._prepare, args=(texts,), name="voice-render",
                         daemon=True).start()
        self._thread.start()

    def say(self, text: str) -> None:
        with self._lock:
            self._next = (text, time.monotonic())
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        # The voice thread cuts its own player on the way out: one owner for the process.
        self._thread.join(2)

    def wav(self, text: str) -> Path:
        path = self.cache / f"{self.synth.key(text)}.wav"
        if not path.exists():
            self.synth.render(text, path)
        return path

    def _prepare(self, texts: list[str]) -> None:
        began = time.monotonic()
        try:
            for text in texts:
                if self._stop.is_set():
                    return
                self.wav(text)
        except (VoiceFault, OSError) as exc:
            self.health.fault(str(exc))
            return
        log.info("voice: %d prompts ready in %.1f s", len(texts), time.monotonic() - began)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(POLL_S if self._proc is not None else None)
            self._wake.clear()
            with self._lock:
                asked, self._next = self._next, None
            if asked is not None:
                self._play(*asked)
            elif self._proc is not None and self._proc.poll() is not None:
                self._finished(self._proc)
        self._cut()

    def _play(self, text: str, asked: float) -> None:
        self._cut()
        try:
            wav = self.wav(text)
            self._proc = subprocess.Popen(
                [self.player, "-q", "-D", self.device, str(wav)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except (VoiceFault, OSError) as exc:
            self.health.fault(str(exc) if isinstance(exc, VoiceFault)
                              else f"{self.player}: {exc.strerror or exc}")
            return
        self.started.append(Started(text, asked, time.monotonic()))

    def _finished(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = None
        err = proc.stderr.read() if proc.stderr else b""
        if proc.stderr:
            proc.stderr.close()
        if proc.returncode == 0:
            self.health.ok()
        else:  # e.g. "audio open error: No such file or directory": no sound card
            self.health.fault(f"{self.player} -D {self.device}: {last_line(err)}")

    def _cut(self) -> None:
        """Stop the prompt playing now; being cut short is not a fault."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is not None:  # it ended on its own: see how
            self._finished(proc)
            return
        self._proc = None
        proc.terminate()
        try:
            proc.wait(1)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
