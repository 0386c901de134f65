"""Which days a report covers: `--day`, or `--from`/`--to`, in the sites' time zone.

Campaigns repeat ("5+2+2", twice in seven days): a register, a 待补采 list and totals are
per day or per round, never all time. A day is the sites' local day (`--tz`, default
Asia/Shanghai), so Shanghai's 2026-12-04 is 2026-12-03T16:00Z to 2026-12-04T16:00Z.

An event is placed in a day by its `ts`, the station's clock; an event whose station
had no synced clock (a Pi has no real-time clock, and until NTP answers it shows
whatever fake-hwclock kept) is placed by when central received it, and the register
says so. Reports read the events of a margin around the period too: a tube opened
before midnight and sealed after it, a box closed an hour after its tubes, undo and
void, belong to the registrations they change. What they count is clipped to the period.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from zoneinfo import ZoneInfo

from contract import rfc3339

# Events read either side of the period: a tube is open for minutes, a box closes within
# an hour or two of its first tube. Each hour of margin reads an hour more of events: a
# city's register of a day reads 1.25 days' rows at 3 hours.
MARGIN = dt.timedelta(hours=3)


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date
    zone: ZoneInfo

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time(), self.zone)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), self.zone)

    def padded(self) -> tuple[dt.datetime, dt.datetime]:
        """The window of events read: the period and its margin."""
        return self.start - MARGIN, self.end + MARGIN

    @cached_property
    def bounds(self) -> tuple[str, str]:
        """[start, end) as the contract writes times: `ts` values compare as text."""
        return rfc3339(self.start), rfc3339(self.end)

    def holds(self, ts: str) -> bool:
        start, end = self.bounds
        return start <= ts < end

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first} to {self.last}"


def period(day: str | None, first: str | None, last: str | None, zone: ZoneInfo,
           now: dt.datetime | None = None) -> Period:
    """The period the options name; today (in `zone`) when they name none. A ValueError
    names the option that is wrong."""
    if day and (first or last):
        raise ValueError("--day or --from/--to, not both")
    today = (now or dt.datetime.now(dt.UTC)).astimezone(zone).date()
    if day:
        one = parse_day("--day", day)
        return Period(one, one, zone)
    start = parse_day("--from", first) if first else None
    end = parse_day("--to", last) if last else None
    start, end = start or end or today, end or today
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    return Period(start, end, zone)


def parse_day(option: str, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option} {text!r}: not a day (YYYY-MM-DD)") from None
