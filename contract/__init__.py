"""The MQTT contract between stations and central, version 1.

What both sides must agree on lives here, once: the version, the topic names, the
station's client id, the time format, the schema files (JSON Schema, AsyncAPI) beside
this module, and each event's `data` as a typed frozen record (`contract.events`). The
lane daemon (`station`) and the central side (`central`) both import it; it imports
nothing of ours, so neither side can drift from it alone.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any, Literal, NamedTuple

VERSION = 1
PREFIX = f"natest/v{VERSION}"
ALL_TOPICS = f"{PREFIX}/#"   # everything every station publishes

# A station's topics, every one built and read here:
#   {PREFIX}/{site}/{station}/events/{type}   its events
#   {PREFIX}/{site}/{station}/status          its presence (retained)
#   {PREFIX}/{site}/{station}/cmd/{name}      what central asks of it
#   {PREFIX}/{site}/{station}/reply/{name}    what it answers
TopicKind = Literal["events", "status", "cmd", "reply"]
_NAMED = ("events", "cmd", "reply")


class Topic(NamedTuple):
    site: str
    station: str
    kind: TopicKind
    name: str   # the event type, command or reply; "" for the status


def station_root(site: str, station: str) -> str:
    """`natest/v1/{site}/{station}`: the root of one station's topics."""
    return f"{PREFIX}/{site}/{station}"


def event_topic(site: str, station: str, event_type: str) -> str:
    return f"{PREFIX}/{site}/{station}/events/{event_type}"


def status_topic(site: str, station: str) -> str:
    return f"{PREFIX}/{site}/{station}/status"


def cmd_topic(site: str, station: str, name: str) -> str:
    """A command to a station ("+": a station's filter for all of its commands)."""
    return f"{PREFIX}/{site}/{station}/cmd/{name}"


def reply_topic(site: str, station: str, name: str) -> str:
    return f"{PREFIX}/{site}/{station}/reply/{name}"


def replay_topic(site: str, station: str) -> str:
    """Where central asks a station to publish held events again."""
    return cmd_topic(site, station, "replay")


def every_station(kind: TopicKind, name: str = "+") -> str:
    """A filter for one kind of topic of every station: `natest/v1/+/+/reply/replay`."""
    return f"{PREFIX}/+/+/{kind}" + (f"/{name}" if kind in _NAMED else "")


# A city's stations publish on a few thousand topics, each read back for every message:
# remembered, 0.1 µs instead of 1.4 at the collector's rate (BENCHMARKS.md).
@functools.lru_cache(maxsize=1 << 16)
def parse_topic(topic: str) -> Topic | None:
    """A station's topic read back; None for anything else (a wrong version, a central
    topic, a kind or a depth the contract does not know)."""
    parts = topic.split("/")
    if len(parts) < 5 or f"{parts[0]}/{parts[1]}" != PREFIX or parts[2] == "central":
        return None
    site, station, kind = parts[2], parts[3], parts[4]
    if kind == "status" and len(parts) == 5:
        return Topic(site, station, "status", "")
    if len(parts) == 6 and parts[5]:
        match kind:
            case "events" | "cmd" | "reply":
                return Topic(site, station, kind, parts[5])
    return None


def central_state_topic(group: str, client_id: str = "+") -> str:
    """Where each collector of a group announces itself (retained, with a last will);
    "+" for all of them. The site id "central" is reserved for it."""
    return f"{PREFIX}/central/{group}/state/{client_id}"


def parse_central_state(topic: str) -> tuple[str, str] | None:
    """(group, client id) of a collector's state topic; None for anything else."""
    parts = topic.split("/")
    if (len(parts) == 6 and f"{parts[0]}/{parts[1]}" == PREFIX and parts[2] == "central"
            and parts[4] == "state" and parts[3] and parts[5]):
        return parts[3], parts[5]
    return None


def claim_topic(client_id: str) -> str:
    """Retained: which process holds a collector's client id (central's own topic)."""
    return f"{PREFIX}/central/collectors/{client_id}"


def station_client_id(site: str, station: str) -> str:
    """A station's MQTT client id: brokers' ACLs and session state key on it."""
    return f"natest-{site}-{station}"


def rfc3339(moment: dt.datetime) -> str:
    """UTC with milliseconds and a Z, as every `ts` of the contract."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def instant(ts: str) -> dt.datetime:
    """A contract time (`rfc3339`'s form, or any RFC 3339 with Z) as an aware datetime."""
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))


def schema(name: str) -> dict[str, Any]:
    """One of the contract's JSON Schemas, e.g. `events.schema.json`."""
    # Imported here: importlib.resources brings tempfile, shutil and three compression
    # libraries into every lane daemon's start, and only central and tests read schemas.
    from importlib import resources  # noqa: PLC0415
    loaded: dict[str, Any] = json.loads(
        resources.files(__name__).joinpath(name).read_text(encoding="utf-8"))
    return loaded
