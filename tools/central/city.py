"""`station bench central`: a city's collectors under many stations publishing at once.

For 50, 200 and 1,000 simulated stations (tools/central/loadgen.py, each with its own connection
and client id), in one run: what `mosquitto_sub` receives from the same broker (the
baseline), and what 1 collector stores into SQLite and 1, 2 and 4 collectors in one
`$share` group store into one PostgreSQL; p99 publish-to-commit latency and each
collector's peak memory. Every run checks every event was stored exactly once. Each
collector is a `natest-central collect` process of its own, as in production.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import contract
from tools.bench.common import memory_mb, percentile
from tools.broker import LocalBroker
from tools.central import stages
from tools.central.reports import report_rates, sealed_register

SITE = "city"


@dataclass(frozen=True)
class CentralSize:
    events: int                      # in all, per run
    stations: tuple[int, ...]
    collectors: tuple[int, ...]      # PostgreSQL runs
    report_events: int               # the database the reports are timed on


CENTRAL_SIZES = {
    "full": CentralSize(200_000, (50, 200, 1000), (1, 2, 4), 5_000_000),
    "quick": CentralSize(40_000, (50, 1000), (1, 2), 200_000),
    "tiny": CentralSize(2_000, (20,), (1, 2), 20_000),
}


class CollectorProcess:
    """`natest-central collect` in a process of its own; up once it has subscribed."""

    def __init__(self, broker: LocalBroker, db: str, name: str, work: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "central.cli", "collect", "--mqtt-url", broker.url,
             "--db", db, "--group", "bench", "--client-id", name,
             "--state-dir", str(work / "state")],
            stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.subscribed = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.subscribed.wait(30):
            self.stop()
            raise RuntimeError(f"collector {name} did not subscribe: {self.lines[-5:]}")

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip())
            if "subscribed as" in line:
                self.subscribed.set()

    def peak_rss_mb(self) -> float:
        return memory_mb(self.proc.pid, "VmHWM")   # the peak

    def cpu_s(self) -> float:
        """User and system CPU the process has used: steady on a shared machine where
        events/s are not (its fields 14 and 15 of /proc/PID/stat, in clock ticks)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Database:
    """Read-only views the bench needs of the collectors' database, either dialect."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.pg = "://" in target
        if self.pg:
            import psycopg  # noqa: PLC0415 - only where PostgreSQL is benched

            self.conn: Any = psycopg.connect(target, autocommit=True)
        else:
            self.conn = sqlite3.connect(target, timeout=30)

    def value(self, sql: str) -> Any:
        try:
            row = self.conn.execute(sql).fetchone()
        except sqlite3.OperationalError as exc:   # tables not made yet
            if "no such table" in str(exc):
                return 0
            raise
        return row[0] if row else 0

    def contiguous(self) -> int:
        return int(self.value("SELECT coalesce(sum(contiguous), 0) FROM stations") or 0)

    def latencies(self, sent_at: dict[str, list[tuple[int, float]]]) -> list[float]:
        """Seconds from a sampled event's publish to its batch's commit."""
        sent = {(station, seq): moment for station, pairs in sent_at.items()
                for seq, moment in pairs}
        out = []
        for station, seq, received in self.conn.execute(
                "SELECT station, seq, received_at FROM events WHERE seq % 10 = 1").fetchall():
            if (station, seq) not in sent:
                continue
            moment = received.timestamp() if self.pg else _unix(received)
            out.append(moment - sent[station, seq])
        return out

    def close(self) -> None:
        self.conn.close()


def _unix(rfc3339: str) -> float:
    import datetime as dt  # noqa: PLC0415

    return dt.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def _loadgen(broker: LocalBroker, stations: int, per_station: int, *,
             sealed: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tools.central.loadgen", "--port", str(broker.port), "--site", SITE,
         "--stations", str(stations), "--events", str(per_station),
         *(["--sealed"] if sealed else [])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(gen: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = gen.communicate(timeout=1200)
    if gen.returncode != 0:
        raise RuntimeError(f"the load generator failed: {err.strip()[-500:]}")
    result: dict[str, Any] = json.loads(out)
    return result


def subscriber_rate(stations: int, per_station: int) -> float:
    """mosquitto_sub, QoS 1, receiving the same load: what any consumer can reach here."""
    total = stations * per_station
    with LocalBroker() as broker:
        sub = subprocess.Popen(["mosquitto_sub", "-p", str(broker.port), "-h", "127.0.0.1",
                                "-q", "1", "-t", contract.ALL_TOPICS, "-C", str(total)],
                               stdout=subprocess.DEVNULL)
        time.sleep(0.5)  # it cannot say when it has subscribed
        gen = _loadgen(broker, stations, per_station)
        deadline = float("inf")
        while sub.poll() is None:
            time.sleep(0.005)
            if gen.poll() is not None and deadline == float("inf"):
                deadline = time.monotonic() + 60   # published: the rest is in transit
            if time.monotonic() > deadline:
                sub.kill()
                raise RuntimeError(f"mosquitto_sub did not receive all {total} events")
        ended = time.time()
        started = float(_finish(gen)["started"])
    return total / (ended - started)


@contextmanager
def _collectors(broker: LocalBroker, db: str, count: int, work: Path) -> Iterator[
        list[CollectorProcess]]:
    running: list[CollectorProcess] = []
    try:
        for n in range(count):
            running.append(CollectorProcess(broker, db, f"bench-collector-{n + 1}", work))
        yield running
    finally:
        for collector in running:
            collector.stop()


def collector_run(db: str, collectors: int, stations: int, per_station: int,
                  work: Path, *, sealed: bool = False) -> dict[str, Any]:
    """Events/s stored (publish start to the last event's commit), p99 latency, memory;
    raises if any event is missing or stored twice. `sealed`: the stations seal their
    persons, as they do unless a lab bench turns it off."""
    total = stations * per_station
    with LocalBroker() as broker, _collectors(broker, db, collectors, work) as procs:
        store = Database(db)
        idle_cpu = sum(p.cpu_s() for p in procs)
        gen = _loadgen(broker, stations, per_station, sealed=sealed)
        stored, moved = 0, time.monotonic()
        while stored < total:
            time.sleep(0.02)
            if (now := store.contiguous()) != stored:
                stored, moved = now, time.monotonic()
            elif time.monotonic() - moved > 60 or gen.poll() not in (None, 0):
                quarantined = store.value("SELECT count(*) FROM quarantine")
                raise RuntimeError(f"stored {stored} of {total} events, then nothing for "
                                   f"60 s; quarantined: {quarantined}")
        ended = time.time()
        cpu = sum(p.cpu_s() for p in procs) - idle_cpu
        published = _finish(gen)
        rss = [p.peak_rss_mb() for p in procs]
        rows = int(store.value("SELECT count(*) FROM events"))
        if rows != total:
            raise RuntimeError(f"{rows} rows for {total} events: not each stored once")
        latency = store.latencies(published["sent_at"])
        store.close()
        # A deadlock between collectors, or any other failed commit, is logged and its
        # batch is not acknowledged: the run completes, so count them to be seen.
        failed = sum("could not store a batch" in line for p in procs for line in p.lines)
    return {"per_s": total / (ended - published["started"]),
            "latency_p99_ms": percentile(latency, 99) * 1000,
            "latency_p50_ms": statistics.median(latency) * 1000,
            "rss_mb": max(rss), "failed_batches": failed,
            "cpu_us_per_event": cpu / total * 1e6}


def central(size: CentralSize, work: Path, log: Callable[[str], None],
            pg_dsn: Callable[[], Any] | None) -> dict[str, Any]:
    """Every figure of the central bench; `pg_dsn` opens a fresh PostgreSQL (or None)."""
    results: dict[str, Any] = {"central_events": size.events}
    runs: list[tuple[str, Callable[[int, int], dict[str, Any] | float]]] = [
        ("mosquitto_sub", subscriber_rate),
        ("sqlite_1", lambda st, per: collector_run(
            str(work / f"central-{st}.db"), 1, st, per, work))]
    if pg_dsn is not None:
        runs += [(f"postgresql_{n}", partial(_pg_run, pg_dsn, n, work=work))
                 for n in size.collectors]
    # The same load with every person sealed, beside one collector of each store: #28's
    # "ingest does not fall", as the collector stores a sealed person without opening it.
    sealed_runs: list[tuple[str, Callable[[int, int], dict[str, Any] | float]]] = [
        ("sqlite_1_sealed", lambda st, per: collector_run(
            str(work / f"central-{st}-sealed.db"), 1, st, per, work, sealed=True))]
    if pg_dsn is not None:
        sealed_runs.append(("postgresql_1_sealed",
                            partial(_pg_run, pg_dsn, 1, work=work, sealed=True)))
    for stations in size.stations:
        per_station = size.events // stations
        for name, run in runs + (sealed_runs if stations == size.stations[0] else []):
            log(f"  {stations} stations, {name} …")
            figure = run(stations, per_station)
            key = f"central_{stations}_{name}"
            if isinstance(figure, float):
                results[f"{key}_per_s"] = figure
            else:
                results.update({f"{key}_{k}": v for k, v in figure.items()})
    log("  the collector's stages, one by one …")
    stores = {"sqlite": stages.sqlite_files(work)}
    if pg_dsn is not None:
        stores["postgresql"] = pg_dsn
    results.update({f"stage_{k}": v for k, v in stages.stage_costs(stores).items()})
    log(f"  reports on {size.report_events:,} events …")
    if pg_dsn is not None:
        with pg_dsn() as dsn:
            rates = report_rates(dsn, size.report_events, work)
        log(f"  the register on {size.report_events:,} sealed events …")
        with pg_dsn() as dsn:
            rates.update(sealed_register(dsn, size.report_events, work))
    else:
        rates = report_rates(str(work / "reports.db"), size.report_events, work)
        log(f"  the register on {size.report_events:,} sealed events …")
        rates.update(sealed_register(str(work / "reports-sealed.db"), size.report_events,
                                     work))
    results.update({f"reports_{k}": v for k, v in rates.items()})
    results["reports_database"] = "postgresql" if pg_dsn is not None else "sqlite"
    return results


def _pg_run(pg_dsn: Callable[[], Any], collectors: int, stations: int, per_station: int, *,
            work: Path, sealed: bool = False) -> dict[str, Any]:
    with pg_dsn() as dsn:
        return collector_run(dsn, collectors, stations, per_station, work, sealed=sealed)


def table(results: dict[str, Any], size: CentralSize) -> str:
    lines = [f"{'stations':>8}  {'run':<20}{'events/s':>10}  {'× sub':>6}  {'p50 ms':>7}  "
             f"{'p99 ms':>7}  {'RSS MB':>7}  {'CPU µs/event':>12}"]
    for stations in size.stations:
        base = results.get(f"central_{stations}_mosquitto_sub_per_s", 0.0)
        lines.append(f"{stations:>8}  {'mosquitto_sub':<20}{base:>10.0f}")
        for name in ["sqlite_1", "sqlite_1_sealed",
                     *(f"postgresql_{n}" for n in size.collectors), "postgresql_1_sealed"]:
            key = f"central_{stations}_{name}"
            if f"{key}_per_s" not in results:
                continue
            rate = results[f"{key}_per_s"]
            lines.append(f"{'':>8}  {name:<20}{rate:>10.0f}  {rate / base:>6.2f}  "
                         f"{results[f'{key}_latency_p50_ms']:>7.0f}  "
                         f"{results[f'{key}_latency_p99_ms']:>7.0f}  "
                         f"{results[f'{key}_rss_mb']:>7.0f}  "
                         f"{results[f'{key}_cpu_us_per_event']:>12.1f}")
    costs = {k.removeprefix("stage_"): v for k, v in results.items() if k.startswith("stage_")}
    first = size.stations[0]
    runs = {store: results[f"central_{first}_{store}_1_cpu_us_per_event"]
            for store in ("sqlite", "postgresql")
            if f"central_{first}_{store}_1_cpu_us_per_event" in results}
    if costs:
        lines += ["", *stages.table(costs, runs)]
    if "reports_events" in results:
        lines.append(f"\nreports on {results['reports_events']:,} events "
                     f"({results['reports_database']}; written at "
                     f"{results['reports_write_per_s']:,.0f} rows/s):")
        for name in ("register_one_site", "register_all", "totals", "missing"):
            lines.append(f"  {name:<18}{results[f'reports_{name}_s']:>8.1f} s  "
                         f"{results[f'reports_{name}_events_per_s']:>10,.0f} events/s  "
                         f"{results[f'reports_{name}_rows']:>10,} rows")
        for name in ("register_one_site", "register_all"):
            if f"reports_{name}_sealed_s" in results:
                sealed_s, plain_s = (results[f"reports_{name}_sealed_s"],
                                     results[f"reports_{name}_s"])
                lines.append(f"  {name} sealed {sealed_s:>8.1f} s: {sealed_s / plain_s:.2f}× "
                             f"the plain {plain_s:.1f} s (#28: ≤ 1.5×), "
                             f"{results[f'reports_{name}_sealed_rows']:,} rows")
    return "\n".join(lines)


@contextmanager
def fresh_databases() -> Iterator[Callable[[], Any]]:
    """One private PostgreSQL cluster; each run gets a database of its own in it."""
    import psycopg  # noqa: PLC0415

    from tools.central.postgres import postgres  # noqa: PLC0415

    with postgres() as dsn:
        admin = psycopg.connect(dsn, autocommit=True)
        made = iter(range(1, 1000))

        @contextmanager
        def fresh() -> Iterator[str]:
            name = f"bench_{next(made)}"
            admin.execute(f"CREATE DATABASE {name}")
            try:
                yield dsn.rsplit("/", 1)[0] + "/" + name
            finally:
                admin.execute(f"DROP DATABASE {name} WITH (FORCE)")

        try:
            yield fresh
        finally:
            admin.close()


def main(size_name: str, json_path: str | None) -> int:
    import importlib.util  # noqa: PLC0415

    from tools.bench import machine  # noqa: PLC0415
    from tools.central.postgres import bindir  # noqa: PLC0415

    size = CENTRAL_SIZES[size_name]
    print(f"station bench central ({size_name}): {size.events:,} events per run, "
          f"stations {', '.join(map(str, size.stations))}", flush=True)
    with tempfile.TemporaryDirectory(prefix="natest-bench-central-") as tmp:
        if importlib.util.find_spec("psycopg") is None or bindir() is None:
            print("  (PostgreSQL runs skipped: needs psycopg and Debian's postgresql)",
                  flush=True)
            results = central(size, Path(tmp), print, None)
        else:
            with fresh_databases() as fresh:
                results = central(size, Path(tmp), lambda line: print(line, flush=True),
                                  fresh)
    print(table(results, size))
    if json_path:
        Path(json_path).write_text(json.dumps({"size": size_name, "machine": machine(),
                                               **results}, indent=2) + "\n")
    return 0
