"""What goes on each label, as language-neutral jobs for any printer driver."""

from __future__ import annotations

from drivers.printer.job import LabelJob
from station.core.codes import COMMAND_PREFIX, Command
from station.core.messages import HandoverSlip, TubeLabel

# What each operator command does, for the sheet of command barcodes at the lane. A
# dict keyed by the Command literal: mypy refuses a command that does not exist.
COMMAND_MEANINGS: dict[Command, str] = {
    "SEAL": "封管 提前封闭当前试管",
    "UNDO": "撤销 取消最后一人(采样前)",
    "VOID": "作废 当前或上一支试管",
    "BOX": "装箱 打印交接单",
    "NEWTUBE": "新试管 打印试管标签",
    "SIGNOUT": "退出 登记人退出登录",
}
COMMAND_SHEET = tuple((COMMAND_PREFIX + command, meaning)
                      for command, meaning in COMMAND_MEANINGS.items())


def command_labels() -> list[LabelJob]:
    return [LabelJob("commands", code, (meaning,)) for code, meaning in COMMAND_SHEET]


def print_job(label: TubeLabel | HandoverSlip, site: str, station: str, when: str,
              courier: str = "") -> LabelJob:
    """`courier`: how the slip names the courier (a masked name, or the badge)."""
    # The barcode's own human-readable line already shows the tube or box id.
    if isinstance(label, TubeLabel):
        lines = [f"{site}/{station}", when]
        if label.person:
            lines.append(label.person)  # already masked: 张*丰 1101**********002X
        else:
            lines.append(f"{label.pool_size}混1" if label.pool_size > 1 else "单采")
        return LabelJob("tube", label.tube, tuple(lines))
    return LabelJob("handover", label.box, (
        "转运箱交接单", f"{site}/{station}", when,
        f"试管 {len(label.tubes)}  样本 {label.sample_count}",
        *([f"转运人 {courier}"] if courier else []), *label.tubes))
