"""What the operator hears and reads for every cue: a short spoken prompt and a screen line.

One table, in Mandarin, so that every refusal says why in words of its own: an operator
in a protective suit, outdoors, with a queue, cannot read a log. A site may replace any
prompt (a dialect, another wording) in `[voice.prompts]`; the screen lines stay.
Templates take `{position}`, `{pool_size}`, `{left}`, `{count}` and `{tubes}`; spoken,
the numbers come out as Chinese numerals (第七位), on screen as digits.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

import msgspec

from station.core.errors import StationError
from station.core.messages import CUES, Cue, Signal

# cue: (spoken prompt, screen line)
DEFAULT: dict[Cue, tuple[str, str]] = {
    # refusals: nothing was recorded
    "no_tube_open": ("请先扫试管", "未开管：请先扫试管条码"),
    "already_in_tube": ("此人已在本管", "此人已在本管，不重复登记"),
    "sampled_today": ("今日已采", "今日已采样，本采样点不重复登记"),
    "bad_check_character": ("身份证号校验位有误", "身份证号最后一位不对，请核对后重输"),
    "impossible_birth_date": ("出生日期有误", "身份证号中的出生日期不存在"),
    "bad_id_number": ("身份证号有误", "身份证号位数或字符不对"),
    "tube_closed": ("试管已封", "该试管已封管或作废，请换新管"),
    "tube_busy": ("请先封管", "当前试管还有人，请先封管或作废"),
    "nothing_to_do": ("无可操作", "没有可以操作的试管或人员"),
    "not_in_print_mode": ("本台不打印试管", "本台使用预印试管，不能新建试管"),
    "printer_fault": ("打印机故障，不能开管", "打印机故障：标签打不出来，不能开新管"),
    "unrecognised_code": ("无法识别", "无法识别的条码"),
    "card_not_read": ("请重新读卡", "读卡失败，请把身份证重新放到读卡器上"),
    "not_signed_in": ("请登记员登录", "未登录：请登记员先扫工牌"),
    "already_dispatched": ("该箱已交接", "该转运箱已交接，不能再交接"),
    "bad_phone": ("电话号码有误", "电话号码不对：手机号11位，请核对后重输"),
    "phone_wanted": ("请先输入电话", "此人还未登记：请输入电话并回车，或扫码撤销"),
    "phone_without_card": ("请先读卡", "电话在读卡之后输入：请先读身份证"),
    "bad_passport": ("护照号码有误", "护照号码不对：应为5到17位大写字母和数字，请核对后重输"),
    "bad_permit": ("通行证号码有误", "通行证号码不对：港澳为H或M加8位数字，台湾为8位数字"),
    "bad_document": ("证件信息有误", "证件类型无法识别或信息不全（儿童须有姓名和监护人证件类型）"),
    "choose_document": ("请先选证件类型", "与试管条码同形：护照按F1，港澳通行证F2，台湾F3，再输入"),
    # outcomes
    "ready": ("就绪", "就绪：请扫试管条码开管"),
    "tube_opened": ("已开管", "已开管，{pool_size}混1"),
    "tube_still_open": ("本管已开", "该试管已开，正在使用"),
    "accepted": ("第{position}位", "已登记 第{position}位"),
    "one_left": ("第{position}位，还剩一位", "已登记 第{position}位，还剩1位"),
    "duplicate": ("重复采样，第{position}位", "已登记 第{position}位（今日已采过）"),
    "sealed_full": ("已满封管，请换管", "已满{count}人：请封管，换新管"),
    "sealed_early": ("已封管，共{count}位", "已封管：共{count}人"),
    "undone": ("已撤销第{position}位", "已撤销第{position}位"),
    "voided": ("试管作废，{count}人重采", "试管已作废：{count}人需重新采样"),
    "box_closed": ("已装箱，{tubes}管{count}人", "转运箱已封：{tubes}管，{count}人"),
    "device_back": ("设备恢复", "设备已恢复"),
    "offline": ("网络断开", "网络断开：记录保存在本机，恢复后自动上传"),
    "entry_cleared": ("输入超时，请重输", "键盘输入超时已清除：请重新输入身份证号"),
    "signed_in": ("已登录", "登记人已登录"),
    "signed_out": ("已退出", "登记人已退出"),
    "handed_over": ("已交班", "已交班：新登记人接手，当前试管继续"),
    "courier_wanted": ("请转运员扫工牌", "转运箱待交接：请转运员扫工牌"),
    "dispatched": ("已交接，{tubes}管{count}人", "已交接转运：{tubes}管，{count}人"),
    "box_waiting": ("转运箱待交接", "转运箱未交接：请尽快转运（当日送检）"),
    "phone_asked": ("请输入电话", "已读卡，未登记：请输入电话并回车（没有电话直接回车）"),
    "phone_required": ("必须输入电话", "已读卡，未登记：必须输入电话，输入后回车"),
    "card_dropped": ("已撤销，未登记", "已撤销：此人未登记"),
    "printer_paper": ("打印机缺纸", "打印机缺纸：请装纸"),
    "printer_head": ("打印机开盖", "打印机盖未合上：请合上"),
    "printer_jam": ("打印机卡纸", "打印机卡纸：请打开取出卡住的标签"),
    "printer_ribbon": ("打印机缺碳带", "打印机碳带用完：请换碳带"),
    "printer_no_answer": ("打印机无响应", "打印机无响应：请查电源、连线、纸和盖"),
    "printer_fault_other": ("打印机故障", "打印机故障：请联系技术员"),
    "scanner_fault": ("扫码枪故障", "扫码枪断开或故障"),
    "card_reader_fault": ("读卡器故障", "读卡器断开或故障"),
    "lights_fault": ("灯塔故障", "灯塔故障"),
    "storage_fault": ("存储故障，未保存", "存储故障：记录未保存，请联系技术员"),
    "voice_fault": ("语音故障", "语音故障：没有声音，请看屏幕"),
    "keypad_fault": ("键盘故障", "数字键盘断开或故障：可扫码或读卡"),
}

FIELDS = frozenset({"position", "pool_size", "left", "count", "tubes"})
DIGITS = "零一二三四五六七八九"


class PromptError(StationError, ValueError):
    """A prompt template a site configured that cannot be used; names the cue."""


def chinese_number(n: int) -> str:
    """How a count is said: 7 → 七, 10 → 十, 12 → 十二, 20 → 二十, 35 → 三十五."""
    if not 0 <= n < 100:
        return str(n)  # beyond any pool or box: espeak-ng reads the digits
    tens, ones = divmod(n, 10)
    if tens == 0:
        return DIGITS[ones]
    return (DIGITS[tens] if tens > 1 else "") + "十" + (DIGITS[ones] if ones else "")


def template_fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def check_templates(table: Mapping[str, str]) -> None:
    for cue, template in table.items():
        if cue not in CUES:
            raise PromptError(f"{cue!r} is not a prompt; known: {', '.join(CUES)}")
        try:
            unknown = template_fields(template) - FIELDS
        except ValueError as exc:
            raise PromptError(f"{cue}: {exc}") from exc
        if unknown:
            raise PromptError(f"{cue}: unknown field {{{sorted(unknown)[0]}}}; "
                              f"use {', '.join(sorted(FIELDS))}")
        if not template.strip():
            raise PromptError(f"{cue}: empty prompt")


def numbers(signal: Signal) -> dict[str, int]:
    found = {"position": signal.position, "pool_size": signal.pool_size,
             "count": signal.count, "tubes": signal.tubes,
             "left": (signal.pool_size - signal.position
                      if signal.pool_size is not None and signal.position is not None
                      else None)}
    return {k: v for k, v in found.items() if v is not None}


class Prompts(msgspec.Struct, frozen=True):
    spoken: Mapping[Cue, str]
    say_surname: bool = False   # off by default: no personal data is spoken

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, str], say_surname: bool = False) -> Prompts:
        check_templates(overrides)
        spoken = {cue: overrides.get(cue, DEFAULT[cue][0]) for cue in CUES}
        return cls(spoken, say_surname)

    def ahead(self, pool_size: int) -> list[str]:
        """What to synthesise before the first scan: every prompt at every place of a
        tube. A box's tally (and a spoken surname) is synthesised when it comes."""
        texts: dict[str, None] = {}
        for cue in CUES:
            if "tubes" in template_fields(self.spoken[cue]):
                continue
            for n in range(pool_size + 1):
                texts[self.speech(Signal(cue, "", n, pool_size, count=n))] = None
        return list(texts)

    def speech(self, signal: Signal) -> str:
        said = {k: chinese_number(v) for k, v in numbers(signal).items()}
        text = self.spoken[signal.cue].format_map(_Blank(said))
        if self.say_surname and signal.who[:1] not in ("", "-"):   # "-": no name known
            text = f"{signal.who[0]}，{text}"  # the surname only: masked names keep it
        return text


def screen_line(signal: Signal) -> str:
    return DEFAULT[signal.cue][1].format_map(_Blank({k: str(v) for k, v in
                                                     numbers(signal).items()}))


class _Blank(dict[str, str]):
    """A number the signal does not carry reads as nothing rather than failing."""

    def __missing__(self, key: str) -> str:
        return ""
