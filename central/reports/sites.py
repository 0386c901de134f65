"""The sites file: each collection point (采样点) by the id its lanes send as `site`, its
name, and where it sits in the district's chain, 社区 → 街道 → 区, with an optional
hourly capacity. Reports that group by site read it (`--sites FILE`) to roll sites up to
communities, streets and districts; a site the events name and the file lacks is
reported as such (UNKNOWN, 未登记站点), never dropped.

A CSV (UTF-8, UTF-8 with a BOM, or GBK, told by its bytes as a roster is: roster_file)
with a header row in English or Chinese, or TOML with one `[[site]]` table a site:

    site,name,community,street,district,capacity
    S01,幸福小区东门,幸福社区,长安街道,东城区,300

    [[site]]
    id = "S01"
    name = "幸福小区东门"
    community = "幸福社区"
    street = "长安街道"
    district = "东城区"
    capacity = 300

A level may be left empty from the bottom up (a site straight under its street has no
community), never above a filled one. Every problem of the file is said at once, each
with its line; the file holds no person.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from central.errors import CentralError
from central.reports.roster_file import RosterRefused, csv_rows, folded

# What the chain says of a site the events name and the file lacks: every level.
UNKNOWN = "未登记站点"
UNKNOWN_EN = "unknown site"

# Each column and the headers it is known by (compared as a roster's: without spaces,
# case, a trailing * or a remark in brackets).
HEADERS: dict[str, tuple[str, ...]] = {
    "id": ("site", "id", "site_id", "采样点编号", "站点", "站点编号"),
    "name": ("name", "采样点名称", "名称", "站点名称"),
    "community": ("community", "社区"),
    "street": ("street", "街道", "乡镇街道"),
    "district": ("district", "区", "区县"),
    "capacity": ("capacity", "每小时容量", "容量"),
}
REQUIRED = ("id", "community", "street", "district")
LEVELS = ("community", "street", "district")
# The contract's `site` (events.schema.json): what a lane can send.
SITE_ID = re.compile(r"[^/+#\s]{1,64}")
SAVE_AS = "save it as CSV UTF-8 (or write it as TOML)"


class SitesRefused(CentralError, ValueError):
    """A sites file that cannot be read as it is; the text names the file, each line and
    what to do about it."""


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    community: str
    street: str
    district: str
    capacity: int | None = None   # people an hour, where the file says


class Sites:
    """The sites of a file, in its order; empty when no file was given."""

    def __init__(self, sites: Iterable[Site] = (), path: Path | None = None) -> None:
        self.path = path
        self._sites = {site.id: site for site in sites}

    def get(self, site_id: str) -> Site | None:
        return self._sites.get(site_id)

    def __iter__(self) -> Iterator[Site]:
        return iter(self._sites.values())

    def __len__(self) -> int:
        return len(self._sites)

    @property
    def given(self) -> bool:
        """Whether a file was read: without one, nothing rolls up above the site."""
        return self.path is not None

    def levels(self, site_id: str) -> tuple[str, str, str]:
        """(community, street, district) of a site; UNKNOWN at each for a site the file
        lacks; "" for a level the file leaves empty."""
        site = self._sites.get(site_id)
        if site is None:
            return UNKNOWN, UNKNOWN, UNKNOWN
        return site.community, site.street, site.district

    def name(self, site_id: str) -> str:
        """The site's name, or its id where the file names none or lacks the site."""
        site = self._sites.get(site_id)
        return site.name if site is not None and site.name else site_id

    def unknown(self, seen: Iterable[str]) -> list[str]:
        """The sites among `seen` (as events name them) that the file lacks, sorted."""
        return sorted({site for site in seen if site not in self._sites})

    def above(self, community: str) -> set[tuple[str, str]]:
        """The (street, district) pairs the file puts a community under: one, or none
        for a community it does not name; more than one where two streets have a
        community of that name."""
        return {(s.street, s.district) for s in self if s.community == community}


def read_sites(path: Path, encoding: str = "") -> Sites:
    """The sites file at `path`: TOML (.toml) or CSV (in `encoding`, or told by its
    bytes). SitesRefused names every problem with its line."""
    if path.suffix.lower() == ".toml":
        rows = _toml_rows(path)
    else:
        try:
            rows = _csv_rows(path, encoding)
        except RosterRefused as exc:   # the bytes: said as the roster reader says them
            raise SitesRefused(str(exc)) from None
    problems: list[str] = []
    sites: list[Site] = []
    first_line: dict[str, int] = {}
    for line, values in rows:
        site = _site(values, f"line {line}", problems)
        if site is None:
            continue
        if site.id in first_line:
            problems.append(f"line {line}: site {site.id} named twice (lines "
                            f"{first_line[site.id]} and {line}): keep one line a site")
            continue
        first_line[site.id] = line
        sites.append(site)
    if problems:
        raise SitesRefused(f"{path}: " + f"\n{path}: ".join(problems))
    if not sites:
        raise SitesRefused(f"{path}: no sites: one line a site under the header "
                           f"({', '.join(HEADERS)})")
    return Sites(sites, path)


def _site(values: dict[str, Any], where: str, problems: list[str]) -> Site | None:
    """A site of a row's values, or None with its problems said."""
    said = len(problems)
    site_id = _text(values.get("id", ""))
    if not site_id:
        problems.append(f"{where}: no site id: give the id its lanes send as `site`")
    elif not SITE_ID.fullmatch(site_id):
        problems.append(f"{where}: site id {site_id!r} cannot be a lane's site (1-64 "
                        "characters, no space, '/', '+' or '#')")
    community, street, district = (_text(values.get(level, "")) for level in LEVELS)
    if community and not street:
        problems.append(f"{where}: community {community} with no street: give its 街道")
    if street and not district:
        problems.append(f"{where}: street {street} with no district: give its 区")
    capacity = _capacity(values.get("capacity", ""), where, problems)
    if len(problems) > said:
        return None
    return Site(site_id, _text(values.get("name", "")), community, street, district, capacity)


def _text(value: Any) -> str:
    return str(value).strip()


def _capacity(value: Any, where: str, problems: list[str]) -> int | None:
    text = _text(value)
    if not text:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and text.isascii() and text.isdigit() and int(text) > 0:
        return int(text)
    problems.append(f"{where}: capacity {text!r}: people an hour, a whole number above 0 "
                    "(or leave it empty)")
    return None


def _csv_rows(path: Path, encoding: str) -> list[tuple[int, dict[str, str]]]:
    """Each row after the header as its fields' values, with its line."""
    lines = [(line, cells) for line, cells in enumerate(csv_rows(path, encoding, SAVE_AS), 1)
             if any(c.strip() for c in cells)]
    if not lines:
        raise SitesRefused(f"{path}: line 1: empty: a header ({', '.join(HEADERS)}), then "
                           "one line a site")
    header_line, header = lines[0]
    fields = _header(path, header_line, header)
    rows = []
    for line, cells in lines[1:]:
        extra = [at + 1 for at, cell in enumerate(cells)
                 if cell.strip() and (at >= len(header) or not header[at].strip())]
        if extra:
            raise SitesRefused(f"{path}: line {line}: a value in column {extra[0]}, which "
                               "has no header: name it, or remove the value")
        rows.append((line, {field: cells[at] if at < len(cells) else ""
                            for field, at in fields.items()}))
    return rows


def _header(path: Path, line: int, header: list[str]) -> dict[str, int]:
    """Where each field is; SitesRefused for a column it does not know, one given twice,
    or a required one missing."""
    known = {folded(name): field for field, names in HEADERS.items() for name in names}
    fields: dict[str, int] = {}
    for at, cell in enumerate(header):
        if not cell.strip():
            continue
        field = known.get(folded(cell))
        if field is None:
            raise SitesRefused(f"{path}: line {line}: unknown column {cell.strip()!r} "
                               f"(column {at + 1}): the columns are {_accepted()}")
        if field in fields:
            raise SitesRefused(f"{path}: line {line}: columns {fields[field] + 1} and "
                               f"{at + 1} are both {field}: keep one")
        fields[field] = at
    missing = [field for field in REQUIRED if field not in fields]
    if missing:
        raise SitesRefused(f"{path}: line {line}: no column for {', '.join(missing)}: the "
                           f"columns are {_accepted()}")
    return fields


def _accepted() -> str:
    return "; ".join(f"{field} ({'/'.join(names[1:] if field != 'id' else names)})"
                     for field, names in HEADERS.items())


def _toml_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Each `[[site]]` table with the line of its header."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise SitesRefused(f"{path}: line {line}: not UTF-8 text, which TOML must be: "
                           "save it as UTF-8") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SitesRefused(f"{path}: {exc}: one [[site]] table a site") from None
    other = sorted(set(doc) - {"site"})
    if other:
        raise SitesRefused(f"{path}: unknown key {other[0]!r}: one [[site]] table a site")
    tables = doc.get("site", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise SitesRefused(f"{path}: site: one [[site]] table a site")
    heads = [n for n, line in enumerate(text.splitlines(), 1)
             if re.match(r"\s*\[\[\s*site\s*\]\]", line)]
    lines = heads if len(heads) == len(tables) else list(range(1, len(tables) + 1))
    rows = []
    for line, table in zip(lines, tables, strict=True):
        unknown = sorted(set(table) - set(HEADERS))
        if unknown:
            raise SitesRefused(f"{path}: line {line}: unknown key {unknown[0]!r} in [[site]] "
                               f"(its keys: {', '.join(HEADERS)})")
        texts = [key for key in sorted(table) if key != "capacity"
                 and not isinstance(table[key], str)]
        if texts:
            raise SitesRefused(f"{path}: line {line}: {texts[0]} = {table[texts[0]]!r}: "
                               "text, in quotes")
        rows.append((line, table))
    return rows
