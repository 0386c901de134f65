"""A Patroni cluster as a city runs one, from Debian's packages, on loopback: three etcd
members, two PostgreSQL members under Patroni (synchronous_mode), and HAProxy sending
the collector to the leader. Started and stopped by the test run, and by scripts/ha-bench.

The engines read the project's own files as they are: config/etcd/etcd.env,
config/patroni/patroni.yml and config/haproxy.cfg. What differs between members (names,
ports, folders, passwords) goes in as environment variables, which each engine reads
itself (etcd its ETCD_*, Patroni its PATRONI_*, HAProxy "${NAME}" in its file): the
same variables a city's hosts set in their units' EnvironmentFile.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.broker import free_port
from tools.central.postgres import bindir

CONFIG = Path(__file__).resolve().parents[2] / "config"
ENGINES = ("etcd", "patroni", "patronictl", "haproxy")
AS_POSTGRES = os.geteuid() == 0   # PostgreSQL refuses root: Patroni runs as 'postgres'


def missing_engines() -> list[str]:
    """The programs of Debian's patroni, etcd-server and haproxy not installed here."""
    found = [name for name in ENGINES
             if shutil.which(name) is None and not Path("/usr/sbin", name).exists()]
    return found + (["postgresql"] if bindir() is None else [])


def env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, as systemd's EnvironmentFile reads them (comments skipped)."""
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def waited(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.2)


@dataclass
class Process:
    """One engine's process, its log in its folder."""
    argv: list[str]
    env: dict[str, str]
    log: Path
    as_postgres: bool = False
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv, env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT,
                user="postgres" if self.as_postgres and AS_POSTGRES else None,
                start_new_session=True)

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def send(self, sig: signal.Signals) -> None:
        if self.running:
            assert self.popen is not None
            self.popen.send_signal(sig)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> None:
        if self.popen is None:
            return
        self.send(sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


@dataclass
class Member:
    """A database host: its Patroni (which runs its PostgreSQL) and their ports."""
    name: str
    pg_port: int
    rest_port: int
    data_dir: Path
    patroni: Process

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    def postmaster_pid(self) -> int:
        return int((self.data_dir / "postmaster.pid").read_text().split()[0])


@dataclass
class PatroniCluster:
    folder: Path
    password: str = field(default_factory=lambda: secrets.token_hex(12))
    etcd: list[Process] = field(default_factory=list)
    etcd_ports: list[int] = field(default_factory=list)
    members: dict[str, Member] = field(default_factory=dict)
    haproxy: Process | None = None
    haproxy_port: int = 0

    def start(self, members: int = 2, etcd_up: bool = True) -> PatroniCluster:
        self._make_etcd()
        if etcd_up:
            self.start_etcd()
        for n in range(1, members + 1):
            self._make_member(f"pg{n}")
        for member in self.members.values():
            member.patroni.start()
        self._start_haproxy()
        if etcd_up:
            self.wait_healthy(120)
        return self

    # etcd ------------------------------------------------------------------------
    def _make_etcd(self) -> None:
        common = env_file(CONFIG / "etcd" / "etcd.env")
        ports = [(free_port(), free_port()) for _ in range(3)]
        self.etcd_ports = [client for client, _ in ports]
        initial = ",".join(f"etcd{n}=http://127.0.0.1:{peer}"
                           for n, (_, peer) in enumerate(ports, start=1))
        for n, (client, peer) in enumerate(ports, start=1):
            env = {**common, "ETCD_NAME": f"etcd{n}",
                   "ETCD_DATA_DIR": str(self.folder / f"etcd{n}"),
                   "ETCD_LISTEN_PEER_URLS": f"http://127.0.0.1:{peer}",
                   "ETCD_INITIAL_ADVERTISE_PEER_URLS": f"http://127.0.0.1:{peer}",
                   "ETCD_LISTEN_CLIENT_URLS": f"http://127.0.0.1:{client}",
                   "ETCD_ADVERTISE_CLIENT_URLS": f"http://127.0.0.1:{client}",
                   "ETCD_INITIAL_CLUSTER": initial}
            self.etcd.append(Process(["etcd"], env, self.folder / f"etcd{n}.log"))

    def start_etcd(self, which: list[int] | None = None) -> None:
        """The members named (all by default) that are not running."""
        for n in which if which is not None else range(len(self.etcd)):
            if not self.etcd[n].running:
                self.etcd[n].start()

    @property
    def etcd_hosts(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.etcd_ports)

    def etcd_leader(self) -> int:
        """The index of the etcd member that leads its cluster now."""
        for n, port in enumerate(self.etcd_ports):
            if not self.etcd[n].running:
                continue
            status = _get_json(f"http://127.0.0.1:{port}/v3/maintenance/status", post=b"{}")
            if status and status.get("leader") == status.get("header", {}).get("member_id"):
                return n
        raise LookupError("no etcd member leads")

    # Patroni and PostgreSQL ------------------------------------------------------
    def _make_member(self, name: str) -> None:
        pg_port, rest_port = free_port(), free_port()
        home = self.folder / name
        home.mkdir(mode=0o700)
        if AS_POSTGRES:
            shutil.chown(home, "postgres", "postgres")
        env = self.patroni_env(name, pg_port, rest_port, home)
        patroni = Process(["patroni", str(CONFIG / "patroni" / "patroni.yml")], env,
                          self.folder / f"{name}.log", as_postgres=True)
        self.members[name] = Member(name, pg_port, rest_port, home / "data", patroni)

    def patroni_env(self, name: str, pg_port: int, rest_port: int, home: Path) -> dict[str, str]:
        """A member's PATRONI_* variables (the EnvironmentFile of its host's unit)."""
        return {"PATRONI_NAME": name,
                "PATRONI_RESTAPI_LISTEN": f"127.0.0.1:{rest_port}",
                "PATRONI_RESTAPI_CONNECT_ADDRESS": f"127.0.0.1:{rest_port}",
                "PATRONI_POSTGRESQL_LISTEN": f"127.0.0.1:{pg_port}",
                "PATRONI_POSTGRESQL_CONNECT_ADDRESS": f"127.0.0.1:{pg_port}",
                "PATRONI_POSTGRESQL_DATA_DIR": str(home / "data"),
                "PATRONI_POSTGRESQL_PGPASS": str(home / "pgpass"),
                "PATRONI_POSTGRESQL_BIN_DIR": str(bindir()),
                "PATRONI_ETCD3_HOSTS": self.etcd_hosts,
                "PATRONI_SUPERUSER_PASSWORD": self.password,
                "PATRONI_REPLICATION_PASSWORD": self.password}

    def cluster_view(self) -> list[dict[str, Any]]:
        """The members as Patroni's REST API lists them (from any member that answers)."""
        for member in self.members.values():
            view = _get_json(f"{member.rest}/cluster")
            if view is not None:
                return list(view.get("members", []))
        return []

    def role(self, role: str) -> str | None:
        for member in self.cluster_view():
            if member.get("role") == role and member.get("state") in ("running", "streaming"):
                return str(member["name"])
        return None

    def leader(self) -> str:
        name = self.role("leader")
        if name is None:
            raise LookupError("no leader")
        return name

    def healthy(self) -> bool:
        """A leader running and a synchronous standby streaming from it, writable through
        HAProxy: the state every fault starts from."""
        if self.role("leader") is None or self.role("sync_standby") is None:
            return False
        leader = self.members[str(self.role("leader"))]
        return _get_status(f"{leader.rest}/primary") == 200 and self.writable()

    def wait_healthy(self, timeout: float = 60) -> None:
        waited(self.healthy, timeout, "a leader and a synchronous standby")

    def writable(self) -> bool:
        import psycopg  # noqa: PLC0415 - the central extra

        try:
            with psycopg.connect(self.dsn(connect_timeout=2), autocommit=True) as conn:
                return conn.execute("SELECT NOT pg_is_in_recovery()").fetchone() == (True,)
        except psycopg.Error:
            return False

    def patronictl(self, *args: str) -> str:
        done = subprocess.run(
            ["patronictl", "-c", str(CONFIG / "patroni" / "patroni.yml"), *args],
            env={**os.environ, "PATRONI_ETCD3_HOSTS": self.etcd_hosts},
            capture_output=True, text=True, timeout=60, check=True)
        return done.stdout

    def switchover(self, to: str) -> None:
        self.patronictl("switchover", "--leader", self.leader(), "--candidate", to,
                        "--force", "natest")

    def kill_postmaster(self, name: str) -> None:
        os.kill(self.members[name].postmaster_pid(), signal.SIGKILL)

    # HAProxy ----------------------------------------------------------------------
    def _start_haproxy(self) -> None:
        self.haproxy_port = free_port()
        pg1, pg2 = list(self.members.values())[:2]
        env = {"NATEST_HAPROXY_LISTEN": f"127.0.0.1:{self.haproxy_port}",
               "NATEST_PG1": f"127.0.0.1:{pg1.pg_port}", "NATEST_PATRONI1": str(pg1.rest_port),
               "NATEST_PG2": f"127.0.0.1:{pg2.pg_port}", "NATEST_PATRONI2": str(pg2.rest_port)}
        self.haproxy = Process([shutil.which("haproxy") or "/usr/sbin/haproxy", "-db", "-f",
                                str(CONFIG / "haproxy.cfg")], env, self.folder / "haproxy.log")
        self.haproxy.start()

    # What the collector is given -----------------------------------------------------
    def dsn(self, connect_timeout: int = 3) -> str:
        """Through HAProxy, as config/haproxy.cfg has a collector connect."""
        return (f"postgresql://postgres:{self.password}@127.0.0.1:{self.haproxy_port}"
                f"/postgres?connect_timeout={connect_timeout}")

    def hosts_dsn(self) -> str:
        """Every member's host in the DSN, libpq choosing the writable one."""
        hosts = ",".join(f"127.0.0.1:{m.pg_port}" for m in self.members.values())
        return (f"postgresql://postgres:{self.password}@{hosts}/postgres"
                "?target_session_attrs=read-write&connect_timeout=3")

    def member_dsn(self, name: str) -> str:
        return (f"postgresql://postgres:{self.password}@127.0.0.1:"
                f"{self.members[name].pg_port}/postgres?connect_timeout=3")

    def stop(self) -> None:
        if self.haproxy is not None:
            self.haproxy.stop()
        for member in self.members.values():
            member.patroni.stop(timeout=30)
            _stop_orphan(member)
        for etcd in self.etcd:
            etcd.stop()

    def logs(self) -> str:
        """The last lines of every engine's log, for a failure's report."""
        return "\n".join(f"== {log.name}\n" + "\n".join(log.read_text(errors="replace")
                                                       .splitlines()[-15:])
                         for log in sorted(self.folder.glob("*.log")))


def _stop_orphan(member: Member) -> None:
    """A PostgreSQL whose Patroni was killed keeps running: stop it too."""
    with suppress(OSError, ValueError):
        os.kill(member.postmaster_pid(), signal.SIGQUIT)


def _get_json(url: str, post: bytes | None = None) -> Any:
    try:
        with urllib.request.urlopen(url, data=post, timeout=2) as answer:
            return json.loads(answer.read())
    except (OSError, ValueError):
        return None


def _get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code
    except OSError:
        return 0


@contextmanager
def patroni_cluster(members: int = 2, etcd_up: bool = True) -> Iterator[PatroniCluster]:
    """Started; with `etcd_up` false its Patroni members wait for etcd (start_etcd)."""
    folder = Path(tempfile.mkdtemp(prefix="natest-patroni-"))
    os.chmod(folder, 0o755)   # the members' folders inside are postgres's own
    cluster = PatroniCluster(folder)
    try:
        yield cluster.start(members, etcd_up)
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
