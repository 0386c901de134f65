"""The day's duplicate checks on keyed digests: pure, given the station's secret.

"Is this person already in this tube / sampled today?" is answered on HMAC-SHA256 digests
of ID numbers, keyed by a key for the day that HKDF derives from the station's secret.
The secret is never written to the card, so a card alone cannot test a guess against a
digest. (A salted slow hash could not do that: the salt sits beside the digests, and the
space of ID numbers is small, about 10^11 and a few 10^4 once a mask gives hints; #39
recovered a lane's day in seconds.) Where the secret comes from is the shell's
(station/digest_secret.py: the Pi's OTP or a file in RAM); this module only computes.

A check value of the secret (`check`) is kept with the digests: a store whose digests
were made under another secret (lost with a reboot, or the Argon2id digests before #39)
forgets them instead of comparing digests that can never match.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from contract.events import Person

SECRET_BYTES, DIGEST_BYTES = 32, 16
INFO = b"natest-station duplicate check v1"


def hkdf(secret: bytes, info: bytes, length: int = SECRET_BYTES) -> bytes:
    """HKDF-SHA256 (RFC 5869) with pyca/cryptography's implementation."""
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415 - off the import path
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: PLC0415

    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


# Numbers of one national space (GB 11643: the resident card, the 81/82/83 residence
# permit, the 2023 foreign card; the old foreign card's 3 letters and 12 digits; a paper
# card's serial) never stand for two people, so they stay keyed alone: a lane upgraded
# during a day still knows whom it sampled that morning.
NUMBER_ALONE = frozenset({"resident", "hmt_permit", "foreign", "other"})


def duplicate_key(person: Person) -> str:
    """What the duplicate checks key on: the document's type and number. A passport
    number is one country's, and equals another's or a permit's by chance; a child under
    a guardian's document is told from its siblings (and the guardian) by its own name
    and birth date, which the code gives."""
    if person.id_type in NUMBER_ALONE:
        return person.id_number
    if person.id_type == "guardian":
        return "\x1f".join((person.id_type, person.guardian_id_type, person.id_number,
                            person.name, person.birth))
    return f"{person.id_type}\x1f{person.id_number}"


class DayDigests:
    """(day, ID number) → digest: the form the duplicate checks compare (station.core.state).
    A key a day: a day's digests say nothing of another day's."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._days: dict[dt.date, bytes] = {}
        # HMAC alone, not HKDF: the store compares it as it opens, while pyca/cryptography's
        # import (7 ms here, over 0.1 s on a Pi) runs beside it (station.runner's warming).
        self.check = hmac.new(secret, INFO + b" check", hashlib.sha256).hexdigest()[:16]

    @classmethod
    def fresh(cls) -> DayDigests:
        """A secret of this process's alone (tests, and a workflow given none)."""
        return cls(secrets.token_bytes(SECRET_BYTES))   # os.urandom, without `os`

    def _key(self, day: dt.date) -> bytes:
        key = self._days.get(day)
        if key is None:
            if len(self._days) > 32:   # today, and each day of a tube open since
                self._days.clear()
            key = self._days[day] = hkdf(self._secret, INFO + b" day " +
                                         day.isoformat().encode())
        return key

    def __call__(self, day: dt.date, id_number: str) -> str:
        mac = hmac.new(self._key(day), id_number.encode(), hashlib.sha256)
        return mac.digest()[:DIGEST_BYTES].hex()
