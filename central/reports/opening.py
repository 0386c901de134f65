"""Central's key pair, and the sealed persons opened with it (contract/sealed.py).

`natest-central keygen` makes an X25519 key pair as JWKs: the private key for central's
reports (mode 0600, `--private-key`), the public one for every station's `[privacy]
central_key`. The collector needs neither: it stores what arrives, sealed. A report that
prints people opens each `sample.registered.encrypted` into the `sample.registered` it
was at the lane; one it cannot open (a key it does not hold, a changed byte, a person
copied from another event) is named, never printed as garbage.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import msgspec

from central.errors import CentralError
from central.reports.projection import TypedCard
from central.store.event_store import FormData
from contract import sealed
from contract.events import Person, SampleRegisteredEncryptedEvent, SampleRegisteredEvent


class Unopenable(CentralError, ValueError):
    """A sealed person this central cannot open; the text says which and why. `kid`: the
    key it is sealed to, when that key was not given (else None: changed or damaged)."""

    def __init__(self, message: str, kid: str | None = None) -> None:
        super().__init__(message)
        self.kid = kid


class Opener:
    """Opens sealed persons with central's private keys (one or more files: rotation)."""

    def __init__(self, key_files: Sequence[Path], *, cached: bool = True) -> None:
        """`cached`: each run's agreement derived once (the default); False derives it
        for every person, as a consumer without the cache does (the bench's baseline)."""
        from joserfc.jwk import KeySet, OKPKey  # noqa: PLC0415 - reports with people only

        from contract.jwe_session import SessionOpening  # noqa: PLC0415

        self.key_files = list(key_files)   # worker processes open with the same files
        jwks: dict[str, tuple[dict[str, Any], Path]] = {}
        for path in key_files:
            for jwk in sealed.read_keys(path, private=True):   # KeyFileError names the file
                _one_key_a_kid(jwks, jwk, path)
        self.kids = set(jwks)
        keys = KeySet([OKPKey.import_key(jwk) for jwk, _ in jwks.values()])
        # ECDH-ES+A256KW and A256GCM, nothing else
        self._opening = SessionOpening(keys) if cached else _Uncached(keys)

    def open(self, event: SampleRegisteredEncryptedEvent) -> SampleRegisteredEvent:
        return with_person(event, self.person(event.data.person_jwe, event.id, naming(event)))

    def person(self, token: str, event_id: str, where: str) -> Person:
        """The person sealed in `token` for event `event_id`; Unopenable names `where`."""
        return self._inside(token, event_id, where, _Sealed).person

    def document(self, token: str, event_id: str, where: str) -> tuple[str, str]:
        """Only the type and number of the person's document (coverage's): the rest of
        the person is not decoded."""
        document = self._inside(token, event_id, where, _SealedDocument).person
        return document.id_type, document.id_number

    def _inside(self, token: str, event_id: str, where: str, kind: type[_S]) -> _S:
        from joserfc.errors import JoseError  # noqa: PLC0415

        header = token.split(".", 1)[0]
        if not self._opening.knows(header):
            self._check_kid(header, where)
        try:
            inside = msgspec.json.decode(self._opening.plaintext(token), type=kind)
        except (JoseError, ValueError, RecursionError, msgspec.ValidationError) as exc:
            raise Unopenable(f"{where}: does not open with key {self._kid(header)!r} "
                             f"({type(exc).__name__}): changed or damaged") from None
        if inside.event != event_id:
            raise Unopenable(f"{where}: the sealed person belongs to another event")
        return inside

    def _check_kid(self, header: str, where: str) -> None:
        try:
            kid = self._kid(header)
        except ValueError:
            raise Unopenable(f"{where}: not a JWE") from None
        if not isinstance(kid, str) or kid not in self.kids:   # no kid: not a station's
            raise Unopenable(f"{where}: sealed to key {kid!r}, which the key files given "
                             f"do not hold ({', '.join(sorted(self.kids))})",
                             kid if isinstance(kid, str) else None)

    @staticmethod
    def _kid(header: str) -> Any:
        """The header's kid; ValueError for one that is not JSON, or nests so deep that
        the parser gives up (RecursionError: 2,000 brackets fit the schema's length)."""
        try:
            parsed = json.loads(sealed.b64url(header))
        except RecursionError:
            raise ValueError("a header nested too deep") from None
        return parsed.get("kid") if isinstance(parsed, dict) else None


def _one_key_a_kid(jwks: dict[str, tuple[dict[str, Any], Path]], jwk: dict[str, Any],
                   path: Path) -> None:
    """Two different keys under one kid would leave it to chance which one is tried, and
    persons of the other would read as "changed or damaged": refused, naming both files.
    The same key given twice (a copy) is one key."""
    kid = jwk["kid"]
    if kid in jwks and jwks[kid][0]["d"] != jwk["d"]:
        raise sealed.KeyFileError(f"{path}: kid {kid!r} is also in {jwks[kid][1]}, with "
                                  "another key: give the one the stations seal to")
    jwks.setdefault(kid, (jwk, path))


class _Sealed(msgspec.Struct):
    """What a station seals (contract.sealed.plaintext): the event's id and its person."""

    event: str
    person: Person


class Document(msgspec.Struct):
    """Of a person, only what coverage compares: the document (the rest is not read)."""

    id_type: str
    id_number: str


class _SealedDocument(msgspec.Struct):
    event: str
    person: Document


_S = TypeVar("_S", _Sealed, _SealedDocument)


class _Uncached:
    """The library's whole path for every person, one key agreement each: what a
    consumer without the session cache does (the bench's baseline)."""

    def __init__(self, keys: Any) -> None:
        from joserfc.jwe import JWERegistry  # noqa: PLC0415

        self._keys, self._registry = keys, JWERegistry(algorithms=[sealed.ALG, sealed.ENC])

    def knows(self, header: str) -> bool:
        return False

    def plaintext(self, token: str) -> bytes:
        from joserfc import jwe  # noqa: PLC0415

        return jwe.decrypt_compact(token, self._keys, registry=self._registry).plaintext or b""


def naming(event: SampleRegisteredEncryptedEvent) -> str:
    """How an error names a sealed registration: never by its person."""
    return named(event.site, event.station, event.seq, event.id)


def named(site: str, station: str, seq: int, event_id: str) -> str:
    return f"{site}/{station} seq {seq} (event {event_id})"


# The person of a sealed registration or card in a report that does not print people
# (totals, custody, reconcile): counted, never opened. And one that would not open.
SEALED = Person("other", "", "", "unknown", "")
UNOPENED = Person("other", "", "（未能解密）", "unknown", "")

Holder = Literal["registration", "card"]   # what a person is sealed in
NO_KEY: dict[Holder, str] = {
    "registration": "the registrations' persons are sealed: give --private-key, central's "
                    "private key (`natest-central keygen`)",
    "card": "the paper cards' persons are sealed: give --private-key, central's private key"}


class NeedsKey(CentralError, ValueError):
    """A report that prints people met a sealed person and was given no key."""


class Persons:
    """How a report reads sealed persons, a lane's registrations and paper cards alike:
    opened with central's key where it prints people (`needed`), else counted without
    opening. What will not open is shown as not opened and kept for the report's end:
    each changed or damaged one named in `errors`; those sealed to a key not given
    counted by that key in `not_held` (a whole day sealed to a retired key is one line,
    not thousands). The report's opening stage (opening_pool.unsealed) asks it; the fold
    never does."""

    def __init__(self, opener: Opener | None = None, *, needed: bool = False) -> None:
        self.opener, self.needed = opener, needed
        self.errors: list[str] = []
        self.not_held: Counter[str] = Counter()
        self.first_not_held: dict[str, str] = {}   # a kid → the first person's reason

    def person(self, token: str, owner: str, where: str, holder: Holder) -> Person:
        """The person sealed in `token` for `owner` (an event's id, a card's serial):
        opened, counted, or shown as not opened; `where` names it in an error."""
        if self.opener is None:
            if self.needed:
                raise NeedsKey(NO_KEY[holder])
            return SEALED
        try:
            return self.opener.person(token, owner, where)
        except Unopenable as exc:
            return self.not_opened(str(exc), exc.kid)

    def not_opened(self, why: str, kid: str | None = None) -> Person:
        """A person that will not open, here or in a worker process: the reason kept for
        the report's end (`kid`: the key it is sealed to, not given), the person shown as
        not opened."""
        if kid is None:
            self.errors.append(why)
        else:
            self.not_held[kid] += 1
            self.first_not_held.setdefault(kid, why)
        return UNOPENED

    def registered(self, event: SampleRegisteredEncryptedEvent) -> SampleRegisteredEvent:
        """The registration as it was at the lane, its person opened or a placeholder."""
        return with_person(event, self.person(event.data.person_jwe, event.id, naming(event),
                                              "registration"))

    def forms(self, stored: dict[str, FormData]) -> dict[str, TypedCard]:
        """Paper cards' typed data as a report reads it, serial → (id_number, name, the
        document's type, phone): a sealed card opened like a registration (bound to its
        serial), or counted."""
        typed = {}
        for serial, (number, name, kind, token, phone) in stored.items():
            if not token:
                typed[serial] = TypedCard(number, name, kind, phone)
                continue
            person = self.person(token, serial, f"paper card {serial}", "card")
            typed[serial] = TypedCard(person.id_number, person.name, person.id_type,
                                      person.phone)
        return typed


def with_person(event: SampleRegisteredEncryptedEvent, person: Person
                ) -> SampleRegisteredEvent:
    """The registration as it was at the lane, with this person."""
    fields = msgspec.structs.asdict(event)
    fields["data"] = event.data.opened(person)
    return SampleRegisteredEvent(**fields)
