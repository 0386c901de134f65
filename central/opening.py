"""Central's key pair, and the sealed persons opened with it (contract/sealed.py).

`natest-central keygen` makes an X25519 key pair as JWKs: the private key for central's
reports (mode 0600, `--key-file`), the public one for every station's `[privacy]
central_key`. The collector needs neither: it stores what arrives, sealed. A report that
prints people opens each `sample.registered.encrypted` into the `sample.registered` it
was at the lane; one it cannot open (a key it does not hold, a changed byte, a person
copied from another event) is named, never printed as garbage.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from contract import sealed
from contract.events import Person, SampleRegisteredEncryptedEvent, SampleRegisteredEvent


class Unopenable(ValueError):
    """A sealed person this central cannot open; the text says which and why."""


class Opener:
    """Opens sealed persons with central's private keys (one or more files: rotation)."""

    def __init__(self, key_files: Sequence[Path], *, cached: bool = True) -> None:
        """`cached`: each run's agreement derived once (the default); False derives it
        for every person, as a consumer without the cache does (the bench's baseline)."""
        from joserfc.jwe import JWERegistry  # noqa: PLC0415 - reports with people only
        from joserfc.jwk import KeySet, OKPKey  # noqa: PLC0415

        from contract.jwe_session import opening_registry  # noqa: PLC0415

        self.key_files = list(key_files)   # worker processes open with the same files
        jwks: list[dict[str, Any]] = []
        for path in key_files:
            jwks += sealed.read_keys(path, private=True)   # KeyFileError names the file
        self.kids = {jwk["kid"] for jwk in jwks}
        self._keys = KeySet([OKPKey.import_key(jwk) for jwk in jwks])
        # ECDH-ES+A256KW and A256GCM, nothing else
        self._registry = opening_registry() if cached else JWERegistry(
            algorithms=[sealed.ALG, sealed.ENC])

    def open(self, event: SampleRegisteredEncryptedEvent) -> SampleRegisteredEvent:
        return with_person(event, self.person(event.data.person_jwe, event.id, naming(event)))

    def person(self, token: str, event_id: str, where: str) -> Person:
        """The person sealed in `token` for event `event_id`; Unopenable names `where`."""
        from joserfc import jwe  # noqa: PLC0415
        from joserfc.errors import JoseError  # noqa: PLC0415

        try:
            header = json.loads(sealed.b64url(token.split(".", 1)[0]))
        except ValueError:
            raise Unopenable(f"{where}: not a JWE") from None
        kid = header.get("kid") if isinstance(header, dict) else None
        if not isinstance(kid, str) or kid not in self.kids:
            raise Unopenable(f"{where}: sealed to key {kid!r}, which the key files given "
                             f"do not hold ({', '.join(sorted(self.kids))})")
        try:
            opened = jwe.decrypt_compact(token, self._keys, registry=self._registry)
            inside = json.loads(opened.plaintext or b"")
            person = msgspec.convert(inside["person"], Person)
        except (JoseError, ValueError, KeyError, TypeError, msgspec.ValidationError) as exc:
            raise Unopenable(f"{where}: does not open with key {kid!r} "
                             f"({type(exc).__name__}): changed or damaged") from None
        if inside.get("event") != event_id:
            raise Unopenable(f"{where}: the sealed person belongs to another event")
        return person


def naming(event: SampleRegisteredEncryptedEvent) -> str:
    """How an error names a sealed registration: never by its person."""
    return f"{event.site}/{event.station} seq {event.seq} (event {event.id})"


# The person of a sealed registration in a report that does not print people (totals,
# custody, reconcile): counted, never opened. And one that would not open.
SEALED = Person("other", "", "", "unknown", "")
UNOPENED = Person("other", "", "（未能解密）", "unknown", "")
PEOPLE_REPORTS = ("register", "missing", "forms", "positives", "results")


class NeedsKey(ValueError):
    """A report that prints people met a sealed person and was given no key."""


class Persons:
    """How a report reads sealed registrations: opened with central's key where it prints
    people (`needed`), else counted without opening. What will not open is kept in
    `errors`, and its person shown as not opened."""

    def __init__(self, opener: Opener | None = None, *, needed: bool = False) -> None:
        self.opener, self.needed = opener, needed
        self.errors: list[str] = []

    def registered(self, event: SampleRegisteredEncryptedEvent) -> SampleRegisteredEvent:
        if self.opener is not None:
            try:
                return self.opener.open(event)
            except Unopenable as exc:
                self.errors.append(str(exc))
                return with_person(event, UNOPENED)
        if self.needed:
            raise NeedsKey("the registrations' persons are sealed: give --key-file, "
                           "central's private key (`natest-central keygen`)")
        return with_person(event, SEALED)


def with_person(event: SampleRegisteredEncryptedEvent, person: Person
                ) -> SampleRegisteredEvent:
    """The registration as it was at the lane, with this person."""
    fields = msgspec.structs.asdict(event)
    fields["data"] = event.data.opened(person)
    return SampleRegisteredEvent(**fields)
