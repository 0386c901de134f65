"""The README's shell blocks, as tests that run them read them: a section's ```sh blocks,
each as its lines, so a test runs exactly what a newcomer copies."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def sh_blocks(heading: str) -> list[list[str]]:
    """The sh blocks under `heading` (e.g. "### A dry run on simulated devices"), up to
    the next heading of its level or above."""
    level = heading.split(" ", 1)[0]
    section = README.read_text(encoding="utf-8").split(heading + "\n", 1)[1]
    # Level 2 up: a shell comment opens with "# " too, and the title is the only "# ".
    ends = [section.find("\n" + "#" * n + " ") for n in range(2, len(level) + 1)]
    section = section[:min([e for e in ends if e >= 0], default=len(section))]
    return [block.strip().splitlines()
            for block in re.findall(r"```sh\n(.*?)```", section, re.S)]
