"""What sealing costs a lane, beside what it would cost without a shared agreement.

A person sealed with this run's agreement (contract/jwe_session.py), beside the same
person sealed with a key agreement of its own (joserfc's default); the keyed digest of
an ID number the duplicate checks use (station.core.digests.DayDigests). Central opening
them is central's figure (tools/central/opening.py). Wall time per person, medians of
three rounds: under the Pi profile's CPU quota it is what the lane's core waits, as the
accept latency does.
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contract.events import Person

ROUNDS = 3


def per_call_ms(work: Callable[[], object], count: int) -> float:
    spent = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(count):
            work()
        spent.append(time.perf_counter() - started)
    return statistics.median(spent) / count * 1000


def a_person() -> Person:
    """The person every seal and opening of the bench is of."""
    from contract.events import Person  # noqa: PLC0415
    from station.core.identity import nth_synthetic_id  # noqa: PLC0415

    return Person("resident", nth_synthetic_id(1), "张三丰", "male", "1950-01-01",
                  phone="13800138000", address="幸福路1号", card_address="户籍街1号")


def sealing(count: int) -> dict[str, Any]:
    from joserfc import jwe  # noqa: PLC0415 - when benching
    from joserfc.jwk import OKPKey  # noqa: PLC0415

    from contract.sealed import ALG, ENC, keygen, plaintext, read_keys  # noqa: PLC0415
    from station.core.digests import DayDigests  # noqa: PLC0415
    from station.sealing import Sealer  # noqa: PLC0415

    person = a_person()
    with tempfile.TemporaryDirectory(prefix="natest-bench-keys-") as folder:
        _, public, kid = keygen(Path(folder), "bench")
        sealer = Sealer(read_keys(public, private=False)[0])
        sealer.warm()
        key = OKPKey.import_key(read_keys(public, private=False)[0])
        header = {"alg": ALG, "enc": ENC, "kid": kid}
        body = plaintext("e", person.to_json())
        digests, today = DayDigests.fresh(), dt.date.today()
        digests(today, "warm")
        return {
            "seal_ms": per_call_ms(lambda: sealer.seal("e", person), count),
            "seal_own_agreement_ms": per_call_ms(
                lambda: jwe.encrypt_compact(header, body, key), count),
            "digest_ms": per_call_ms(lambda: digests(today, person.id_number),
                                     max(count // 10, 10)),
        }
