"""One key agreement per station run, as JWE allows (contract/sealed.py's form).

ECDH-ES+A256KW with one ephemeral key for every person a station seals in one run: the
header's `epk` repeats, and each person still gets a content key of its own (wrapped by
the agreed key) and an IV of its own. The ephemeral private key and the agreed key live
in the process's memory only, and a new pair is made at every start: a powered-off
station holds neither. Central derives the agreed key once per (its key, epk) and then
only unwraps. Both are joserfc's own ECDH-ES model, subclassed where it makes the
ephemeral key and where it derives the agreed key, in registries of their own (the
extension point joserfc.jwa exports): the cryptography is the library's.

Central opens the first person of each protected header (one station run's) through the
library whole: it parses and checks that header, picks the key by `kid`, derives the
agreed key. Every later person with the byte-identical header differs only in its
wrapped key, IV, ciphertext and tag; `SessionOpening` decodes those by the library's
strict base64url rules (`_segments`: no '+', '/' or '=', no stray bits, nothing outside
the alphabet) and hands them to the pyca primitives the library's A256KW and A256GCM
models call (`aes_key_unwrap`; `AESGCM`, pyca's one-shot AES-GCM, where the model uses
its streaming Cipher), the header segment as the AAD, with the checks those models make
(IV, tag and content key sizes), each failure a DecodeError as theirs is; it skips only
the checks that depend on the header alone. A test holds the two ways to the same
verdict on every changed character. Measured here: a seal 40 µs instead of 170; an
opening 106 µs the whole way, 17.5 through the library's models, 6.7 now (of the 17.5,
7 went to the library's base64 and 4.5 to its AES-GCM; BENCHMARKS.md).

Imported when the first person is sealed or opened: joserfc pulls in pyca/cryptography.
"""

from __future__ import annotations

import binascii
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap
from joserfc import jwe
from joserfc.errors import DecodeError
from joserfc.jwa import AESAlgKeyWrapping, ECDHESAlgKeyAgreement
from joserfc.jwe import JWERegistry
from joserfc.jwk import KeySet, OKPKey

from contract.sealed import ALG, CRV, ENC

CACHED_AGREEMENTS = 65_536   # central: a city's stations restart a few times a day


class _SessionAgreement(ECDHESAlgKeyAgreement):
    """The station's side: this run's ephemeral key, the agreement derived once per
    recipient key."""

    def __init__(self) -> None:
        super().__init__(AESAlgKeyWrapping(256, True))
        self.ephemeral = OKPKey.generate_key(CRV, private=True)
        self._public = self.ephemeral.as_dict(private=False)
        self._agreed: dict[tuple[int, Any, Any], bytes] = {}

    def prepare_ephemeral_key(self, recipient: Any) -> None:
        recipient.ephemeral_key = self.ephemeral
        recipient.add_header("epk", self._public)

    def encrypt_agreed_upon_key(self, enc: Any, recipient: Any) -> bytes:
        headers = recipient.headers()
        key = (id(recipient.recipient_key), headers.get("apu"), headers.get("apv"))
        agreed = self._agreed.get(key)
        if agreed is None:
            agreed = self._agreed[key] = super().encrypt_agreed_upon_key(enc, recipient)
        return agreed


class _CachedOpening(ECDHESAlgKeyAgreement):
    """Central's side: the agreement of each (private key, epk) derived once."""

    def __init__(self) -> None:
        super().__init__(AESAlgKeyWrapping(256, True))
        self._agreed: dict[tuple[Any, ...], bytes] = {}
        self.last = b""   # the agreed key of the last person opened

    def decrypt_agreed_upon_key(self, enc: Any, recipient: Any) -> bytes:
        headers = recipient.headers()
        epk = headers.get("epk") or {}
        key = (id(recipient.recipient_key), epk.get("crv"), epk.get("x"), headers.get("apu"),
               headers.get("apv"), headers.get("alg"), headers.get("enc"))
        agreed = self._agreed.get(key)
        if agreed is None:
            if len(self._agreed) >= CACHED_AGREEMENTS:
                self._agreed.clear()
            agreed = self._agreed[key] = super().decrypt_agreed_upon_key(enc, recipient)
        self.last = agreed
        return agreed


def _registry(model: ECDHESAlgKeyAgreement) -> JWERegistry:
    class Registry(JWERegistry):
        algorithms = {"alg": {**JWERegistry.algorithms["alg"], ALG: model},  # noqa: RUF012
                      "enc": JWERegistry.algorithms["enc"],
                      "zip": JWERegistry.algorithms["zip"]}
    return Registry(algorithms=[ALG, ENC])


def sealing_registry() -> JWERegistry:
    """For one station run: a new ephemeral key, kept in memory only."""
    return _registry(_SessionAgreement())


class SessionOpening:
    """Central's opening of compact JWEs sealed by stations: the library's whole path for
    the first person of each protected header, its key unwrapping and content decryption
    alone for the rest (the module's text says why that is the same)."""

    def __init__(self, keys: KeySet) -> None:
        self._keys = keys
        self._agreement = _CachedOpening()
        self._registry = _registry(self._agreement)
        self._enc = self._registry.get_enc(ENC)
        self._agreed: dict[str, bytes] = {}   # protected header segment -> agreed key

    def knows(self, header: str) -> bool:
        """Whether a person with this protected header segment was opened already."""
        return header in self._agreed

    def plaintext(self, token: str) -> bytes:
        """The plaintext; JoseError or ValueError when it does not open."""
        header = token.split(".", 1)[0]
        agreed = self._agreed.get(header)
        if agreed is None:
            return self._whole(token)
        wrapped, iv, ciphertext, tag = _segments(token)
        self._enc.check_iv(iv)
        if len(tag) != TAG_BYTES:   # as pyca's GCM mode refuses a tag of another size
            raise DecodeError("wrong tag size")
        try:
            cek = aes_key_unwrap(agreed, wrapped)
        except InvalidUnwrap:
            raise DecodeError("Unwrap AES key failed") from None
        if len(cek) * 8 != self._enc.cek_size:
            raise DecodeError("wrong content key size")
        try:
            return AESGCM(cek).decrypt(iv, ciphertext + tag, header.encode("ascii"))
        except InvalidTag:
            raise DecodeError("InvalidTag") from None

    def _whole(self, token: str) -> bytes:
        self._agreement.last = b""
        opened = jwe.decrypt_compact(token, self._keys, registry=self._registry)
        # a compressed person would need the library's inflating: never taken the short way
        if self._agreement.last and "zip" not in opened.protected:
            if len(self._agreed) >= CACHED_AGREEMENTS:
                self._agreed.clear()
            self._agreed[token.split(".", 1)[0]] = self._agreement.last
        return opened.plaintext or b""


TAG_BYTES = 16
_URLSAFE = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"", b"==", b"=")   # by the length mod 4 (1: never base64)
# The last character of a segment whose length leaves 2 or 3 mod 4 holds bits that must
# be zero: the characters that have them so (joserfc.util.urlsafe_b64decode's rule).
_ENDINGS = (b"", b"", b"AQgw", b"AEIMQUYcgkosw048")


def _segments(token: str) -> list[bytes]:
    """The four segments after the header, decoded as joserfc.util.urlsafe_b64decode
    decodes each (base64url unpadded: no '+', '/' or '=', no length 1 mod 4, no stray
    bits, nothing outside the alphabet), in C but for one check a segment; ValueError
    (binascii.Error, UnicodeEncodeError) when a segment is not, DecodeError when the
    token is not five segments (as the library's parsing says)."""
    raw = token.encode("ascii")
    if b"+" in raw or b"/" in raw or b"=" in raw:
        raise binascii.Error("not base64url")
    parts = raw.translate(_URLSAFE).split(b".")
    if len(parts) != 5:
        raise DecodeError("Invalid JSON Web Encryption")
    decoded = []
    for part in parts[1:]:
        left = len(part) % 4
        if left == 1 or (left and part[-1] not in _ENDINGS[left]):
            raise binascii.Error("not base64url")
        decoded.append(binascii.a2b_base64(part + _PADDING[left], strict_mode=True))
    return decoded
