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
wrapped key, IV, ciphertext and tag; `SessionOpening` hands those straight to the same
library models that the whole path ends in (its A256KW unwrapping, its A256GCM
decryption, the header segment as the AAD), skipping the checks that depend on the
header alone. Measured here: a seal 40 µs instead of 170, an opening 21 instead of 106
(BENCHMARKS.md).

Imported when the first person is sealed or opened: joserfc pulls in pyca/cryptography.
"""

from __future__ import annotations

from typing import Any

from joserfc import jwe
from joserfc.errors import DecodeError
from joserfc.jwa import AESAlgKeyWrapping, ECDHESAlgKeyAgreement
from joserfc.jwe import JWERegistry
from joserfc.jwk import KeySet, OKPKey
from joserfc.util import urlsafe_b64decode

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
        parts = token.split(".")
        agreed = self._agreed.get(parts[0]) if len(parts) == 5 else None
        if agreed is None:
            return self._whole(token)
        wrapped, iv, ciphertext, tag = (urlsafe_b64decode(p.encode("ascii")) for p in parts[1:])
        self._enc.check_iv(iv)
        cek = self._agreement.unwrap_cek_with_auk(wrapped, agreed)
        if len(cek) * 8 != self._enc.cek_size:
            raise DecodeError("wrong content key size")
        return self._enc.decrypt(ciphertext, tag, cek, iv, parts[0].encode("ascii"))

    def _whole(self, token: str) -> bytes:
        self._agreement.last = b""
        opened = jwe.decrypt_compact(token, self._keys, registry=self._registry)
        # a compressed person would need the library's inflating: never taken the short way
        if self._agreement.last and "zip" not in opened.protected:
            if len(self._agreed) >= CACHED_AGREEMENTS:
                self._agreed.clear()
            self._agreed[token.split(".", 1)[0]] = self._agreement.last
        return opened.plaintext or b""
