"""A private mosquitto on a free loopback port, for the demo, the tests and benchmarks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

# The broker settings central needs, as documented; the tests' broker runs with them.
CENTRAL_SETTINGS = Path(__file__).resolve().parent.parent / "config" / "mosquitto-central.conf"


def central_settings() -> str:
    """The documented settings, but persistence (each broker here chooses its own)."""
    if not CENTRAL_SETTINGS.is_file():   # an installed copy without the checkout
        return "max_queued_messages 0\nmax_inflight_messages 4000\n"
    lines = [line for line in CENTRAL_SETTINGS.read_text().splitlines()
             if line.strip() and not line.startswith("#")
             and not line.startswith(("persistence ", "persistent_client_expiration"))]
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if found is None:
        raise FileNotFoundError("mosquitto is not installed (Debian: apt-get install mosquitto)")
    return found


class LocalBroker:
    def __init__(self, port: int | None = None, persistent: bool = False,
                 listener: str = "") -> None:
        self.port = port or free_port()
        self.persistent = persistent  # keep subscribers' sessions across a restart
        # Replaces the default anonymous plain listener: TLS, passwords, ACLs.
        self.listener = listener
        self.dir = Path(tempfile.mkdtemp(prefix="natest-broker-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> LocalBroker:
        conf = self.dir / "mosquitto.conf"
        persistence = (f"persistence true\npersistence_location {self.dir}/\n"
                       if self.persistent else "persistence false\n")
        # As root, mosquitto drops to its own user, which cannot write our private dir.
        user = "user root\n" if os.geteuid() == 0 else ""
        listener = self.listener or "allow_anonymous true\n"
        conf.write_text(f"listener {self.port} 127.0.0.1\n{listener}{persistence}"
                        f"{user}{central_settings()}log_dest none\n")
        # Under `station bench --pi` the broker stands for central's machine: not slowed.
        outside = os.environ.get("NATEST_BROKER_OUTSIDE", "")
        env = {k: v for k, v in os.environ.items() if not (outside and k == "LD_PRELOAD")}
        self.process = subprocess.Popen([mosquitto_binary(), "-c", str(conf)], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if outside:
            Path(outside).write_text(str(self.process.pid))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"mosquitto exited: {err.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self  # listening (a TLS handshake is the client's business)
            except OSError:
                time.sleep(0.02)
        raise TimeoutError(f"mosquitto did not listen on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
