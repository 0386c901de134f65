"""What the brief counts of one unit (brief.py): its figures, apart so that the counts in
the database (brief_counts.py) and the brief's rows (brief.py) share them without
importing each other."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass
class Figures:
    """One unit's figures (a site's, or the sum of those under a community, a street,
    a district, the whole)."""

    people_today: int = 0
    people_round: int = 0
    tubes_today: int = 0
    tubes_round: int = 0
    boxes_dispatched: int = 0     # today
    boxes_received: int = 0       # today, as the labs' receipts say
    results_back: int = 0         # of the round's tubes
    positive_pools: int = 0
    invalid_pools: int = 0
    pool_people: int = 0          # everyone in them: each one to be followed
    confirmed: int = 0            # the follow-up's statuses (followup.py)
    to_resample: int = 0
    waiting: int = 0
    invalid_again: int = 0
    cleared: int = 0
    unlinked: int = 0             # not opened: no document to link a retest by
    followup_overdue: int = 0
    boxes_overdue: int = 0
    tubes_late: int = 0           # sealed before a cutoff, not handed over by it
    roster: int = 0               # 应检 (coverage: with a roster, community and up)
    tested: int = 0               # 已检

    def add(self, other: Figures) -> None:
        for name in FIGURES:
            setattr(self, name, getattr(self, name) + getattr(other, name))


FIGURES = tuple(f.name for f in fields(Figures))
