"""The `natest-central` command: collect what stations publish, and report on it."""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import logging
import signal
import ssl
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from central.errors import FAILED, OK, REPORTED, CentralError, Usage, failed
from central.intake import lab_cli
from central.reports import index_cli, keys, report_cli
from central.site_facts import (
    CUTOFF,
    RESULT_DUE,
    cutoff_time,
    time_zone,
    tz_option,
)
from central.store import db_check
from central.store.open import db_option, missing

if TYPE_CHECKING:
    from contract.sealer import Sealer

COLLECT = "natest-central collect"   # what each of its lines on stderr begins with

# What `pip install '.[central]'` adds; a Pi's plain install has none of them.
CENTRAL_EXTRA = ("jsonschema_rs", "orjson", "openpyxl", "psycopg", "prometheus_client")


def _tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The TLS options, checked before anything else: the context, or None for none."""
    from central.ingest.session_rules import tls_context  # noqa: PLC0415 - needs the central extra

    if bool(args.cert_file) != bool(args.key_file):
        raise Usage("--cert-file and --key-file go together")
    if not (args.ca_file or args.cert_file):
        return None
    if not args.mqtt_url.startswith("mqtts://"):
        raise Usage(f"--ca-file/--cert-file need an mqtts:// url, not {args.mqtt_url}")
    try:
        return tls_context(args.ca_file, args.cert_file, args.key_file)
    except (OSError, ValueError) as exc:   # ssl.SSLError is an OSError
        raise CentralError(f"TLS files ({args.ca_file or 'system CAs'}, "
                           f"{args.cert_file or 'no certificate'}): {exc}") from exc


def collect(args: argparse.Namespace) -> int:
    from central.ingest import client_id  # noqa: PLC0415
    from central.ingest.collector import Collector  # noqa: PLC0415

    try:
        tls, days, login = _prepared(args)
        state_dir = Path(args.state_dir) if args.state_dir else client_id.default_state_dir()
        claimed = client_id.claim(state_dir, args.group, args.instance, args.client_id)
    except (CentralError, OSError) as exc:   # ClientIdInUse; a state folder not made
        return failed(exc, COLLECT)
    # Between receipt and commit a collector holds thousands of parsed messages (dicts and
    # lists). At the default threshold (700) the cyclic collector ran ~590 times per
    # 100,000 events from 50 stations, walking the held batches each time: 0.7-0.8 s of
    # CPU, 7-8 µs an event, a fifth of the collector's (gc.callbacks, in the collector's
    # process). The messages hold no cycles, reference counting frees them; at 100,000 it
    # did not run once. What the start made is frozen out of every collection.
    gc.freeze()
    gc.set_threshold(100_000, 10, 10)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    logging.getLogger("central").info("collecting as client id %s", claimed.client_id)
    try:
        collector = Collector(args.mqtt_url, args.db, args.group, client_id=claimed.client_id,
                              session_expiry_s=args.session_expiry, announce=args.announce,
                              tls=tls, days=days, login=login)
        if args.leave:
            return leave_group(collector)
        if args.metrics:
            collector.metrics.serve(args.metrics)
        collector.run(stop)
    except CentralError as exc:   # SessionTakenOver; CollectorRefused, not restarted on
        return failed(exc, COLLECT)
    finally:
        claimed.release()
    return OK


def leave_group(collector: Any) -> int:
    """`collect --leave`: resume this instance's session, store what it holds, end it."""
    from central.ingest.leave import leave  # noqa: PLC0415

    collector.start()
    if not collector.subscribed.wait(30):
        collector.stop()
        return failed(CentralError(f"{collector.client_id} could not resume its session (is "
                                   "the broker there?): nothing was left"), f"{COLLECT} --leave")
    try:
        stored = leave(collector)
    except TimeoutError as exc:
        collector.stop()
        return failed(exc, f"{COLLECT} --leave")
    print(f"{collector.client_id} left group {collector.group or '(none)'}: its session is "
          f"ended, {stored} events stored on the way out")
    return OK


def _prepared(args: argparse.Namespace) -> tuple[Any, Any, tuple[str, bytes]]:
    """TLS, the sites' days and the broker login, checked: a zone, a cutoff or a password
    file that will not do is a usage error, which the unit does not restart on."""
    tls = _tls(args)
    try:
        days, login = _days_and_login(args)
    except (ValueError, OSError) as exc:   # the parsers' and the OS's: said as they are
        raise Usage(str(exc)) from exc
    return tls, days, login


def _days_and_login(args: argparse.Namespace) -> tuple[tuple[Any, dt.time, dt.timedelta],
                                                      tuple[str, bytes]]:
    """The sites' zone, dispatch cutoff and a lab's result bound (for the lab gauges), and
    the broker login."""
    return ((time_zone(args.tz), cutoff_time(args.cutoff),
             report_cli.hours_option(args.result_due, "--result-due")),
            (args.username, read_password(args.password_file, args.username)))


def read_password(path: str, username: str) -> bytes:
    """The broker password from its file (one line), only if no one else can read it."""
    if not path:
        return b""
    if not username:
        raise ValueError("--password-file goes with --username")
    mode = Path(path).stat().st_mode & 0o777
    if mode & 0o077:
        raise ValueError(f"{path}: readable by others (mode {mode:04o}): chmod 600 it")
    return Path(path).read_bytes().rstrip(b"\r\n")


def _sealer(path: Path) -> Sealer:
    """A Sealer to the one public key in `path` (keygen's KID.pub.jwk)."""
    from contract import sealed  # noqa: PLC0415
    from contract.sealer import Sealer  # noqa: PLC0415

    found = sealed.read_keys(path, private=False)
    if len(found) != 1:
        raise sealed.KeyFileError(f"{path}: holds {len(found)} keys; give the file of the "
                                  "one to seal to")
    return Sealer(found[0])


def import_forms(args: argparse.Namespace) -> int:
    from central.intake import forms  # noqa: PLC0415
    from central.store.open import open_store  # noqa: PLC0415

    if (why := missing(args.db)) is not None:
        return failed(CentralError(why))
    try:
        rows, problems = forms.read(Path(args.csv))
        stored = forms.plain_rows(rows) if args.plain else forms.sealed_rows(
            rows, _sealer(Path(args.seal_to)))
    except REPORTED as exc:   # KeyFileError names the key file
        return failed(exc, "import-forms")
    if args.plain:
        print("import-forms --plain: the cards' persons are stored IN PLAINTEXT",
              file=sys.stderr)
    store = open_store(args.db)
    try:
        store.import_forms(stored, dt.datetime.now(dt.UTC))
    finally:
        store.close()
    for problem in problems:   # names no person: the line and the card's serial
        print(problem, file=sys.stderr)
    print(f"imported {len(rows)} cards" + (f"; {len(problems)} refused (above): correct "
                                           "them and import the file again" if problems
                                           else ""))
    return FAILED if problems else OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="natest-central", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    _collect_command(sub)
    p = sub.add_parser("import-forms",
                       help="the typed data of paper information cards (CSV: serial, "
                            "id_number, name, phone; optional id_type, guardian_id_type)")
    p.add_argument("csv", help="the CSV file (UTF-8, with a header row)")
    db_option(p)
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--seal-to", metavar="PUBLIC_KEY",
                     help="central's public key (keygen's KID.pub.jwk): each card's person "
                          "is stored sealed, and reports open it with --private-key")
    how.add_argument("--plain", action="store_true",
                     help="store the persons in the clear (a test database only)")
    report_cli.add_command(sub)
    index_cli.add_command(sub)
    lab_cli.add_commands(sub)
    keys.add_command(sub)
    db_check.add_command(sub)
    return parser


def _collect_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("collect", help="the reference collector: store what stations send")
    p.add_argument("--mqtt-url", required=True, help="mqtt://host:port of the broker")
    db_option(p, "a SQLite file, or a postgresql://user@host/db DSN")
    p.add_argument("--group", default="", help="share the load: $share/GROUP subscription")
    p.add_argument("--client-id", default="",
                   help="the MQTT client id (default: one kept per --instance in --state-dir)")
    p.add_argument("--instance", default="1",
                   help="which collector of this host and group (default 1): each keeps its "
                        "own client id, so the broker queues for it while it restarts")
    p.add_argument("--state-dir", help="where the client ids are kept (default: systemd's "
                                       "STATE_DIRECTORY, else ~/.local/state/natest-central)")
    p.add_argument("--announce", action="store_true",
                   help="say on the group's state topic that this collector is online "
                        "(stations with [mqtt] require_central = GROUP wait for it)")
    p.add_argument("--metrics", metavar="HOST:PORT",
                   help="serve Prometheus metrics at http://HOST:PORT/metrics")
    p.add_argument("--session-expiry", type=int, default=3600, metavar="SECONDS",
                   help="how long the broker keeps queuing while this collector is away")
    p.add_argument("--ca-file", default="", metavar="FILE",
                   help="mqtts: the CA that signed the broker's certificate (default: the "
                        "system's CAs)")
    p.add_argument("--cert-file", default="", metavar="FILE",
                   help="mqtts: this collector's client certificate (with --key-file)")
    p.add_argument("--key-file", default="", metavar="FILE",
                   help="mqtts: its private key")
    p.add_argument("--leave", action="store_true",
                   help="retire this instance from its group for good: resume its session, "
                        "store what it holds, end the session so the others get its share")
    p.add_argument("--username", default="", help="log in to the broker as this user")
    p.add_argument("--password-file", default="", metavar="FILE",
                   help="its password, alone in a file only the service user can read "
                        "(mode 0600); never logged")
    tz_option(p, "the sites' time zone, for the dispatch cutoff's metric")
    p.add_argument("--cutoff", default=f"{CUTOFF:%H:%M}", metavar="HH:MM",
                   help="tubes sealed before this local time and not handed to a courier "
                        "by it are counted in natest_tubes_not_dispatched_at_cutoff")
    p.add_argument("--result-due", type=float, metavar="HOURS",
                   default=RESULT_DUE.total_seconds() / 3600,
                   help="tubes a lab received this long ago without a result are counted in "
                        "natest_lab_results_overdue (default 12, as report labs)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                        stream=sys.stderr)
    try:
        commands = {"collect": collect, "report": report_cli.report,
                    "import-forms": import_forms,
                    "import-results": lab_cli.import_results,
                    "import-receipts": lab_cli.import_receipts, "receive": lab_cli.receive,
                    "keygen": keys.keygen, "check-db": db_check.check_db,
                    "index": index_cli.index}
        return commands[args.command](args)
    except ModuleNotFoundError as exc:
        if exc.name not in CENTRAL_EXTRA:
            raise
        return failed(CentralError(
            f"{exc.name} is not installed; the central side needs its extra: pip install "
            "'natest-station[central]' (or '.[central]' in a checkout)"), "natest-central")


if __name__ == "__main__":
    sys.exit(main())
