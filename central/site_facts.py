"""What every room of central takes as given about the sites it serves: their time zone,
the day's dispatch cutoff, how long a box may be on its way, and times as people there
write them. Declared once here; ingest, intake and reports all read them, and this module
imports nothing of theirs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The sites' time zone unless a command's `--tz` names another: their local days (a
# report's period), the cutoff and the times labs and clerks write without an offset.
ZONE = "Asia/Shanghai"

# The defaults of `report custody` and of the collector's gauge: a box is overdue 4 h
# after it left; tubes go by 17:00 local, an hour before the seeds' 18:00.
MAX_TRANSIT = dt.timedelta(hours=4)
CUTOFF = dt.time(17)

# The follow-up of a positive or invalid pool (`report followup`): each of its people
# sampled singly within RESAMPLE_WITHIN of the pool's result, and each single result
# back within RETEST_RESULT_WITHIN of that swab. No source gives either number (the seeds
# and protocols say 立即, 第一时间): both are defaults, for a district to set. A swab is
# tested within 24 h (DOMAIN): a single tube sampled that long before a pool's result
# cannot be the pool's retest, so no earlier one is read.
RESAMPLE_WITHIN = dt.timedelta(hours=6)
RETEST_RESULT_WITHIN = dt.timedelta(hours=12)
SWAB_TESTED_WITHIN = dt.timedelta(hours=24)

# A lab's result is due this long after it received the tube (`report labs --result-due`,
# the collector's natest_lab_results_overdue): a default, as no source gives a lab's
# turnaround; half the 24 h a swab is tested within (DOMAIN), the other half left to
# sampling, packing and transit. It bounds the lab's share only: the age of a box's
# oldest sample at receipt is custody's (oldest_age_h).
RESULT_DUE = dt.timedelta(hours=12)

LOOSE_TIME = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?")


def tz_option(parser: argparse.ArgumentParser, meaning: str) -> None:
    """A command's `--tz`: the option, its default and how it is read, written once;
    `meaning` says what the command reads by it."""
    parser.add_argument("--tz", default=ZONE, help=f"{meaning} (default {ZONE})")


def time_zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"--tz {tz!r}: no such time zone (e.g. {ZONE})") from None


def moment(value: Any, what: str, zone: ZoneInfo) -> dt.datetime:
    """A time as a lab writes it (its local time unless it says otherwise), in UTC."""
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = str(value or "").strip().replace("T", " ")
        found = _parsed(text)
        if found is None:
            raise ValueError(f"{what} {text!r} is not a time (e.g. 2026-12-04 10:30)")
        parsed = found
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(dt.UTC)


@lru_cache(maxsize=4096)   # a lab's file repeats its batch times row after row
def _parsed(text: str) -> dt.datetime | None:
    """'2026-12-04 10:30', '2026/12/04 10:30:05', ISO 8601 with or without an offset."""
    if not text[:4].isdigit():
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        pass
    found = LOOSE_TIME.fullmatch(text)   # a spreadsheet's 2026/1/4 9:05
    if found is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(part or 0) for part in found.groups())
        return dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def cutoff_time(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--cutoff {text!r}: not a time of day (HH:MM)") from None
