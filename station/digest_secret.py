"""The day's duplicate checks on keyed digests, under a secret the card does not hold.

"Is this person already in this tube / sampled today?" is answered on HMAC-SHA256 digests
of ID numbers, keyed by a key for the day that HKDF derives from the station's secret.
The secret is never written to the card, so a card alone cannot test a guess against a
digest. (A salted slow hash could not do that: the salt sits beside the digests, and the
space of ID numbers is small, about 10^11 and a few 10^4 once a mask gives hints; #39
recovered a lane's day in seconds.) Where the secret comes from (`[privacy] digest_key`):

- "runtime", the default: 32 random bytes in RAM, a file on tmpfs (the service's
  RuntimeDirectory, else /dev/shm), made at the first start after boot. The daemon's
  restarts keep the day's check; a reboot or a power cut loses the secret, and the day's
  check starts again (said in the log). A lane taken away, powered off, holds no key.
- "otp": the Raspberry Pi 4/5's device-private key, 256 bits in the SoC's one-time
  programmable memory, read through the firmware by `rpi-otp-private-key`: the same after
  every power cut. Only with signed boot: without it, whoever takes the Pi boots it from a
  card of their own and reads the key (members of group video may), and then tests
  guesses against the day's digests at a few µs each.

A check value of the secret (`check`) is kept with the digests: a store whose digests
were made under another secret (lost with a reboot, or the Argon2id digests before #39)
forgets them instead of comparing digests that can never match.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Literal

import msgspec

DigestSource = Literal["runtime", "otp"]
DIGEST_SOURCES: tuple[DigestSource, ...] = ("runtime", "otp")
OTP_COMMAND = "rpi-otp-private-key"
SECRET_BYTES, DIGEST_BYTES = 32, 16
# Filesystems that live in RAM: a secret there never reaches the card (with no swap on
# it: the unit sets MemorySwapMax=0, the installer says where swap is).
RAM_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})
INFO = b"natest-station duplicate check v1"


class DigestKeyError(Exception):
    """The secret the configuration asks for cannot be had; the message says why."""


class Secret(msgspec.Struct, frozen=True):
    source: Literal["otp", "runtime"]
    value: bytes
    where: str          # for the log: the command or the file, never the value


def hkdf(secret: bytes, info: bytes, length: int = SECRET_BYTES) -> bytes:
    """HKDF-SHA256 (RFC 5869) with pyca/cryptography's implementation."""
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415 - after ready
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: PLC0415

    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


class DayDigests:
    """(day, ID number) → digest: the form the duplicate checks compare (station.state).
    A key a day: a day's digests say nothing of another day's."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._days: dict[dt.date, bytes] = {}
        # HMAC alone, not HKDF: the store compares it before ready, and pyca/cryptography's
        # import (7 ms here, over 0.1 s on a Pi) waits for the first digest, after ready.
        self.check = hmac.new(secret, INFO + b" check", hashlib.sha256).hexdigest()[:16]

    @classmethod
    def fresh(cls) -> DayDigests:
        """A secret of this process's alone (tests, and a workflow given none)."""
        return cls(os.urandom(SECRET_BYTES))

    def _key(self, day: dt.date) -> bytes:
        key = self._days.get(day)
        if key is None:
            if len(self._days) > 2:   # today and the day an open tube began are enough
                self._days.clear()
            key = self._days[day] = hkdf(self._secret, INFO + b" day " +
                                         day.isoformat().encode())
        return key

    def __call__(self, day: dt.date, id_number: str) -> str:
        mac = hmac.new(self._key(day), id_number.encode(), hashlib.sha256)
        return mac.digest()[:DIGEST_BYTES].hex()


def otp_secret(command: str = OTP_COMMAND) -> bytes:
    """The Pi's OTP device-private key; DigestKeyError says why there is none (not a Pi
    4/5, the firmware tool absent or refused, no key programmed: it reads as zeros)."""
    path = shutil.which(command)
    if path is None:
        raise DigestKeyError(f"no OTP key: `{command}` is not installed (not a Pi 4/5?)")
    try:
        out = subprocess.run([path], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise DigestKeyError(f"no OTP key: `{command}` did not run: {exc}") from None
    said = (out.stderr.strip().splitlines() or [""])[-1][:200]
    text = out.stdout.strip()
    try:
        value = bytes.fromhex(text[: 2 * SECRET_BYTES])
    except ValueError:
        value = b""
    if out.returncode != 0 or len(value) != SECRET_BYTES:
        raise DigestKeyError(f"no OTP key: `{command}` failed (status {out.returncode}"
                             f"{': ' + said if said else ''}; the service user needs group "
                             "video and /dev/vcio)")
    if not any(value):
        raise DigestKeyError(f"no OTP key: `{command}` reads zeros: none is programmed "
                             "(README, 'A stolen lane')")
    return value


def filesystem_of(path: Path) -> str:
    """The type of the filesystem holding `path` (the longest mount point above it)."""
    best, kind = "", ""
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo", encoding="utf-8") as mounts:
        for line in mounts:
            fields = line.split()
            point = fields[4].replace("\\040", " ")
            fstype = fields[fields.index("-") + 1]
            inside = real == point or real.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best):
                best, kind = point, fstype
    return kind


def runtime_folder() -> Path:
    """systemd's RuntimeDirectory for the service; /dev/shm for a run by hand."""
    # /dev/shm is shared: runtime_secret trusts only a file of our own, mode 0600.
    return Path(os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
                or "/dev/shm")  # noqa: S108


def runtime_secret(folder: Path, name: str) -> Secret:
    """32 random bytes in a file on a RAM filesystem, made once a boot (mode 0600). The
    file appears whole or not at all (written aside, then linked): a crash while making
    it cannot leave a short one that would keep the lane from starting."""
    in_ram(folder)
    path = folder / name
    value = os.urandom(SECRET_BYTES)
    aside = folder / f".{name}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(aside)   # a crash's leftover, under this pid
    try:
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(value)
        os.link(aside, path)
    except FileExistsError:
        return Secret("runtime", _kept(path), str(path))
    except OSError as exc:
        raise DigestKeyError(f"{path}: {exc.strerror}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(aside)
    return Secret("runtime", value, str(path))


def _kept(path: Path) -> bytes:
    """A secret made at an earlier start: trusted only if it is ours alone (a folder like
    /dev/shm is everyone's: a file planted there would be a key its planter knows)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise DigestKeyError(f"{path}: {exc.strerror} (a symbolic link?)") from exc
    with os.fdopen(fd, "rb") as kept:
        info = os.fstat(kept.fileno())
        ours = (stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid()
                and not info.st_mode & 0o077)
        value = kept.read(SECRET_BYTES + 1) if ours else b""
    if not ours:
        raise DigestKeyError(f"{path}: not a file of this user's alone (owner {info.st_uid},"
                             f" mode {stat.filemode(info.st_mode)}); delete it")
    if len(value) != SECRET_BYTES:
        raise DigestKeyError(f"{path}: holds {len(value)} bytes, not {SECRET_BYTES}; "
                             "delete it (the day's duplicate check starts again)")
    return value


def in_ram(folder: Path) -> Path:
    kind = filesystem_of(folder)
    if kind not in RAM_FILESYSTEMS:
        raise DigestKeyError(f"{folder} is on {kind or 'an unknown filesystem'}, not in RAM "
                             "(tmpfs): the digests' secret would reach the card")
    return folder


def secret_for(source: DigestSource, data_dir: Path) -> Secret:
    """The station's secret from the source its config names."""
    if source == "otp":
        return Secret("otp", otp_secret(), OTP_COMMAND)
    return runtime_secret(runtime_folder(), runtime_name(data_dir))


def described(source: DigestSource) -> str:
    """Where the secret would come from, for `check-config --probe`: nothing is made."""
    if source == "otp":
        otp_secret()
        return "duplicate checks keyed by the Pi's OTP key (signed boot: README)"
    folder = runtime_folder()
    where = (f"{in_ram(folder)}" if "RUNTIME_DIRECTORY" in os.environ else
             f"the service's RuntimeDirectory; {in_ram(folder)} when run by hand")
    return (f"duplicate checks keyed by a secret in RAM ({where}): a reboot or a power cut "
            "starts the day's check afresh")


def runtime_name(data_dir: Path) -> str:
    """One file per data folder: stations run side by side (by hand, in tests) keep apart."""
    tag = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    return f"natest-digest-{os.getuid()}-{tag}.key"
