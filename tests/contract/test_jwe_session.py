"""Central's short way to open a station run's persons (contract.jwe_session.SessionOpening)
opens exactly what the JOSE library's whole path opens, and refuses what it refuses."""

from __future__ import annotations

import base64
import itertools
import json

import pytest
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwe import JWERegistry
from joserfc.jwk import KeySet, OKPKey

from central.reports.opening import Opener, Unopenable
from contract.jwe_session import SessionOpening
from contract.sealed import ALG, ENC, b64url, read_keys
from station.sealing import Sealer
from tests.central_keys import key_pair
from tests.station.test_sealing import PERSON

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def central_keys() -> KeySet:
    return KeySet([OKPKey.import_key(jwk) for jwk in read_keys(key_pair()[0], private=True)])


def whole(token: str) -> bytes | None:
    """What the library alone, a key agreement of its own, makes of a token."""
    try:
        opened = jwe.decrypt_compact(token, central_keys(),
                                     registry=JWERegistry(algorithms=[ALG, ENC]))
    except (JoseError, ValueError):
        return None
    return opened.plaintext


def short(opening: SessionOpening, token: str) -> bytes | None:
    try:
        return opening.plaintext(token)
    except (JoseError, ValueError):
        return None


def mutants(token: str, other: str) -> list[str]:
    """Every character of the wrapped key, IV and tag changed, a spread of the
    ciphertext's, segments cut, padded, swapped with another person's of the same run."""
    parts = token.split(".")
    found = []

    def changed(index: int, segment: str) -> str:
        return ".".join([*parts[:index], segment, *parts[index + 1:]])

    for index in (1, 2, 3, 4):
        segment = parts[index]
        places = range(len(segment)) if index != 3 else range(0, len(segment), 7)
        for place in places:
            for char in (B64URL[(B64URL.index(segment[place]) + 1) % 64], "+", "="):
                found.append(changed(index, segment[:place] + char + segment[place + 1:]))
        found += [changed(index, segment[:-1]), changed(index, segment + "A"),
                  changed(index, segment + "="), changed(index, segment + "=="),
                  changed(index, "")]
        # what a lenient decoder passes over: whole quanta of characters not base64url
        middle = len(segment) // 2
        found += [changed(index, segment[:middle] + skipped + segment[middle:])
                  for skipped in ("!!!!", "    ", "\n\n\n\n", "====")]
    theirs = other.split(".")
    for taken in itertools.product((0, 1), repeat=4):
        found.append(".".join([parts[0], *((parts, theirs)[t][i + 1]
                                            for i, t in enumerate(taken))]))
    found += [".".join(parts[:4]), token + ".", token + "." + parts[4], token + " "]
    # The ciphertext and the tag, one stream cut elsewhere: as one-shot AES-GCM reads
    # them, the same bytes; the library's GCM refuses a tag that is not 16 bytes.
    sealed = b64url(parts[3]) + b64url(parts[4])
    for tag_bytes in (15, 17, 32):
        cut = [unpadded(sealed[:-tag_bytes]), unpadded(sealed[-tag_bytes:])]
        found.append(".".join([*parts[:3], *cut]))
    return found


def unpadded(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def test_the_short_way_opens_and_refuses_what_the_library_does() -> None:
    sealer = Sealer(read_keys(key_pair()[1], private=False)[0])
    first, token, other = (sealer.seal(f"e{n}", PERSON) for n in (1, 2, 3))
    opening = SessionOpening(central_keys())
    header = token.split(".")[0]
    assert not opening.knows(header)
    assert opening.plaintext(first) == whole(first)   # the library's whole path, once
    assert opening.knows(header)
    assert json.loads(opening.plaintext(token))["event"] == "e2"
    cases = mutants(token, other)
    assert len(cases) > 300
    outcomes = [(short(opening, case), whole(case)) for case in cases]
    differ = [case for case, (ours, theirs) in zip(cases, outcomes, strict=True)
              if ours != theirs]
    assert differ == []
    opened = sum(ours is not None for ours, _ in outcomes)
    assert opened == 2   # the token itself and other's parts under the same header


def test_a_header_it_has_not_opened_goes_the_librarys_whole_way() -> None:
    """The same header with its JSON spelt otherwise is another header: not known, and
    its AAD differs, so the person does not open."""
    sealer = Sealer(read_keys(key_pair()[1], private=False)[0])
    token = sealer.seal("e1", PERSON)
    opening = SessionOpening(central_keys())
    assert opening.plaintext(token)
    head, *rest = token.split(".")
    respelt = json.dumps(json.loads(b64url(head)), indent=1).encode()
    other_head = base64.urlsafe_b64encode(respelt).decode().rstrip("=")
    assert not opening.knows(other_head)
    with pytest.raises(JoseError):
        opening.plaintext(".".join([other_head, *rest]))


def test_damage_after_the_first_person_of_a_run_is_named() -> None:
    sealer = Sealer(read_keys(key_pair()[1], private=False)[0])
    opener = Opener([key_pair()[0]])
    assert opener.person(sealer.seal("e1", PERSON), "e1", "first") == PERSON
    head, key, iv, text, tag = sealer.seal("e2", PERSON).split(".")
    flipped = tag[:5] + ("A" if tag[5] != "A" else "B") + tag[6:]
    with pytest.raises(Unopenable, match="second: does not open with key 'central-test'"):
        opener.person(".".join((head, key, iv, text, flipped)), "e2", "second")
