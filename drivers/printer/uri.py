"""A printer's URI, checked without opening it: the config reader's check, apart from the
transports (transport.py) so reading the config loads no socket or serial code."""

from __future__ import annotations

from urllib.parse import parse_qs

from drivers.common.config_section import split_url

# Opened by pyserial's URL opener, as written (at 9600 baud where a baud rate applies).
PYSERIAL_SCHEMES = ("spy", "socket", "rfc2217", "loop", "alt", "hwgrep")


def check_uri(uri: str) -> str | None:
    """A config check: the problem with this URI, or None."""
    parts, problem = split_url(uri, "URI")
    if parts is None:
        return problem
    if (parts.scheme not in ("tcp", "file", "serial", *PYSERIAL_SCHEMES)
            or not (parts.hostname or parts.path)):
        return (f"{uri!r} is not allowed; use tcp://host:9100, file:///dev/usb/lp0, "
                "serial:///dev/ttyUSB1?baud=9600 or a pyserial URL such as "
                "spy:///dev/ttyUSB1?file=printer.txt")
    baud = parse_qs(parts.query).get("baud", ["9600"])[0]
    if parts.scheme == "serial" and not baud.isdigit():
        return f"{uri!r}: baud must be a number, e.g. ?baud=9600"
    return None
