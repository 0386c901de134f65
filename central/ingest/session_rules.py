"""What a collector's session checks beside the messages it stores: the broker's TLS
identity, a claim of its client id by a newer process, a message on another station's
topic, and the refusals trying again cannot mend (a password, an ACL, a filter)."""

from __future__ import annotations

import datetime as dt
import json
import ssl
from typing import Any

import contract
from central.errors import CentralError
from central.ingest.validation import Invalid

SESSION_TAKEN_OVER = 142  # MQTT 5 DISCONNECT reason: another client connected with our id


def tls_context(ca_file: str = "", cert_file: str = "", key_file: str = "") -> ssl.SSLContext:
    """Verifies the broker against `ca_file` (default: the system's CAs) and, given a
    certificate, presents it: a broker with per-client ACLs knows central by it, as it
    knows each station by its own. Raises OSError or ssl.SSLError naming what is wrong."""
    context = ssl.create_default_context(cafile=ca_file or None)
    if cert_file:
        context.load_cert_chain(cert_file, key_file or None)
    return context


def newer_claim(payload: bytes, own: str) -> bool:
    """A claim made after ours by another process: it holds the client id now."""
    try:
        started, nonce = payload.decode("ascii").split()
        return nonce != own.split()[1] and int(started) > int(own.split(maxsplit=1)[0])
    except ValueError:
        return False  # not a claim of ours: nobody to give way to


class SessionTakenOver(CentralError, RuntimeError):
    """Another collector connected with this collector's client id."""


def on_its_topic(body: dict[str, Any], topic: contract.Topic) -> None:
    """A station publishes only on its own topics (the broker's ACL sees to that): a body
    that names another station, or an event of another type, does not belong there."""
    if body["site"] != topic.site or body["station"] != topic.station:
        raise Invalid(f"{body['site']}/{body['station']}'s message published on "
                      f"{topic.site}/{topic.station}'s topic")
    if topic.kind == "events" and body["type"] != topic.name:
        raise Invalid(f"type {body['type']!r} published on {topic.kind}/{topic.name}")


class CollectorRefused(CentralError, RuntimeError):
    """The broker refused what trying again cannot mend: the reason, said once."""


# SUBACK reason codes (MQTT 5.0, 3.9.3) a technician may meet.
SUBSCRIBE_REFUSALS = {0x80: "unspecified error", 0x83: "implementation specific error",
                      0x87: "not authorized", 0x8F: "topic filter invalid",
                      0x91: "packet identifier in use", 0x97: "quota exceeded",
                      0x9E: "shared subscriptions not supported"}


def suback_refusal(topic: str, reason: int, *, events: bool) -> str:
    """Why a SUBACK ends the collector ("" if it does not): any filter refused, or the
    events' filter granted below QoS 1 (a cut would then lose what was in flight)."""
    if reason >= 0x80:
        return (f"the broker refused the subscription to {topic}: reason code "
                f"0x{reason:02x} ({SUBSCRIBE_REFUSALS.get(reason, 'error')})")
    if events and reason != 1:
        return (f"the broker granted {topic} at QoS {reason}, not 1: events in flight at "
                "a cut would be lost")
    return ""


def state_message(group: str, client_id: str, state: str) -> str:
    """What a collector says of itself on its group's state topic (online, offline)."""
    return json.dumps({"v": contract.VERSION, "state": state, "group": group,
                       "client_id": client_id, "ts": contract.rfc3339(dt.datetime.now(dt.UTC))})
