"""Whether a site's `[staff] pattern` can match a badge the contract refuses.

A badge travels in every event's `operator` (and a box's `courier`), which the contract
allows only as `BADGE`: 1-32 of A-Z a-z 0-9 _ -. The lane refuses a scanned badge
outside it (station.core.codes), so a pattern that admits a colon, a space or 40
characters turns the lane's every such badge scan into a refusal; check-config says so
beforehand instead.

The method: Python's own regex parser (sre_parse) turns the pattern into its tree, and a
small generator writes sample strings from it: the shortest match, then one sample for
each place that consumes a character with a refused character put there (a colon first,
then other punctuation, space, tab and a few non-ASCII ones), then a long match with every
open repetition stretched. A sample counts only if the real compiled pattern matches it
in full and BADGE does not, so every refusal comes with a badge that proves it. The
limits: characters outside the probe list go untried (a class admitting only, say, "§"
is missed); a lookaround or \\b may turn a sample down while another string would pass;
a back-reference or a conditional group stops the search (the pattern is then accepted,
as before); only the first branch's shortest text fills the places not probed. Each miss
is a pattern accepted that may match a refused badge, never a good pattern refused.
"""

from __future__ import annotations

import re
import string
import warnings
from typing import Any

from contract.events import BADGE
from station.core.errors import StationError

with warnings.catch_warnings():
    # re's parser under its public, typed name (typeshed has no stubs for re._parser).
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants as sc
    import sre_parse

ALLOWED = string.ascii_uppercase + string.ascii_lowercase + string.digits + "_-"
# Refused characters tried at each place, the likeliest in a site's badge first.
FIRST = ": ./#+@*;,|"
PROBES = FIRST + "".join(c for c in string.punctuation if c not in FIRST + "_-") + "\t：·中é"
LONGEST = int(BADGE.pattern.rsplit(",", 1)[1].rstrip("}"))   # 32, as the contract says
CATEGORIES = {sc.CATEGORY_DIGIT: r"\d", sc.CATEGORY_NOT_DIGIT: r"\D",
              sc.CATEGORY_SPACE: r"\s", sc.CATEGORY_NOT_SPACE: r"\S",
              sc.CATEGORY_WORD: r"\w", sc.CATEGORY_NOT_WORD: r"\W"}
CONSUMING = (sc.LITERAL, sc.NOT_LITERAL, sc.ANY, sc.IN)
REPEATS = (sc.MAX_REPEAT, sc.MIN_REPEAT, getattr(sc, "POSSESSIVE_REPEAT", sc.MAX_REPEAT))


class Unsupported(StationError):
    """A construct the generator does not follow (a back-reference, a conditional)."""


def refused_badge(pattern: re.Pattern[str]) -> str | None:
    """A string the pattern matches in full that the contract refuses as a badge, or None
    when the samples found none (see the module's note on what that does not prove)."""
    try:
        tree = sre_parse.parse(pattern.pattern, pattern.flags)
        plain, placed = _sample(tree.data, stretch=False)
        stretched, _ = _sample(tree.data, stretch=True)
    except Unsupported:
        return None
    for text in (plain, *placed, stretched):
        if text is not None and pattern.fullmatch(text) and not BADGE.fullmatch(text):
            return text
    return None


def _accepts(op: Any, av: Any, ch: str) -> bool:
    """Whether one consuming node takes the character (case folding aside: the compiled
    pattern has the last word on every sample)."""
    if op is sc.LITERAL:
        return ch == chr(av)
    if op is sc.NOT_LITERAL:
        return ch != chr(av)
    if op is sc.ANY:
        return ch != "\n"
    negate, hit = False, False
    for item_op, item_av in av:
        if item_op is sc.NEGATE:
            negate = True
        elif item_op is sc.LITERAL:
            hit = hit or ch == chr(item_av)
        elif item_op is sc.RANGE:
            hit = hit or item_av[0] <= ord(ch) <= item_av[1]
        elif item_op is sc.CATEGORY:
            hit = hit or bool(re.fullmatch(CATEGORIES.get(item_av, r"(?!)"), ch, re.ASCII))
    return hit != negate


def _one(op: Any, av: Any) -> tuple[str | None, list[str]]:
    """A consuming node: the first allowed character it takes (else a refused one), and
    the first refused one it takes, if any."""
    good = next((c for c in ALLOWED if _accepts(op, av, c)), None)
    bad = next((c for c in PROBES if _accepts(op, av, c)), None)
    return (good if good is not None else bad), ([bad] if bad is not None else [])


def _sample(nodes: list[Any], stretch: bool) -> tuple[str | None, list[str]]:
    """The sequence's plain sample (None: none found) and its samples with one refused
    character placed, one per place that can take one."""
    parts = [_node(op, av, stretch) for op, av in nodes]
    if any(plain is None for plain, _ in parts):
        return None, []
    plains = [plain or "" for plain, _ in parts]
    placed = ["".join(plains[:i]) + bad + "".join(plains[i + 1:])
              for i, (_, bads) in enumerate(parts) for bad in bads]
    return "".join(plains), placed


def _node(op: Any, av: Any, stretch: bool) -> tuple[str | None, list[str]]:
    if op in CONSUMING:
        return _one(op, av)
    if op is sc.SUBPATTERN:
        return _sample(list(av[3]), stretch)
    if op is getattr(sc, "ATOMIC_GROUP", None):
        return _sample(list(av), stretch)
    if op is sc.BRANCH:
        branches = [_sample(list(b), stretch) for b in av[1]]
        plain = next((p for p, _ in branches if p is not None), None)
        return plain, [bad for _, bads in branches for bad in bads]
    if op in REPEATS:
        return _repeat(av, stretch)
    if op in (sc.AT, sc.ASSERT, sc.ASSERT_NOT):
        return "", []   # no width: the compiled pattern judges the sample
    raise Unsupported(str(op))


def _repeat(av: Any, stretch: bool) -> tuple[str | None, list[str]]:
    low, high, body = av
    plain, bads = _sample(list(body), stretch)
    if plain is None:
        return ("", []) if low == 0 else (None, [])
    times = min(high, LONGEST + 1) if stretch else low
    placed = [plain * (max(times, 1) - 1) + bad for bad in bads] if high >= 1 else []
    return plain * times, placed

