"""The `station` command: what a technician types."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading

from station import lab_settings
from station.config import ConfigError, CredentialError, load
from station.core.errors import StationError
from station.exit_status import FAILED, OK, Usage, failed, status_of


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def check_config(path: str, probe: bool = False) -> int:
    try:
        config = load(path, refuse_examples=True)   # a lane's, not the skeleton's prefix
    except ConfigError as exc:
        print(f"{len(exc.problems)} problem(s) in the configuration:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return status_of(exc, "check-config")
    s = config.station
    print(f"{path}: OK — station {s.id} at {s.site}, pool {s.pool_size}, tubes {s.tubes}, "
          f"broker {config.mqtt.url}, data in {s.data_dir}")
    for warning in lab_settings.warnings(config):
        print(f"WARNING: {warning}", file=sys.stderr)
    if not probe:
        return OK
    from station.tech import probe as devices  # noqa: PLC0415 - opens ports: only when asked

    findings = devices.probe(config)
    print("Probed as the daemon would open them:")
    print(devices.report(findings))
    broken = [f.part for f in findings if not f.ok]
    if broken:
        print(f"{len(broken)} part(s) will not work: {', '.join(broken)}", file=sys.stderr)
    return FAILED if broken else OK


# A config that does not load ends `run`, `safe-state` and `status` with every problem,
# one a line (the journal shows them), and 78: systemd does not restart on it.

def run(path: str, service: bool = False) -> int:
    # No collection while the daemon starts: its imports and the sealer's library make
    # objects kept for the run (54,000 here, 600 of them garbage), and rounds over them
    # cost a Pi's core about 0.03 s before ready. At ready they are frozen out of the
    # later rounds (_collect_from_now_on), which walk the day's objects only.
    gc.disable()
    try:
        return _run(path, service)
    finally:
        gc.enable()   # a start that failed; else done at ready already


def _collect_from_now_on() -> None:
    gc.freeze()
    gc.enable()


def _run(path: str, service: bool) -> int:
    from drivers.lights.gpio import GpioUnavailable  # noqa: PLC0415
    from station.digest_secret import DigestKeyError  # noqa: PLC0415
    from station.runner import Station  # noqa: PLC0415 - keep check-config light

    try:
        config = load(path, refuse_examples=service)   # as check-config reads it, but 78
        config.mqtt.password()  # read now: a missing one is not "broker unreachable"
    except ConfigError as exc:
        return failed(exc)
    except CredentialError as exc:
        return failed(exc, path)
    os.umask(0o077)  # database, logs and labels' spool: the service user's alone
    try:
        station = Station(config)
    except GpioUnavailable as exc:   # off a Pi, or RPi.GPIO on a Pi 5: 78, no restart loop
        return failed(exc, f'{path}: [lights] driver = "gpio"')
    except DigestKeyError as exc:
        return failed(exc, f'{path}: [privacy] digest_key = "{config.privacy.digest_key}"')
    except (StationError, OSError) as exc:   # StoreError names the file
        return failed(exc, "cannot start")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    station.run(stop, once_ready=_collect_from_now_on)
    return OK


def safe_state(path: str) -> int:
    """Release the light tower's pins: systemd's ExecStopPost, after any kind of stop."""
    from drivers.lights.gpio import GpioUnavailable  # noqa: PLC0415
    from station.devices import build_lights  # noqa: PLC0415

    try:
        config = load(path)
        build_lights(config.lights, lambda _: None).off()   # stopping: nobody to tell
    except ConfigError as exc:
        return failed(exc)
    except GpioUnavailable as exc:
        return failed(exc, "[lights]", "safe-state")
    return OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "check-config":   # the path as run and status take it, or positional
        if args.path and args.config and args.path != args.config:
            parser.error("check-config: give the config once (PATH or --config PATH)")
        args.path = args.path or args.config
        if not args.path:
            parser.error("check-config: which config? station check-config --config PATH")
    _logging(args.verbose)
    commands = {
        "check-config": lambda: check_config(args.path, args.probe),
        "sim": lambda: sim(args),
        "run": lambda: run(args.config, args.service),
        "safe-state": lambda: safe_state(args.config),
        "status": lambda: status(args.config, args.json),
        "label": lambda: label(args),
        "devices": lambda: devices(args),
        "bench": lambda: bench(args),
        "demo": lambda: demo(args),
    }
    return commands[args.command]()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="station", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    _service_commands(sub)
    _technician_commands(sub)
    p = sub.add_parser("demo", help="a scripted session on simulated devices")
    p.add_argument("--mqtt-url", help="use this broker instead of a private mosquitto")
    p.add_argument("--central-key", metavar="PUBLIC_JWK",
                   help="seal the lane's persons to this central's public key (natest-central "
                        "keygen's KID.pub.jwk), so central's reports open them (default: a "
                        "throwaway key, deleted with the demo)")
    _bench_command(sub)
    return parser


def _service_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check-config", help="report every problem in a config file")
    p.add_argument("path", nargs="?", help="path to station.toml (or --config PATH)")
    p.add_argument("--config", help="path to station.toml, as run and status take it")
    p.add_argument("--probe", action="store_true",
                   help="also try each configured device, the broker and the data folder")
    p = sub.add_parser("run", help="run the station daemon")
    p.add_argument("--config", required=True, help="path to station.toml")
    p.add_argument("--service", action="store_true",
                   help="as systemd starts it: also refuse what check-config refuses (the "
                        "example tube prefix, none assigned), ending 78, which it does not "
                        "restart on")
    p = sub.add_parser("safe-state", help="switch the lights and buzzer off (after a stop)")
    p.add_argument("--config", required=True, help="path to station.toml")


def _technician_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("devices", help="list devices, probe readers and printers")
    p.add_argument("--sam", action="append", default=[], metavar="PORT",
                   help="probe this serial port for a SAM ID-card reader (repeatable)")
    p.add_argument("--printer", action="append", default=[], metavar="URI",
                   help="query this printer's status, e.g. tcp://192.168.1.50:9100")
    p.add_argument("--language", choices=["tspl", "zpl"], default="tspl",
                   help="the printers' language (default tspl)")
    p = sub.add_parser("label", help="preview labels as PNG, or print the command sheet")
    p.add_argument("action", choices=["preview", "print"])
    p.add_argument("kind", choices=["tube", "single", "handover", "commands", "form"])
    p.add_argument("--from", dest="first", type=int, default=1, metavar="N",
                   help="form: the first card's number (FORM-000001 is 1)")
    p.add_argument("--count", type=int, default=24, help="form: how many cards (default 24)")
    p.add_argument("--config", help="station.toml: label size, site and station, printer")
    p.add_argument("--out", default="label-preview", help="folder for the PNG files")
    p.add_argument("--font", default="", help="a font file with Chinese (default: found)")
    p = sub.add_parser("sim", help="a dry run: scan, lay a card or type on a lane's "
                                   "simulated devices, and see what the operator is shown")
    p.add_argument("action", choices=["scan", "card", "key"])
    p.add_argument("value", nargs="?", default="",
                   help="scan: the code; card: an ID number (default a made-up one); "
                        "key: the digits typed, then Enter (none: Enter alone)")
    p.add_argument("--name", default="", help="card: the name on it (default a made-up one)")
    p.add_argument("--config", required=True, help="path to the running station's toml")
    p = sub.add_parser("status", help="delivery, backlog, open tube: is it safe to power off?")
    p.add_argument("--config", required=True, help="path to station.toml")
    p.add_argument("--json", action="store_true", help="the same as JSON")


def _bench_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="the station's figures beside their baselines")
    p.add_argument("suite", nargs="?", choices=["station", "central", "lab", "coverage"],
                   default="station",
                   help="central: collectors under 50 to 1,000 stations publishing at once; "
                        "lab: results imported and the recall list on a city's day; "
                        "coverage: report coverage on a city's sealed day and roster")
    p.add_argument("--quick", action="store_true", help="smaller counts: a few minutes")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument("--dir", help="where to put the test databases (default: system temp); "
                                 "on a Pi, point it at the SD card: /var/tmp")
    p.add_argument("--log", default="station-bench.log", metavar="FILE",
                   help="the stations' log lines (default: ./station-bench.log)")
    p.add_argument("--pi", action="store_true",
                   help="on a Pi's resources: a CPU quota and an SD card's fsync latency")
    p.add_argument("--pi-cpu", type=float, default=0.3, metavar="SHARE",
                   help="--pi: the share of one core of this machine (default 0.3)")
    p.add_argument("--pi-fsync-ms", type=float, default=8.0, metavar="MS",
                   help="--pi: added to every fsync and fdatasync (default 8)")
    p.add_argument("--profile", default="", help=argparse.SUPPRESS)  # set by --pi's child
    p.add_argument("--size", choices=["tiny"], help=argparse.SUPPRESS)  # the smoke tests'
    p.add_argument("--only", action="append", default=[], metavar="STEP",
                   help="the station's bench: only this step (repeatable), e.g. ready: "
                        "import, durable, day-db, drain, collector, ready, memory, prompts, "
                        "sealing, accept, card")


# The heavier commands import on use: `check-config` must stay quick and light. `demo`
# and `bench` are tools beside the product (tools/): the daemon itself never imports them.

def status(path: str, as_json: bool) -> int:
    from station.tech.status import status_command  # noqa: PLC0415

    try:
        config = load(path)
    except ConfigError as exc:
        return failed(exc)
    return status_command(config, as_json)


def sim(args: argparse.Namespace) -> int:
    from station.tech.sim import sim_command  # noqa: PLC0415

    try:
        config = load(args.config)
    except ConfigError as exc:
        return failed(exc)
    if args.action == "scan" and not args.value:   # key alone: Enter on an empty entry
        return failed(Usage(f"what to {args.action}?"), f"station sim {args.action}")
    return sim_command(config, args.action, args.value, args.name)


def label(args: argparse.Namespace) -> int:
    from station.tech.label import label_command  # noqa: PLC0415

    return label_command(args.action, args.kind, args.config, args.out, args.font,
                         forms=(args.first, args.count))


def devices(args: argparse.Namespace) -> int:
    from station.tech.discover import report  # noqa: PLC0415

    print(report(args.sam, [(uri, args.language) for uri in args.printer]))
    return OK


def bench(args: argparse.Namespace) -> int:
    from tools import bench as suite  # noqa: PLC0415

    unknown = [step for step in args.only if step not in suite.STEPS]
    if unknown or (args.only and args.suite != "station"):
        why = (f"--only {unknown[0]}: no such step (the steps: {', '.join(suite.STEPS)})"
               if unknown else f"--only picks steps of the station's bench, not {args.suite}'s")
        return failed(Usage(why), "station bench")
    if args.suite in ("central", "lab", "coverage"):
        missing = suite.central_missing()
        if missing:
            return failed(StationError(missing), f"station bench {args.suite}")
        from tools.central import city as central  # noqa: PLC0415
        from tools.central import coverage, lab  # noqa: PLC0415

        run = {"central": central.main, "lab": lab.main, "coverage": coverage.main}[args.suite]
        return run(args.size or ("quick" if args.quick else "full"), args.json)

    if args.pi:
        from tools.bench import pi  # noqa: PLC0415

        again = [*(["--quick"] if args.quick else []),
                 *(["--json", args.json] if args.json else []),
                 *(["--size", args.size] if args.size else []),
                 *(arg for step in args.only for arg in ("--only", step)),
                 *(["--dir", args.dir] if args.dir else []), "--log", args.log]
        return pi.run_profiled(again, args.pi_cpu, args.pi_fsync_ms)
    return suite.main(args.quick, args.json, args.size, args.dir, args.log,
                      profile=args.profile, only=args.only)


def demo(args: argparse.Namespace) -> int:
    from tools import demo as session  # noqa: PLC0415

    try:
        return session.main(args.mqtt_url, args.central_key)
    except ConfigError as exc:   # --central-key: a file not there, or the private half
        return failed(exc)


if __name__ == "__main__":
    sys.exit(main())
