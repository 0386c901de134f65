"""The MQTT contract between stations and central, version 1.

What both sides must agree on lives here, once: the version, the topic names, the
station's client id, the time format, the schema files (JSON Schema, AsyncAPI) beside
this module, and each event's `data` as a typed frozen record (`contract.events`). The
lane daemon (`station`) and the central side (`central`) both import it; it imports
nothing of ours, so neither side can drift from it alone.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

VERSION = 1
PREFIX = f"natest/v{VERSION}"
ALL_TOPICS = f"{PREFIX}/#"   # everything every station publishes


def station_root(site: str, station: str) -> str:
    """`natest/v1/{site}/{station}`: the root of one station's topics."""
    return f"{PREFIX}/{site}/{station}"


def replay_topic(site: str, station: str) -> str:
    """Where central asks a station to publish held events again."""
    return f"{station_root(site, station)}/cmd/replay"


def topic_kind(topic: str) -> str:
    """`events`, `status`, `cmd` or `reply` for a topic under PREFIX; "" for anything else."""
    parts = topic.split("/")
    return parts[4] if len(parts) > 4 and "/".join(parts[:2]) == PREFIX else ""


def central_state_topic(group: str, client_id: str = "+") -> str:
    """Where each collector of a group announces itself (retained, with a last will);
    "+" for all of them. The site id "central" is reserved for it."""
    return f"{PREFIX}/central/{group}/state/{client_id}"


def station_client_id(site: str, station: str) -> str:
    """A station's MQTT client id: brokers' ACLs and session state key on it."""
    return f"natest-{site}-{station}"


def rfc3339(moment: dt.datetime) -> str:
    """UTC with milliseconds and a Z, as every `ts` of the contract."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def schema(name: str) -> dict[str, Any]:
    """One of the contract's JSON Schemas, e.g. `events.schema.json`."""
    # Imported here: importlib.resources brings tempfile, shutil and three compression
    # libraries into every lane daemon's start, and only central and tests read schemas.
    from importlib import resources  # noqa: PLC0415
    loaded: dict[str, Any] = json.loads(
        resources.files(__name__).joinpath(name).read_text(encoding="utf-8"))
    return loaded
