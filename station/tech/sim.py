"""`station sim`: a technician's hands on a lane running on simulated devices.

From a second terminal, beside `station run` on the same config: `sim scan CODE` is a
barcode on the scanner, `sim card [NUMBER] [--name NAME]` a card on the reader (a
made-up person by default), `sim key TEXT` a number typed on the keypad and Enter. Each
prints what the operator was shown for it: the light pattern, the screen line, the
spoken prompt (masked, as the screen shows them) and any label the printer printed.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from station.config import Config
from station.core.errors import StationError
from station.exit_status import OK, failed
from station.sim_control import ANSWER_S, SOCKET_NAME

# A made-up person: the standard's example number (GB 11643), a name nobody has.
TEST_NUMBER, TEST_NAME = "11010519491231002X", "试卡"


def request(action: str, value: str, name: str) -> dict[str, Any]:
    if action == "card":
        return {"card": {"number": value or TEST_NUMBER, "name": name or TEST_NAME}}
    return {action: value}


def ask(config: Config, body: dict[str, Any]) -> dict[str, Any]:
    """Send one request to the daemon's dry-run socket; its answer. Raises OSError."""
    path = config.station.data_dir / SOCKET_NAME
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(2 * ANSWER_S + 5)   # the cues, then the labels: each up to ANSWER_S
        conn.connect(str(path))
        conn.sendall(json.dumps(body, ensure_ascii=False).encode() + b"\n")
        answer: dict[str, Any] = json.loads(conn.makefile("rb").readline() or b"{}")
        return answer


def shown(answer: dict[str, Any]) -> str:
    lines = []
    for told in answer.get("told", []):
        lines += [f"light   {told['pattern']}", f"screen  {told['screen']}",
                  f"voice   {told['said']}", f"log     {told['message']}"]
    for label in answer.get("labels", []):
        lines.append("label   " + " | ".join(filter(None, [label["barcode"], *label["lines"]])))
    return "\n".join(lines) or f"(the lane showed nothing within {ANSWER_S:.0f} s)"


def sim_command(config: Config, action: str, value: str, name: str = "") -> int:
    try:
        answer = ask(config, request(action, value, name))
    except OSError as exc:
        return failed(NoLane(unreached(config, exc)))
    except ValueError as exc:
        return failed(NoLane(f"{config.station.data_dir / SOCKET_NAME}: no answer from the "
                             f"station: {exc}"))
    if "error" in answer:
        return failed(NoLane(answer["error"]), f"station sim {action}")
    print(shown(answer))
    return OK


def unreached(config: Config, exc: OSError) -> str:
    path = config.station.data_dir / SOCKET_NAME
    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError)):
        return (f"no dry run listens at {path}: start `station run --config {config.source}` "
                "with a simulated scanner or card reader (driver = \"sim\") first")
    if isinstance(exc, PermissionError):
        return f"{path}: not yours to reach: run as the station's user (or with sudo)"
    return f"{path}: no answer from the station: {exc}"


class NoLane(StationError):
    """No lane on simulated devices answered, or it refused what was asked."""
