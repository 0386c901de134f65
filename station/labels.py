"""What goes on each label, as language-neutral jobs for any printer driver."""

from __future__ import annotations

from drivers.labels import LabelJob
from station.messages import HandoverSlip, TubeLabel


def render(label: TubeLabel | HandoverSlip, site: str, station: str, when: str) -> LabelJob:
    if isinstance(label, TubeLabel):
        lines = [label.tube, f"{site}/{station}", when]
        if label.person:
            lines.append(label.person)  # already masked: 张*丰 1101**********002X
        else:
            lines.append(f"{label.pool_size}混1" if label.pool_size > 1 else "单采")
        return LabelJob("tube", label.tube, tuple(lines))
    return LabelJob("handover", label.box, (
        f"转运箱 {label.box}", f"{site}/{station}", when,
        f"试管 {len(label.tubes)}  样本 {label.sample_count}", *label.tubes))
