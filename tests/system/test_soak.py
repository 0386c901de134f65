"""The compressed day: registrations as fast as the station takes them, with kills,
purges, broker restarts, link cuts and unplugs (tests/harness/soak.py). CI runs a short one;
`scripts/reliability.py` runs 100,000 and puts the resource samples in RELIABILITY.md."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.harness.soak import Plan, growth, soak

pytestmark = [pytest.mark.faults, pytest.mark.slow]

REGISTRATIONS = int(os.environ.get("NATEST_SOAK_REGISTRATIONS", "2000"))
SAMPLE_EVERY_S = float(os.environ.get("NATEST_SOAK_SAMPLE_S", "1"))

Figures = dict[str, dict[str, object]]


def test_a_compressed_day_of_disruptions_loses_nothing_and_stays_flat(
        tmp_path: Path, figures: Figures) -> None:
    result = soak(Plan(REGISTRATIONS, SAMPLE_EVERY_S), tmp_path)
    samples = result.pop("samples")
    lives = {s["pid"] for s in samples}
    figures["soak"] = {
        **result, "samples": len(samples), "station_lives": len(lives),
        "rss_growth_mb": round(growth(samples, "rss_mb"), 1),
        "fd_growth": growth(samples, "fds"), "thread_growth": growth(samples, "threads"),
        "rss_mb_max": max(s["rss_mb"] for s in samples),
        "db_mb_max": max(s["db_mb"] for s in samples),
    }
    figures["soak_samples"] = {str(i): s for i, s in enumerate(samples)}
    assert result["lost"] == 0 and result["delivered_all"], figures["soak"]
    assert result["delivery_problems"] == 0, figures["soak"]
    assert result["kills"] == 3 and result["broker_restarts"] == 2 and result["unplugs"] == 2
    assert result["purged_events"] > 0 and result["accepted_told"] >= REGISTRATIONS * 0.9
    # Leaks show as growth within one station's life; a bounded fd and thread count is
    # behaviour (a sample is a count, not a time).
    assert growth(samples, "fds") <= 5 and growth(samples, "threads") <= 2, figures["soak"]


def test_growth_is_measured_within_one_life_and_refuses_too_few_samples() -> None:
    def sample(pid: int, fds: int) -> dict[str, object]:
        return {"pid": pid, "fds": fds}

    with pytest.raises(ValueError, match="sample more often"):
        growth([sample(1, 10)] * 4, "fds")            # could not look: not "flat"
    assert growth([sample(1, 10)] * 10, "fds") == 0
    assert growth([sample(1, 10 + n) for n in range(15)], "fds") >= 5   # a leak
    # A restart's fresh process is another life, not growth.
    assert growth([sample(1, 40)] * 3 + [sample(2, 10)] * 10, "fds") == 0
