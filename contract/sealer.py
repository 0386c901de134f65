"""A person sealed to central's public key (contract/sealed.py's form): by a lane for
every registration, by central for the paper cards it imports.

The JOSE library is imported at the first seal or warm(), not with this module: a lane
warms it beside its store's syncs, before it says ready (station/sealing.py).
"""

from __future__ import annotations

import threading
from typing import Any

from contract import sealed
from contract.events import Person


class Sealer:
    """Seals a person to central's public key (the kid chosen in [privacy]), with one
    key agreement for this run (contract/jwe_session.py): its ephemeral key is made here,
    at the first seal or warm(), in memory only."""

    def __init__(self, jwk: dict[str, Any]) -> None:
        self.jwk, self.kid = jwk, str(jwk["kid"])
        self._key: Any = None
        self._registry: Any = None
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Import the JOSE library, make the key and this run's agreement (about 0.1 s
        here; 0.3 on a Pi)."""
        with self._lock:
            if self._key is None:
                from joserfc.jwk import OKPKey  # noqa: PLC0415 - heavy: off the import path

                from contract.jwe_session import sealing_registry  # noqa: PLC0415

                self._registry = sealing_registry()
                self._key = OKPKey.import_key(self.jwk)

    def seal(self, event_id: str, person: Person) -> str:
        from joserfc import jwe  # noqa: PLC0415 - imported by warm() already, normally

        self.warm()
        header = {"alg": sealed.ALG, "enc": sealed.ENC, "kid": self.kid}
        return jwe.encrypt_compact(header, sealed.plaintext(event_id, person.to_json()),
                                   self._key, registry=self._registry)
