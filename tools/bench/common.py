"""Shared pieces of the benchmark suite: sizes, a station on real parts, statistics."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from contract.sealed import keygen
from station.config import Config, parse
from station.core.identity import nth_synthetic_id
from tools.broker import free_port


@dataclass(frozen=True)
class Size:
    latency_regs: int      # registrations paced at 10/s through the scanner pty
    durable_regs: int      # registrations as fast as the store takes them
    drain_events: int      # buffered events delivered to the broker
    day_regs: int          # a simulated day (and the registrations before the RSS reading)
    ingest_events: int     # events a collector stores, beside mosquitto_sub receiving them
    prompts: int = 200     # spoken prompts, each timed from the signal to the player
    cards: int = 100       # ID cards laid on the reader, each timed to "accepted"
    seals: int = 500       # persons sealed and opened, each way (tools/bench/sealing.py)


SIZES = {
    "full": Size(latency_regs=600, durable_regs=3000, drain_events=50_000, day_regs=5000,
                 ingest_events=20_000),
    "quick": Size(latency_regs=150, durable_regs=1500, drain_events=10_000, day_regs=5000,
                  ingest_events=5000, cards=40),
    "tiny": Size(latency_regs=5, durable_regs=30, drain_events=100, day_regs=60,
                 ingest_events=50, prompts=10, cards=3, seals=20),
}


def codes_for_day(count: int, pool: int = 10, tubes_per_box: int = 20) -> list[str]:
    """What a lane scans for `count` registrations: tubes, people, a box now and then."""
    codes: list[str] = []
    for n in range(count):
        if n % pool == 0:
            tube = n // pool
            if tube and tube % tubes_per_box == 0:
                codes.append("CMD:BOX")
            codes.append(f"T{tube + 1:06d}")
        codes.append(nth_synthetic_id(n + 1))
    return codes


def throwaway_key(folder: Path) -> Path:
    """A central key pair of the bench's own, made once in `folder`: the public key file,
    which the bench's stations seal to (their cost is part of every figure)."""
    public = folder / "bench.pub.jwk"
    if not public.exists():
        keygen(folder, "bench")
    return public


def station_toml(data_dir: Path, mqtt_url: str | None = None, scanner_port: str = "") -> str:
    """The bench's station: simulated devices unless a scanner port is given."""
    url = mqtt_url or f"mqtt://127.0.0.1:{free_port()}"
    scanner = f'[scanner]\ndriver = "serial"\nport = "{scanner_port}"\n' if scanner_port else ""
    key = throwaway_key(data_dir.parent / "keys")
    return (f'[station]\nid = "bench"\nsite = "bench"\ntube_prefix = "99"\n'
            f'data_dir = "{data_dir}"\n'
            f'tube_pattern = "T[0-9]{{6}}"\n[screen]\nlisten = ""\n'
            f'[privacy]\ncentral_key = "{key}"\n'
            f'[mqtt]\nurl = "{url}"\n{scanner}')


def station_config(data_dir: Path, mqtt_url: str | None = None, scanner_port: str = "") -> Config:
    return parse(station_toml(data_dir, mqtt_url, scanner_port), "bench")


def memory_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory now (VmRSS) or at its peak (VmHWM), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for pid {pid}")


def percentile(values: list[float], p: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def dir_size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.glob("station.db*")) / 1e6
