"""The sealed person (contract 1.4): what a station encrypts, to whom, and how to read it.

A `sample.registered.encrypted` event carries, instead of `data.person`, `person_jwe`: a
JWE (RFC 7516) in compact serialization, `alg` ECDH-ES+A256KW on an X25519 key (RFC
8037), `enc` A256GCM, `kid` naming central's key. Its plaintext is the JSON object
`{"event": <the envelope's id>, "person": <the person, as in sample.registered>}`: the
id inside is authenticated with the person, so a sealed person copied into another
event does not open as that event's.

Keys are JWKs (RFC 7517): central's private key opens, a station holds only the public
one. A key file holds one JWK or a JWK Set (`{"keys": [...]}`: rotation, several kids).
This module reads and checks them as JSON, without the JOSE library, so a station's
config check and its start stay light; sealing and opening import it (station.sealing,
central.reports.opening).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Any, Literal

from contract.errors import ContractError

EVENT_TYPE = "sample.registered.encrypted"
ALG, ENC = "ECDH-ES+A256KW", "A256GCM"
# The public half of example-central.jwk, the published example key (contract/README.md):
# anyone can read its private half, so a lane refuses it as central's key.
EXAMPLE_KEY_X = "UUZF_VLGp9EyZpyEyzCtr5XMQ6RMp4_6JS1bjYixgw8"
CRV: Literal["X25519"] = "X25519"
KID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class KeyFileError(ContractError, ValueError):
    """A key file that cannot serve: the text names the file and what is wrong."""


def b64url(text: str) -> bytes:
    """A base64url part of a JWK or a JWE, unpadded as JOSE writes it (binascii.Error, a
    ValueError, when it is not)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64_bytes(value: Any, length: int) -> bytes | None:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", value):
        return None
    try:
        raw = b64url(value)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == length else None


def _checked(jwk: Any, path: Path, private: bool) -> dict[str, Any]:
    where = f"{path}: key {jwk.get('kid', '?') if isinstance(jwk, dict) else '?'}"
    if not isinstance(jwk, dict):
        raise KeyFileError(f"{path}: a key is not a JSON object")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != CRV:
        raise KeyFileError(f"{where}: not an X25519 key (kty OKP, crv X25519), as "
                           "`natest-central keygen` writes")
    if not isinstance(jwk.get("kid"), str) or not KID.fullmatch(jwk["kid"]):
        raise KeyFileError(f"{where}: needs a kid of 1-64 of A-Z a-z 0-9 _ . -")
    if _b64_bytes(jwk.get("x"), 32) is None:
        raise KeyFileError(f"{where}: x is not a base64url X25519 public key")
    if private and _b64_bytes(jwk.get("d"), 32) is None:
        raise KeyFileError(f"{where}: no private part (d): this is a public key; central "
                           "opens with the private key file")
    if not private and "d" in jwk:
        raise KeyFileError(f"{where}: holds the private part (d): a station takes central's "
                           "public key only (the .pub.jwk file)")
    return jwk


def read_keys(path: Path, *, private: bool) -> list[dict[str, Any]]:
    """The JWKs of a key file, checked; KeyFileError names what is wrong. A private key
    file must be its owner's alone (mode 0600)."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise KeyFileError(f"{path}: not a JWK (not UTF-8 text)") from None
    if private and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{path}: a private key must be its owner's alone (chmod 600), "
                           f"not mode {stat.S_IMODE(mode):o}")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise KeyFileError(f"{path}: not a JWK (not JSON: {exc})") from None
    keys = doc.get("keys") if isinstance(doc, dict) and "keys" in doc else [doc]
    if not isinstance(keys, list) or not keys:
        raise KeyFileError(f"{path}: a JWK Set with no keys")
    checked = [_checked(jwk, path, private) for jwk in keys]
    kids = [jwk["kid"] for jwk in checked]
    if len(set(kids)) != len(kids):
        raise KeyFileError(f"{path}: two keys with one kid")
    return checked


def keygen(folder: Path, kid: str = "") -> tuple[Path, Path, str]:
    """Write `<kid>.jwk` (private, 0600) and `<kid>.pub.jwk` in `folder`; their paths
    and the kid. An existing file is never overwritten."""
    from joserfc.jwk import OKPKey  # noqa: PLC0415 - keygen only: not at a station's start

    kid = kid or f"central-{dt.datetime.now(dt.UTC):%Y%m%d}-{secrets.token_hex(3)}"
    if not KID.fullmatch(kid):
        raise ValueError(f"kid {kid!r}: 1-64 of A-Z a-z 0-9 _ . -")
    key = OKPKey.generate_key(CRV, parameters={"kid": kid})
    private, public = folder / f"{kid}.jwk", folder / f"{kid}.pub.jwk"
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(key.as_dict(private=True), out, indent=2)
    with public.open("x", encoding="utf-8") as out:
        json.dump(key.as_dict(private=False), out, indent=2)
    return private, public, kid


def plaintext(event_id: str, person: dict[str, Any]) -> bytes:
    return json.dumps({"event": event_id, "person": person}, ensure_ascii=False,
                      separators=(",", ":")).encode()
