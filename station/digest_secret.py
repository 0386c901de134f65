"""Where the duplicate checks' secret comes from: the shell's side of station.core.digests.

The day's digests (HMAC-SHA256 under a key a day, HKDF from this secret) are computed
in the pure core; the secret must never be written to the card, so a card alone cannot
test a guess against a digest. Where it comes from (`[privacy] digest_key`):

- "runtime", the default: 32 random bytes in RAM, a file on tmpfs (the service's
  RuntimeDirectory, else /dev/shm), made at the first start after boot. The daemon's
  restarts keep the day's check; a reboot or a power cut loses the secret, and the day's
  check starts again (said in the log). A lane taken away, powered off, holds no key.
- "otp": the Raspberry Pi 4/5's device-private key, 256 bits in the SoC's one-time
  programmable memory, read through the firmware by `rpi-otp-private-key`: the same after
  every power cut. Only with signed boot: without it, whoever takes the Pi boots it from a
  card of their own and reads the key (members of group video may), and then tests
  guesses against the day's digests at a few µs each.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
import stat
from pathlib import Path
from typing import Literal

import msgspec

from station.core.digests import SECRET_BYTES
from station.core.errors import StationError

DigestSource = Literal["runtime", "otp"]
DIGEST_SOURCES: tuple[DigestSource, ...] = ("runtime", "otp")
OTP_COMMAND = "rpi-otp-private-key"
# Filesystems that live in RAM: a secret there never reaches the card (with no swap on
# it: the unit sets MemorySwapMax=0, the installer says where swap is).
RAM_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})


class DigestKeyError(StationError):
    """The secret the configuration asks for cannot be had; the message says why."""


class Secret(msgspec.Struct, frozen=True):
    source: Literal["otp", "runtime"]
    value: bytes
    where: str          # for the log: the command or the file, never the value


def otp_secret(command: str = OTP_COMMAND) -> bytes:
    """The Pi's OTP device-private key; DigestKeyError says why there is none (not a Pi
    4/5, the firmware tool absent or refused, no key programmed: it reads as zeros)."""
    # Only here, not before every start's ready (8 ms of a Pi's core; a lane with a
    # speaker imports it with that driver).
    import subprocess  # noqa: PLC0415

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
    """One file per data folder: stations run side by side (by hand, in tests) keep apart.
    The folder's tag in base32 (a-z, 2-7): in hex, about one folder in a thousand had a tag
    holding eleven digits that read as a mobile number in the log line naming the file."""
    tag = base64.b32encode(hashlib.sha256(str(data_dir.resolve()).encode()).digest()[:10])
    return f"natest-digest-{os.getuid()}-{tag.decode('ascii').lower()}.key"
