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
from central.reports import keys
from central.reports.catalogue import REPORTS, listed
from central.site_facts import (
    CUTOFF,
    MAX_TRANSIT,
    RESAMPLE_WITHIN,
    RETEST_RESULT_WITHIN,
    moment,
    time_zone,
    tz_option,
)
from central.store import db_check
from central.store.open import db_option, missing

if TYPE_CHECKING:
    from central.reports.custody import Rules
    from central.reports.followup import Bounds
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


def _days_and_login(args: argparse.Namespace) -> tuple[tuple[Any, dt.time], tuple[str, bytes]]:
    """The sites' zone and dispatch cutoff (for the custody gauge), and the broker login."""
    return ((time_zone(args.tz), cutoff_time(args.cutoff)),
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


def report(args: argparse.Namespace) -> int:
    from central.reports import reports  # noqa: PLC0415
    from central.reports.period import period  # noqa: PLC0415
    from central.reports.progress import Progress  # noqa: PLC0415

    if (why := missing(args.db)) is not None:
        return failed(CentralError(why))
    if args.format != "csv" and not args.output:
        return failed(Usage(f"--format {args.format} needs --output FILE"))
    if args.format == "pdf" and args.columns == "en":
        return failed(Usage("--format pdf is the printed Chinese layout: leave out --columns en"))
    if args.box and args.name != "register":
        return failed(Usage("--box: the register of one box (report register --box BOX)"))
    try:
        span = period(args.day, args.first, args.last, time_zone(args.tz))
        persons = keys.persons(keys.private_keys(args), args.name)
        text = reports.run(args.name, args.db, Path(args.output) if args.output else None,
                           Path(args.roster) if args.roster else None, fmt=args.format,
                           columns=args.columns, tz=args.tz, site=args.site, span=span,
                           progress=Progress(f"report {args.name} {span}"),
                           rules=custody_rules(args), box=args.box, persons=persons,
                           mark=not args.no_mark, encoding=args.encoding,
                           bounds=followup_bounds(args),
                           metrics_file=Path(args.metrics_file) if args.metrics_file else None)
    except REPORTED as exc:
        if keys.needs_key(exc) and args.output:
            Path(args.output).unlink(missing_ok=True)   # not half a report
        return failed(exc, f"report {args.name}")
    if not args.output:
        sys.stdout.write(text)
    return keys.said(persons, args.name)


def cutoff_time(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--cutoff {text!r}: not a time of day (HH:MM)") from None


def report_time(args: argparse.Namespace) -> dt.datetime:
    """--at, the local time a report judges what is late as of; default now."""
    return moment(args.at, "--at", time_zone(args.tz)) if args.at else dt.datetime.now(dt.UTC)


def hours_option(value: float, option: str) -> dt.timedelta:
    if value <= 0:
        raise ValueError(f"{option} {value}: hours, more than 0")
    return dt.timedelta(hours=value)


def followup_bounds(args: argparse.Namespace) -> Bounds:
    from central.reports.followup import Bounds  # noqa: PLC0415

    if args.metrics_file and args.name != "followup":
        raise Usage("--metrics-file: the follow-up's figures (report followup)")
    return Bounds(report_time(args), hours_option(args.resample_within, "--resample-within"),
                  hours_option(args.result_within, "--result-within"))


def custody_rules(args: argparse.Namespace) -> Rules:
    from central.reports.custody import Rules  # noqa: PLC0415

    cutoff = cutoff_time(args.cutoff)
    return Rules(report_time(args), hours_option(args.max_transit, "--max-transit"), cutoff)


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
    _report_command(sub)
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


def _report_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help=listed())
    p.add_argument("name", choices=list(REPORTS))
    db_option(p)
    p.add_argument("--output", help="write here (mode 0600) instead of standard output")
    p.add_argument("--roster", metavar="FILE",
                   help="the community's roster, xlsx or CSV (身份证号, 姓名, 联系电话, 现住址, "
                        "楼栋, 户, …): missing lists who on it was not sampled; positives, "
                        "results and resample fill each person's missing phone, name and "
                        "address from it, marked (名单补充). Read, never stored")
    p.add_argument("--encoding", default="",
                   help="the roster CSV's encoding (default: told by its bytes: UTF-8, "
                        "UTF-8 with BOM, GBK/GB18030)")
    p.add_argument("--format", choices=["csv", "xlsx", "pdf"], default="csv",
                   help="xlsx: laid out for A4 (title, widths, header on every page); pdf: "
                        "printed from that layout by LibreOffice; both need --output")
    p.add_argument("--box", default="", help="register: the record of one transport box, "
                                             "beside its handover slip")
    p.add_argument("--columns", choices=["zh", "en"], default="zh",
                   help="zh: Chinese headers and values, local times (核酸混采登记表); "
                        "en: English keys, UTC times, for programs")
    p.add_argument("--site", default="", help="only this site's events (default: all)")
    p.add_argument("--no-mark", action="store_true",
                   help="positives: a look that changes nothing; without it the results "
                        "listed are marked as recalled (the collector's "
                        "natest_recall_waiting falls)")
    keys.add_option(p)
    tz_option(p, "the sites' time zone: their days, and the times of --columns zh")
    _period_options(p)
    p.add_argument("--max-transit", type=float, default=MAX_TRANSIT.total_seconds() / 3600,
                   metavar="HOURS",
                   help="custody: a box not received this long after it left is flagged "
                        "(default 4)")
    p.add_argument("--cutoff", default=f"{CUTOFF:%H:%M}", metavar="HH:MM",
                   help="custody: tubes sealed before this local time and not dispatched "
                        "by it are flagged (default 17:00, an hour before 18:00)")
    _followup_options(p)
    p.add_argument("--at", metavar="'YYYY-MM-DD HH:MM'",
                   help="custody, followup: judge what should have arrived as of this local time "
                        "(default now)")


def _followup_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--resample-within", type=float, metavar="HOURS",
                   default=RESAMPLE_WITHIN.total_seconds() / 3600,
                   help="followup: a pool's person not sampled singly this long after the "
                        "pool's result is flagged (default 6, a default: no source gives one)")
    p.add_argument("--result-within", type=float, metavar="HOURS",
                   default=RETEST_RESULT_WITHIN.total_seconds() / 3600,
                   help="followup: a single tube without a result this long after its swab "
                        "is flagged (default 12, a default: no source gives one)")
    p.add_argument("--metrics-file", metavar="FILE",
                   help="followup: also write its figures (counts, nothing personal) here "
                        "for node_exporter's textfile collector")


def _period_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--day", metavar="YYYY-MM-DD",
                   help="the sites' local day to report (default: today)")
    p.add_argument("--from", dest="first", metavar="YYYY-MM-DD",
                   help="the first day of a period (a campaign's round)")
    p.add_argument("--to", dest="last", metavar="YYYY-MM-DD",
                   help="its last day (default: today)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                        stream=sys.stderr)
    try:
        commands = {"collect": collect, "report": report, "import-forms": import_forms,
                    "import-results": lab_cli.import_results,
                    "import-receipts": lab_cli.import_receipts, "receive": lab_cli.receive,
                    "keygen": keys.keygen, "check-db": db_check.check_db}
        return commands[args.command](args)
    except ModuleNotFoundError as exc:
        if exc.name not in CENTRAL_EXTRA:
            raise
        return failed(CentralError(
            f"{exc.name} is not installed; the central side needs its extra: pip install "
            "'natest-station[central]' (or '.[central]' in a checkout)"), "natest-central")


if __name__ == "__main__":
    sys.exit(main())
