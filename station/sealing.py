"""Personal data sealed at the lane.

A registration's person is encrypted to central's public key before anything is written
(contract/sealed.py says the form: JWE, ECDH-ES+A256KW on X25519, A256GCM): the outbox,
the broker and central's database hold ciphertext only, which central's private key
opens. One key agreement serves a run of the station (contract/jwe_session.py: 40 µs a
seal here, 170 with one per person): its secret is in memory only, new at every start.
The day's duplicate checks are station/core/digests.py's.

The JOSE library is not imported with the station's modules: station/runner.py imports it
on a thread of its own while the store opens, and says ready only once it is in.
"""

from __future__ import annotations

from contract.sealer import Sealer

__all__ = ["Sealer"]   # Sealer: contract.sealer, central seals paper cards too
