"""The key of the document index (central/store/documents.py): what `report coverage`
compares a roster's numbers with, instead of the numbers themselves.

An ID number has little entropy (about 10^11 numbers, far fewer once a birth date or an
area is known): a plain hash of one is reversed by trying them all in minutes. So the
index holds keyed BLAKE2b digests (RFC 7693's MAC, 16 bytes) under a key that HKDF
derives from central's private keys, and that key is never written anywhere: a copy of
the database without the private key files says nothing of whom it holds, not even by
guessing numbers. Anyone holding the private keys opens the sealed persons anyway. The
index keeps only a check value of the key (the digest of a fixed text, which reveals
nothing of it), so a report given other keys empties the index and builds it again
instead of comparing digests that can never match.

The key is derived from every private key given, in the order of their kids: adding a
key (a rotation) or leaving one out gives another key, and the next coverage opens every
registration of its period again, once (a cold run), then compares on the new index.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from contract import sealed

DIGEST_BYTES = 16
# v2: BLAKE2b digests (v1's were HMAC-SHA256: an index made under v1 is another key's,
# emptied and made again by the first report after the upgrade, as after a key rotation).
INFO = b"natest-central document index v2"


class DocumentKey:
    """Keyed BLAKE2b of a document's number under the key derived from central's keys:
    half the time of an HMAC-SHA256 (a city's roster digests 5,000,000 numbers, and a
    cold coverage 4,000,000 more), and a MAC by its own design (RFC 7693)."""

    def __init__(self, secret: bytes) -> None:
        from cryptography.hazmat.primitives import hashes  # noqa: PLC0415 - reports only
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: PLC0415

        self._key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                         info=INFO).derive(secret)
        self.check = self.digest(INFO.decode() + " check").hex()

    @classmethod
    def of_files(cls, key_files: Sequence[Path]) -> DocumentKey:
        """The key of these private key files (KeyFileError names a file that is wrong)."""
        jwks = {jwk["kid"]: jwk["d"] for path in key_files
                for jwk in sealed.read_keys(path, private=True)}
        return cls(b"".join(sealed.b64url(jwks[kid]) for kid in sorted(jwks)))

    def digest(self, number: str) -> bytes:
        """The digest of a document's number, as coverage compares it (upper-case)."""
        return hashlib.blake2b(number.upper().encode(), key=self._key,
                               digest_size=DIGEST_BYTES).digest()
