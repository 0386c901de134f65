"""Central's key pair for the tests: made once per test process with `natest-central
keygen`'s own code, in a private temporary folder."""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import msgspec

from central.reports.opening import Opener
from contract.events import (
    SampleRegisteredEncryptedEvent,
    SampleRegisteredEvent,
    decode_event,
)
from contract.sealed import keygen
from station.config import Config
from station.config import parse as parse_config


@functools.cache
def key_pair() -> tuple[Path, Path]:
    """(central's private key file, the public key file a station seals to)."""
    folder = Path(tempfile.mkdtemp(prefix="natest-test-keys-"))
    atexit.register(shutil.rmtree, folder, True)
    private, public, _ = keygen(folder, "central-test")
    return private, public


def privacy_section() -> list[str]:
    return ["[privacy]", f'central_key = "{key_pair()[1]}"']


def with_key(text: str) -> str:
    """A station's config text with central's test key, unless it has a [privacy] of its
    own: sealing is the default, and a lane without a key does not start."""
    return text if "[privacy]" in text else text + "\n" + "\n".join(privacy_section()) + "\n"


def parse(text: str, source: str) -> Config:
    """station.config.parse of a lane's config, with central's test key (with_key)."""
    return parse_config(with_key(text), source)


def people_in(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The person of every registration among published events, opened with central's
    test key where sealed (a lab bench's come plain)."""
    opener = Opener([key_pair()[0]])
    people = []
    for body in events:
        event = decode_event(json.dumps(body))
        if isinstance(event, SampleRegisteredEncryptedEvent):
            event = opener.open(event)
        if isinstance(event, SampleRegisteredEvent):
            people.append(msgspec.to_builtins(event.data.person))
    return people


# A registration as a station publishes it: sealed (a lane) or plain (a lab bench).
REGISTERED = ("sample.registered", "sample.registered.encrypted")
