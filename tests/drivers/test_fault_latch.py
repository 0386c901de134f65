"""One alarm per fault, one all-clear per recovery, whatever happens in between."""

from drivers.common.fault_latch import FaultLatch


def test_a_fault_and_its_recovery_are_each_told_once() -> None:
    told: list[str] = []
    latch = FaultLatch(lambda reason: told.append(f"fault: {reason}"),
                       lambda: told.append("recovered"))
    latch.ok()                                   # healthy from the start: nothing to tell
    for reason in ("paper out", "paper out", "head open"):
        latch.fault(reason)                      # the first reason is the one told
    assert latch.faulted
    latch.ok()
    latch.ok()
    latch.fault("unplugged")
    assert told == ["fault: paper out", "recovered", "fault: unplugged"]
