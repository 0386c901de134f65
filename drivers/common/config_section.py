"""Reading one section of the station's TOML config, for every driver alike.

Each driver declares its own settings (a frozen dataclass and a `read(section)` beside
it); the station's config assembles them. A Section remembers every problem instead of
stopping at the first, each naming the file, section and key, so a technician sees all
of them at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import SplitResult, urlsplit

Check = Callable[[Any], str | None]

KIND_NAMES = {int: "a whole number", str: "a string in quotes", list: "a list [ … ]",
              bool: "true or false", dict: "a table"}


class Section:
    def __init__(self, source: str, name: str, table: dict[str, Any],
                 problems: list[str]) -> None:
        self.source, self.name, self.table, self.problems = source, name, table, problems
        self.seen: set[str] = set()

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.source}: [{self.name}] {key}: {message}")

    def get(self, key: str, kind: type, default: Any, check: Check | None = None) -> Any:
        """The value of `key` if it is of `kind` and passes `check`; else the default."""
        self.seen.add(key)
        if key not in self.table:
            return default
        value = self.table[key]
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            self.problem(key, f"must be {KIND_NAMES[kind]}, not {value!r}")
            return default
        if check is not None and (message := check(value)) is not None:
            self.problem(key, message)
            return default
        return value

    def required(self, key: str, check: Check) -> str:
        if key not in self.table:
            self.seen.add(key)
            self.problem(key, "is required")
            return "?"
        value: str = self.get(key, str, "?", check)
        return value

    def finish(self) -> None:
        """Name every key nobody asked for: a typo, most likely."""
        for key in sorted(set(self.table) - self.seen):
            self.problem(key, "unknown key (a typo?); allowed: " + ", ".join(sorted(self.seen)))


def one_of(*allowed: object) -> Check:
    return lambda v: None if v in allowed else f"{v!r} is not allowed; use one of " + \
        ", ".join(repr(a) for a in allowed)


def in_range(low: int, high: int) -> Check:
    return lambda v: None if low <= v <= high else f"{v} is out of range {low}–{high}"


def split_url(value: str, what: str) -> tuple[SplitResult | None, str]:
    """The parts of a configured URL, or the reason it is none (a bad port, a broken
    [IPv6] host): the one reading of a URL that every section's check starts from."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        return None, f"{value!r} is not a valid {what} ({exc})"
    return parts, ""
