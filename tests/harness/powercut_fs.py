"""A filesystem that loses power: what was not fsync'd is gone (the approach of LazyFS).

    python -m tests.harness.powercut_fs BACKING MOUNTPOINT

passes through to the BACKING folder, except that file data written through the mount
stays in this process's memory until the file is fsync'd (or fdatasync'd): only then is
it written to BACKING. A power cut is this process dying (SIGKILL), followed by a lazy
unmount: every unsynced write dies with it, and BACKING holds exactly what was synced.
Names (create, rename, unlink, mkdir) go to BACKING at once, so this models lost data,
not lost directory entries; the station syncs its folders as well (drivers/common/files.py).
`PowerCutDisk` runs it for a test.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

PAGE = 4096
STAT_KEYS = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime", "st_mtime",
             "st_ctime")


class Volatile:
    """A file's current bytes, and which pages differ from what BACKING holds."""

    def __init__(self, data: bytes) -> None:
        self.data = bytearray(data)
        self.pages: set[int] = set()
        self.resized = False

    def write(self, offset: int, chunk: bytes) -> None:
        if offset > len(self.data):
            self.data.extend(bytes(offset - len(self.data)))
        self.data[offset:offset + len(chunk)] = chunk
        self.pages.update(range(offset // PAGE, (offset + len(chunk) - 1) // PAGE + 1))

    def truncate(self, length: int) -> None:
        if length < len(self.data):
            del self.data[length:]
        else:
            self.pages.update(range(len(self.data) // PAGE, length // PAGE + 1))
            self.data.extend(bytes(length - len(self.data)))
        self.resized = True

    def sync_to(self, path: str) -> None:
        fd = os.open(path, os.O_WRONLY)
        try:
            for page in sorted(self.pages):
                os.pwrite(fd, self.data[page * PAGE:(page + 1) * PAGE], page * PAGE)
            os.ftruncate(fd, len(self.data))
        finally:
            os.close(fd)
        self.pages.clear()
        self.resized = False


def operations(backing: str) -> Any:
    from mfusepy import FuseOSError, Operations  # noqa: PLC0415 - a test tool's dependency

    class PowerCutFS(Operations):  # type: ignore[misc]
        use_ns = True

        def __init__(self) -> None:
            self._mutex = threading.RLock()
            self.files: dict[str, Volatile] = {}   # path → bytes as written, synced or not

        def _real(self, path: str) -> str:
            return backing + path

        def _volatile(self, path: str) -> Volatile:
            if path not in self.files:
                with open(self._real(path), "rb") as f:
                    self.files[path] = Volatile(f.read())
            return self.files[path]

        def _os(self, call: Any, *args: Any) -> Any:
            try:
                return call(*args)
            except OSError as exc:
                raise FuseOSError(exc.errno or errno.EIO) from exc

        # --- names and attributes: straight to BACKING ---------------------------------

        def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
            st = self._os(os.lstat, self._real(path))
            attrs = {k: getattr(st, k) for k in STAT_KEYS}
            for k in ("st_atime", "st_mtime", "st_ctime"):
                attrs[k] = getattr(st, k + "_ns")
            with self._mutex:
                if path in self.files:
                    attrs["st_size"] = len(self.files[path].data)
            return attrs

        def readdir(self, path: str, fh: int) -> list[str]:
            return [".", "..", *self._os(os.listdir, self._real(path))]

        def access(self, path: str, amode: int) -> int:
            if not os.access(self._real(path), amode):
                raise FuseOSError(errno.EACCES)
            return 0

        def chmod(self, path: str, mode: int) -> int:
            self._os(os.chmod, self._real(path), mode)
            return 0

        def chown(self, path: str, uid: int, gid: int) -> int:
            self._os(os.chown, self._real(path), uid, gid)
            return 0

        def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
            if times is None:
                self._os(os.utime, self._real(path))
            else:
                self._os(lambda: os.utime(self._real(path), ns=times))
            return 0

        def mkdir(self, path: str, mode: int) -> int:
            self._os(os.mkdir, self._real(path), mode)
            return 0

        def rmdir(self, path: str) -> int:
            self._os(os.rmdir, self._real(path))
            return 0

        def unlink(self, path: str) -> int:
            with self._mutex:
                self._os(os.unlink, self._real(path))
                self.files.pop(path, None)
            return 0

        def rename(self, old: str, new: str) -> int:
            with self._mutex:
                self._os(os.rename, self._real(old), self._real(new))
                self.files.pop(new, None)
                if old in self.files:
                    self.files[new] = self.files.pop(old)
            return 0

        def symlink(self, target: str, source: str) -> int:
            self._os(os.symlink, source, self._real(target))
            return 0

        def readlink(self, path: str) -> str:
            return str(self._os(os.readlink, self._real(path)))

        def statfs(self, path: str) -> dict[str, int]:
            sv = self._os(os.statvfs, self._real(path))
            return {k: getattr(sv, k) for k in (
                "f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree",
                "f_files", "f_flag", "f_frsize", "f_namemax")}

        def create(self, path: str, mode: int, fi: Any = None) -> int:
            os.close(self._os(os.open, self._real(path), os.O_WRONLY | os.O_CREAT, mode))
            return 0

        def open(self, path: str, flags: int) -> int:
            if not os.path.exists(self._real(path)):
                raise FuseOSError(errno.ENOENT)
            return 0

        # --- data: in memory until fsync -----------------------------------------------

        def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
            with self._mutex:
                if path in self.files:
                    return bytes(self.files[path].data[offset:offset + size])
            fd = self._os(os.open, self._real(path), os.O_RDONLY)
            try:
                return bytes(os.pread(fd, size, offset))
            finally:
                os.close(fd)

        def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
            with self._mutex:
                self._os(self._volatile, path).write(offset, bytes(data))
            return len(data)

        def truncate(self, path: str, length: int, fh: int | None = None) -> int:
            with self._mutex:
                self._os(self._volatile, path).truncate(length)
            return 0

        def fsync(self, path: str, datasync: int, fh: int) -> int:
            with self._mutex:
                if path in self.files:
                    self._os(self.files[path].sync_to, self._real(path))
            return 0

        def flush(self, path: str, fh: int) -> int:
            return 0     # close(2) is not fsync(2): nothing reaches BACKING here

        def release(self, path: str, fh: int) -> int:
            return 0

        def fsyncdir(self, path: str, datasync: int, fh: int) -> int:
            return 0

        def destroy(self, path: str) -> None:
            # A clean unmount is a clean shutdown: the kernel would write everything.
            with self._mutex:
                for name, volatile in self.files.items():
                    if volatile.pages or volatile.resized:
                        volatile.sync_to(self._real(name))

    return PowerCutFS()


class PowerCutDisk:
    """A mount of the power-cut filesystem for a test: `cut()` loses the unsynced."""

    def __init__(self, backing: Path, mount: Path) -> None:
        self.backing, self.mount = backing, mount
        self.proc: subprocess.Popen[bytes] | None = None
        self.cuts = 0

    def start(self) -> PowerCutDisk:
        self.backing.mkdir(parents=True, exist_ok=True)
        self.mount.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.harness.powercut_fs", str(self.backing), str(self.mount)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while not os.path.ismount(self.mount):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"powercut_fs did not mount {self.mount}: {err}")
            time.sleep(0.02)
        return self

    def cut(self) -> None:
        """Power off: the filesystem's memory is gone; then power on again."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._unmount("-z")
        self.cuts += 1
        self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self._unmount()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._unmount("-z")
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def _unmount(self, *options: str) -> None:
        subprocess.run(["fusermount3", "-u", *options, str(self.mount)],
                       capture_output=True, check=False, timeout=30)

    def __enter__(self) -> PowerCutDisk:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    from mfusepy import FUSE  # noqa: PLC0415

    backing, mount = (str(Path(a).resolve()) for a in argv[1:3])
    FUSE(operations(backing), mount, foreground=True, nothreads=False, fsname="powercut")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
