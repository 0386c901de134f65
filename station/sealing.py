"""Personal data sealed at the lane, and the day's duplicate checks on digests.

A registration's person is encrypted to central's public key before anything is written
(contract/sealed.py says the form: JWE, ECDH-ES+A256KW on X25519, A256GCM): the outbox,
the broker and central's database hold ciphertext only, which central's private key
opens. One key agreement serves a run of the station (contract/jwe_session.py: 40 µs a
seal here, 170 with one per person): its secret is in memory only, new at every start.

"Was this person sampled today / is this person in this tube?" is answered on an
Argon2id digest of the ID number with a salt of the station's own: a copied card holds
digests, and recovering a number means hashing candidates one by one, each costing
memory and time (the space of ID numbers is about 10^11). Salt and cost are kept with
the digests (meta row `person_keys`), so a later change of cost never mixes digests.

The JOSE library and argon2 are imported when first used, after the station is ready.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable

from contract.sealer import Sealer

__all__ = ["PersonKeys", "Sealer"]   # Sealer: contract.sealer, central seals paper cards too

# Argon2id cost (RFC 9106): memory in KiB, passes, lanes. Chosen for the accept latency
# under the Pi profile (BENCHMARKS.md): a few ms on a Pi 4's core for each digest.
MEMORY_KIB, TIME_COST, LANES, DIGEST_BYTES = 2048, 1, 1, 16


class PersonKeys:
    """ID number → digest: the form the duplicate checks use (station.state)."""

    def __init__(self, salt: bytes, memory_kib: int = MEMORY_KIB,
                 time_cost: int = TIME_COST) -> None:
        self.salt, self.memory_kib, self.time_cost = salt, memory_kib, time_cost
        self._hash: Callable[..., bytes] | None = None

    @classmethod
    def fresh(cls) -> PersonKeys:
        return cls(os.urandom(16))

    @classmethod
    def from_meta(cls, text: str) -> PersonKeys:
        doc = json.loads(text)
        return cls(base64.b64decode(doc["salt"]), doc["memory_kib"], doc["time_cost"])

    def to_meta(self) -> str:
        return json.dumps({"salt": base64.b64encode(self.salt).decode(), "alg": "argon2id",
                           "memory_kib": self.memory_kib, "time_cost": self.time_cost})

    def __call__(self, id_number: str) -> str:
        if self._hash is None:
            from argon2.low_level import Type, hash_secret_raw  # noqa: PLC0415 - at first use

            def digest(secret: bytes) -> bytes:
                return hash_secret_raw(secret, self.salt, time_cost=self.time_cost,
                                       memory_cost=self.memory_kib, parallelism=LANES,
                                       hash_len=DIGEST_BYTES, type=Type.ID)
            self._hash = digest
        return self._hash(id_number.encode()).hex()
