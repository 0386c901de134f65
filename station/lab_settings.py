"""What marks a config as a lab bench's rather than a lane's: simulated devices and the
skeleton's example values.

The installed skeleton runs by hand as it is (every device `sim`, the example ids), which
is right for a dry run and wrong at a lane: a lane on simulated devices reads no card and
prints no label, and two lanes that kept the example ids publish on each other's topics.
So whatever reads the config says them, loudly: `check-config` (which also refuses the
example tube prefix, and so does the service that runs it before it starts: a lane whose
ids would collide at the lab does not start), the daemon at every start, and `station
status`.
"""

from __future__ import annotations

from station.config import SHIPPED_EXAMPLES, Config
from station.core.parts import PARTS


def simulated(config: Config) -> list[str]:
    """The parts whose driver is the simulator, in the parts table's order."""
    return [spec.part for spec in PARTS
            if spec.section is not None and getattr(config, spec.section).driver == "sim"]


def examples(config: Config) -> list[str]:
    """`[station] key = "value"` for each key still at the skeleton's example."""
    s = config.station
    kept = {"id": s.id, "site": s.site, "tube_prefix": s.tube_prefix}
    return [f'[station] {key} = "{value}"' for key, value in SHIPPED_EXAMPLES.items()
            if kept[key] == value]


def warnings(config: Config) -> list[str]:
    """One line for the simulated devices, one for the example values; none for a lane."""
    lines = []
    sims = simulated(config)
    if sims:
        lines.append(f"SIMULATED devices: {', '.join(sims)} (driver = \"sim\": a dry run or "
                     "a lab bench; at a lane nothing real is read, lit or printed)")
    kept = examples(config)
    if kept:
        lines.append(f"EXAMPLE values from the skeleton, never changed: {', '.join(kept)} "
                     "(each lane needs its own)")
    return lines
