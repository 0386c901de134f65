"""What opening a sealed person costs central, beside what it would cost without each
run's agreement derived once: `open_ms` and `open_own_agreement_ms` in `station bench`,
beside the lane's sealing (tools/bench/sealing.py), of the same person. Wall time per
person, medians of three rounds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from central.reports.opening import Opener
from contract.events import (
    Person,
    SampleRegistered,
    SampleRegisteredEncrypted,
    SampleRegisteredEncryptedEvent,
)
from contract.sealed import keygen, read_keys
from station.sealing import Sealer
from tools.bench.sealing import ROUNDS, a_person, per_call_ms


def opening(count: int) -> dict[str, Any]:
    person = a_person()
    with tempfile.TemporaryDirectory(prefix="natest-bench-keys-") as folder:
        private, public, _ = keygen(Path(folder), "bench")
        sealer = Sealer(read_keys(public, private=False)[0])
        tokens = [sealer.seal("e", person) for _ in range(count)]
        return {"open_ms": _per_open(Opener([private]), tokens),
                "open_own_agreement_ms": _per_open(Opener([private], cached=False), tokens)}


def _per_open(opener: Opener, tokens: list[str]) -> float:
    shell = SampleRegistered("T1", 1, "card", Person("other", "", "", "unknown", ""), False)
    events = iter([SampleRegisteredEncryptedEvent(
        v=1, id="e", site="s", station="l", seq=1, session=1, ts="2026-12-04T00:00:00.000Z",
        clock_synced=True, data=SampleRegisteredEncrypted.of(shell, t)) for t in tokens * ROUNDS])
    return per_call_ms(lambda: opener.open(next(events)), len(tokens))
