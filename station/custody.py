"""Who works the lane and who carries its boxes away: the [staff] and [box] sections.

Staff badges are barcodes (`[staff] pattern`). A roster (`[staff] roster`, a CSV of
badge and name) lets the screen name who is signed in, masked like any person; it is
personal data, so the file must be the service user's alone. Events carry the badge id
only, never a name.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

import msgspec

from contract.events import BADGE
from drivers.common.config_section import Section, in_range
from station.core.identity import mask_name
from station.staff_badges import LONGEST, refused_badge

# ASCII: \d and \w mean what the contract's badge allows, not every script's digits and
# letters (a pattern's reach is then what station.staff_badges checks).
BADGE_FLAGS = re.ASCII


class StaffConfig(msgspec.Struct, frozen=True):
    pattern: re.Pattern[str] | None = None   # a staff badge's barcode; None: no badges
    roster: dict[str, str] = msgspec.field(default_factory=dict)   # badge → name
    required: bool = False   # registrations are refused while nobody is signed in

    def shown(self, badge: str) -> str:
        """How the screen names a badge's holder: the masked name, else the badge."""
        name = self.roster.get(badge, "")
        return f"{mask_name(name)} ({badge})" if name else badge


class BoxConfig(msgspec.Struct, frozen=True):
    dispatch_reminder_min: int = 30   # a closed box still at the lane: said every so often


def _pattern(value: str) -> str | None:
    try:
        compiled = re.compile(value, BADGE_FLAGS)
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    if compiled.fullmatch("CMD:SEAL") or compiled.fullmatch(""):
        return "matches operator commands or the empty code: make it specific to badges"
    if (badge := refused_badge(compiled)) is not None:
        return (f"can match {badge!r}, a badge the contract refuses (its operator field: "
                f"^{BADGE.pattern}$, contract/events.schema.json): the lane would refuse "
                "every such badge scan; keep the pattern to A-Z a-z 0-9 _ - and at most "
                f"{LONGEST} characters, e.g. S[0-9]{{7}}")
    return None


def read_roster(section: Section, path: Path) -> dict[str, str]:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        section.problem("roster", f"cannot read {path}: {exc.strerror or exc}")
        return {}
    except UnicodeDecodeError:
        section.problem("roster", f"{path}: not UTF-8 text")
        return {}
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        section.problem("roster", f"{path} holds staff names: make it the service user's "
                                  f"alone (chmod 600), not mode {stat.S_IMODE(mode):o}")
    import csv  # noqa: PLC0415 - only with a roster: not on every lane's way to ready

    rows = list(csv.DictReader(text.splitlines()))
    if rows and not {"badge", "name"} <= set(rows[0]):
        section.problem("roster", f"{path}: needs the columns badge and name")
        return {}
    bad = [n for n, row in enumerate(rows, start=2) if not BADGE.fullmatch(row["badge"] or "")]
    if bad:
        section.problem("roster", f"{path}: line {bad[0]}: a badge is 1-32 of A-Z a-z 0-9 _ -")
    return {row["badge"]: (row["name"] or "").strip() for row in rows if row["badge"]}


def read_staff(section: Section) -> StaffConfig:
    pattern = section.get("pattern", str, "", _pattern)
    roster = section.get("roster", str, "")
    config = StaffConfig(
        pattern=re.compile(pattern, BADGE_FLAGS) if pattern else None,
        roster=read_roster(section, Path(roster)) if roster else {},
        required=section.get("required", bool, False))
    if config.required and config.pattern is None:
        section.problem("required", "needs [staff] pattern: the badges that sign in")
    return config


def read_box(section: Section) -> BoxConfig:
    d = BoxConfig()
    return BoxConfig(dispatch_reminder_min=section.get(
        "dispatch_reminder_min", int, d.dispatch_reminder_min, in_range(1, 24 * 60)))
