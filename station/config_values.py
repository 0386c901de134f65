"""How each value of a lane's config is checked: one function a kind of value, each the
reason it is refused (or None), as station/config.py's sections name them."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drivers.common.config_section import split_url
from station.core.codes import PERSON_DECODERS

LISTEN = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})")


def listen_address(value: str) -> str | None:
    m = LISTEN.fullmatch(value)
    if value and (m is None or not 0 < int(m.group(2)) < 65536):
        return f"{value!r} is not HOST:PORT (e.g. '127.0.0.1:8080'); '' turns the screen off"
    return None


def matches(pattern: re.Pattern[str], hint: str) -> Callable[[Any], str | None]:
    return lambda v: None if pattern.fullmatch(v) else f"{v!r} is not allowed: {hint}"


def valid_regex(value: str) -> str | None:
    try:
        re.compile(value)
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    return None


def valid_timezone(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{value!r} is not a known time zone (e.g. 'Asia/Shanghai')"
    return None


def valid_mqtt_url(value: str) -> str | None:
    parts, problem = split_url(value, "URL")
    if parts is None:
        return problem
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        return f"{value!r} is not allowed; use mqtt://host:port or mqtts://host:port"
    return None


def valid_person_codes(value: list[Any]) -> str | None:
    unknown = [v for v in value if v not in PERSON_DECODERS]
    if unknown or not value:
        return f"{unknown or value!r}: choose from " + ", ".join(PERSON_DECODERS)
    return None


def readable_file(value: str) -> str | None:
    path = Path(value)
    if not path.is_file():
        return f"{value!r}: no such file"
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        return f"{value!r}: cannot read ({exc.strerror}); the service user must be able to"
    return None
