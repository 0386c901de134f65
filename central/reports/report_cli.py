"""`natest-central report NAME`: its options and how a run is judged (the time it is
judged at, the custody and follow-up bounds); the reports themselves are in
central/reports/reports.py and its catalogue."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from central.errors import REPORTED, CentralError, Usage, failed
from central.reports import keys
from central.reports.catalogue import REPORTS, listed
from central.site_facts import (
    CUTOFF,
    MAX_TRANSIT,
    RESAMPLE_WITHIN,
    RESULT_DUE,
    RETEST_RESULT_WITHIN,
    cutoff_time,
    moment,
    time_zone,
    tz_option,
)
from central.store.open import db_option, missing

if TYPE_CHECKING:
    from central.reports.custody import Rules
    from central.reports.followup import Bounds
    from central.reports.period import Period


def report(args: argparse.Namespace) -> int:
    from central.reports import reports  # noqa: PLC0415
    from central.reports.period import period  # noqa: PLC0415
    from central.reports.progress import Progress  # noqa: PLC0415

    if (why := missing(args.db)) is not None:
        return failed(CentralError(why))
    if (wrong := asked_wrongly(args)) is not None:
        return failed(Usage(wrong))
    try:
        span = (brief_span(args) if args.name == "brief"
                else period(args.day, args.first, args.last, time_zone(args.tz)))
        persons = keys.persons(keys.private_keys(args), args.name)
        text = reports.run(args.name, args.db, Path(args.output) if args.output else None,
                           Path(args.roster) if args.roster else None, fmt=args.format,
                           columns=args.columns, tz=args.tz, site=args.site, span=span,
                           progress=Progress(f"report {args.name} {span}"),
                           rules=custody_rules(args), box=args.box, persons=persons,
                           mark=not args.no_mark, encoding=args.encoding,
                           bounds=followup_bounds(args),
                           metrics_file=Path(args.metrics_file) if args.metrics_file else None,
                           sites=Path(args.sites) if args.sites else None)
    except REPORTED as exc:
        if keys.needs_key(exc) and args.output:
            Path(args.output).unlink(missing_ok=True)   # not half a report
        return failed(exc, f"report {args.name}")
    if not args.output:
        sys.stdout.write(text)
    return keys.said(persons, args.name)


def asked_wrongly(args: argparse.Namespace) -> str | None:
    """Options that do not go together, said; None when they do."""
    if args.format != "csv" and not args.output:
        return f"--format {args.format} needs --output FILE"
    if args.format == "pdf" and args.columns == "en":
        return "--format pdf is the printed Chinese layout: leave out --columns en"
    if args.box and args.name not in ("register", "manifest"):
        return ("--box: the register or the manifest of one box (report register --box BOX, "
                "report manifest --box BOX)")
    if args.name == "manifest" and not args.box:
        return "report manifest: which box? --box BOX"
    return None


def report_time(args: argparse.Namespace) -> dt.datetime:
    """--at, the local time a report judges what is late as of; default now."""
    return moment(args.at, "--at", time_zone(args.tz)) if args.at else dt.datetime.now(dt.UTC)


def brief_span(args: argparse.Namespace) -> Period:
    """The brief's round: from --from (default --at's day) to --at's day; the brief reads
    the sites file, so it must be given."""
    if args.day or args.last:
        raise Usage("brief: its day is --at's; the round's first day is --from")
    if args.site:
        raise Usage("brief: every site of the sites file, each on its own row: leave out "
                    "--site")
    if not args.sites:
        raise Usage("brief needs --sites FILE (each site's 社区, 街道, 区: the levels it "
                    "rolls up to)")
    from central.reports.period import Period, parse_day  # noqa: PLC0415

    zone = time_zone(args.tz)
    last = report_time(args).astimezone(zone).date()
    first = parse_day("--from", args.first) if args.first else last
    if first > last:
        raise Usage(f"--from {first} is after --at's day {last}")
    return Period(first, last, zone)


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
    return Rules(report_time(args), hours_option(args.max_transit, "--max-transit"), cutoff,
                 hours_option(args.result_due, "--result-due"))


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help=listed())
    p.add_argument("name", choices=list(REPORTS))
    db_option(p)
    p.add_argument("--output", help="write here (mode 0600) instead of standard output")
    p.add_argument("--roster", metavar="FILE",
                   help="the community's roster, xlsx or CSV (身份证号, 姓名, 联系电话, 现住址, "
                        "楼栋, 户, …): missing lists who on it was not sampled; coverage "
                        "counts them (社区, 楼栋, 户, 人群分类); positives, "
                        "results and resample fill each person's missing phone, name and "
                        "address from it, marked (名单补充). Read, never stored")
    p.add_argument("--encoding", default="",
                   help="the roster CSV's encoding (default: told by its bytes: UTF-8, "
                        "UTF-8 with BOM, GBK/GB18030)")
    p.add_argument("--sites", metavar="FILE",
                   help="the sites file, CSV or TOML (site, name, community/社区, street/街道, "
                        "district/区, capacity/每小时容量): totals roll sites up to 社区 → 街道 "
                        "→ 区 (a site it lacks is shown as 未登记站点); coverage places a "
                        "roster's communities in their 街道 and 区")
    p.add_argument("--format", choices=["csv", "xlsx", "pdf"], default="csv",
                   help="xlsx: laid out for A4 (title, widths, header on every page); pdf: "
                        "printed from that layout by LibreOffice; both need --output")
    p.add_argument("--box", default="", help="register: the record of one transport box, "
                                             "beside its handover slip; manifest: the box "
                                             "whose tubes to list")
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
    _custody_options(p)
    _followup_options(p)
    p.add_argument("--at", metavar="'YYYY-MM-DD HH:MM'",
                   help="custody, labs, followup: judge what should have arrived as of this "
                        "local time; brief: its figures as of this time, its day (default now)")


def _custody_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-transit", type=float, default=MAX_TRANSIT.total_seconds() / 3600,
                   metavar="HOURS",
                   help="custody: a box not received this long after it left is flagged "
                        "(default 4)")
    p.add_argument("--cutoff", default=f"{CUTOFF:%H:%M}", metavar="HH:MM",
                   help="custody: tubes sealed before this local time and not dispatched "
                        "by it are flagged (default 17:00, an hour before 18:00)")
    p.add_argument("--result-due", type=float, metavar="HOURS",
                   default=RESULT_DUE.total_seconds() / 3600,
                   help="labs: a tube received this long ago without a result is flagged "
                        "(default 12, a default: half the 24 h a swab is tested within)")


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
