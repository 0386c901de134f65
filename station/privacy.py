"""The [privacy] section: to whom the lane seals personal data.

    [privacy]
    central_key = "/etc/natest/central.pub.jwk"   # from `natest-central keygen`
    # key_id = "central-2026-12"   # which key of a JWK Set (rotation)
    # seal = false                 # a lab bench only: persons leave in plaintext
    # digest_key = "runtime"       # the duplicate checks' secret: "runtime" or "otp"

Sealing is the default, with or without the section: a station that cannot seal does
not start (exit 78, the file and key named), rather than write people in plaintext.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from contract.sealed import EXAMPLE_KEY_X, KeyFileError, read_keys
from drivers.common.config_section import Section, one_of
from station.digest_secret import DIGEST_SOURCES, DigestSource


class PrivacyConfig(msgspec.Struct, frozen=True):
    seal: bool = True
    central_key: Path | None = None
    key: dict[str, Any] | None = None   # the public JWK sealed to, read and checked
    digest_key: DigestSource = "runtime"   # where the duplicate checks' secret comes from

    @property
    def unsealed(self) -> bool:
        return not self.seal


def _chosen(section: Section, path: Path, key_id: str) -> dict[str, Any] | None:
    try:
        keys = read_keys(path, private=False)
    except KeyFileError as exc:
        section.problem("central_key", str(exc))
        return None
    if key_id:
        found = [k for k in keys if k["kid"] == key_id]
        if not found:
            section.problem("key_id", f"{key_id!r} is not in {path}; it holds "
                                      + ", ".join(k["kid"] for k in keys))
            return None
        return _not_the_example(section, path, found[0])
    if len(keys) > 1:
        section.problem("key_id", f"{path} holds {len(keys)} keys: name the one to seal to")
        return None
    return _not_the_example(section, path, keys[0])


def _not_the_example(section: Section, path: Path,
                     key: dict[str, Any]) -> dict[str, Any] | None:
    if key.get("x") == EXAMPLE_KEY_X:
        section.problem("central_key", f"{path} holds the contract's published example key "
                                       f"(kid {key['kid']!r}), whose private half anyone can "
                                       "read: seal to central's own (`natest-central keygen`)")
        return None
    return key


def read_privacy(section: Section) -> PrivacyConfig:
    seal = section.get("seal", bool, True)
    path = section.get("central_key", str, "")
    key_id = section.get("key_id", str, "")
    digest_key = section.get("digest_key", str, "runtime", one_of(*DIGEST_SOURCES))
    if not seal:
        return PrivacyConfig(seal=False, central_key=Path(path) if path else None,
                             digest_key=digest_key)
    if not path:
        section.problem("central_key", "is required: the file of central's public key "
                                       "(`natest-central keygen` writes it); persons are "
                                       "sealed to it before anything is written")
        return PrivacyConfig()
    return PrivacyConfig(central_key=Path(path), key=_chosen(section, Path(path), key_id),
                         digest_key=digest_key)
