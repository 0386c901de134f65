"""The reports central makes, each declared once: its name, what `report --help` says of
it, whether it prints people (so opens sealed persons, and needs central's key), its
columns (the machine's key beside the Chinese header an office reads), and how paper
lays it out. The command line's choices, the key check, the headers of every form and
the printed layout read it; `reports.BUILT` makes each one's rows.

It imports nothing: the command line reads it while it builds its parser, for every
command, the collector's too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

ReportName = Literal["register", "totals", "reconcile", "missing", "coverage", "forms",
                     "positives", "results", "resample", "custody", "followup", "brief",
                     "manifest", "labs"]


@dataclass(frozen=True)
class Report:
    name: ReportName
    title: str                             # on paper (核酸混采登记表), and its sheet's name
    # (the machine's key, its Chinese header), as an office reads them; none for a
    # report that keeps its input's own columns (missing: the roster's)
    columns: tuple[tuple[str, str], ...] = ()
    gloss: str = ""            # what `report --help` says of it beside its name
    people: bool = False       # prints people: opens sealed persons with --private-key
    matches: bool = False      # matches persons by document: opens them, prints none
    roster: bool = False       # reads --roster FILE
    fills: bool = False        # takes --roster FILE: fills who to call (roster_fill.py)
    sites: bool = False        # groups by site: takes --sites FILE (sites.py) to roll up
    machine: tuple[str, ...] = ()   # --columns en in this order, where not the columns'
    tubes: bool = False        # paper: a line after each tube (its count, or its result)
    boxes: bool = False        # and after each box, as the lane's handover slip counts it
    signed: bool = False       # paper: closing lines for who registered, checked, carried
    # Counts only, but counts that need a person's document (a retest linked to its pool,
    # coverage against --roster FILE, which it takes): opens sealed persons with
    # --private-key when given one.
    links: bool = False

    @property
    def opens(self) -> bool:
        """Whether it opens sealed persons (and needs --private-key to)."""
        return self.people or self.matches

    @property
    def keys(self) -> list[str]:
        """The machine form's header (--columns en)."""
        return list(self.machine) or [key for key, _ in self.columns]

    @property
    def headers(self) -> list[str]:
        """The Chinese form's header."""
        return [header for _, header in self.columns]

    def header_of(self, key: str) -> str:
        return dict(self.columns)[key]

    def with_roster(self) -> Report:
        """The report as --roster fills it: the roster's columns after its phone and
        address (the address added where the report has none)."""
        if not self.fills:
            return self
        keys = [key for key, _ in self.columns]
        added = tuple(c for c in ROSTER_COLUMNS if c[0] not in keys)
        after = max(keys.index(key) for key in ("phone", "address") if key in keys) + 1
        machine = list(self.keys)
        at = max(machine.index(key) for key in ("phone", "address") if key in machine) + 1
        return replace(self, columns=(*self.columns[:after], *added, *self.columns[after:]),
                       machine=(*machine[:at], *(k for k, _ in added), *machine[at:]))


_PLACE = (("site", "采样点"), ("station", "采样台"))
_TUBE = (("box", "转运箱"), ("tube", "试管编号"), ("position", "管内序号"))
_LAB = (("lab", "检测机构"), ("tested_at", "检测时间"))
# A sample's time, and whose clock it is: the station's, or central's when it received
# the event (the station's clock unset). Every report that prints the one prints both.
_TIME = (("time", "采样时间"), ("time_source", "时间来源"))

# What --roster adds to a list that fills from it (roster_fill.py): the address where
# the list has none, the roster's building and household, and which fields it filled.
ROSTER_COLUMNS = (("address", "现居住地"), ("building", "楼栋"), ("household", "户"),
                  ("filled", "名单补充"))
# How to reach a person; where the phone came from (电话来源: projection.PhoneSource): the
# lane, the paper card, the roster, or the guardian's (a child under a guardian's document).
_PHONE = (("phone", "电话"), ("phone_source", "电话来源"))
_CALL = (("id_number", "证件号码"), ("name", "姓名"), *_PHONE,
         ("address", "现居住地"), ("card_address", "户籍地址"))

_ALL = (
    Report("register", "核酸混采登记表", (
        *_PLACE, *_TUBE, ("tube_count", "本管人数"), ("sealed_at", "封管时间"),
        ("time", "采样时间"), ("id_type", "证件类型"), ("id_number", "证件号码"),
        ("name", "姓名"), ("gender", "性别"), ("phone", "电话"), ("source", "来源"),
        ("form", "信息卡编号"), ("status", "状态"), ("operator", "登记人"),
        ("time_source", "时间来源")),
        people=True, tubes=True, boxes=True, signed=True,
        machine=("site", "station", "box", "tube", "position", "time", "id_type",
                 "id_number", "name", "gender", "phone", "source", "form", "status", "operator",
                 "time_source")),
    # Each station's hours, then each day summed at every level with its running total
    # (累计) since the period's first day (totals.py).
    Report("totals", "采样统计", (
        ("level", "层级"), ("day", "日期"), *_PLACE, ("hour", "时段"), ("community", "社区"),
        ("street", "街道"), ("district", "区"), ("people", "采样人数"), ("tubes", "封管数"),
        ("boxes", "转运箱数"), ("people_to_date", "累计采样人数"),
        ("tubes_to_date", "累计封管数"), ("boxes_to_date", "累计转运箱数")), sites=True),
    Report("reconcile", "核对表", (
        *_PLACE, ("what", "核对项"), ("tubes", "试管数"), ("samples", "样本数"),
        ("register_samples", "登记人数"), ("forms", "信息卡"),
        ("forms_awaiting", "信息卡待录入"), ("result", "结果"))),
    Report("missing", "待补采名单", people=True, roster=True),
    # The roster against the sampled, counted at every level (coverage.py): no person.
    Report("coverage", "核酸检测覆盖情况", (
        ("level", "层级"), ("district", "区"), ("street", "街道"), ("community", "社区"),
        ("building", "楼栋"), ("household", "户"), ("group", "人群分类"),
        ("expected", "应检人数"), ("tested", "已检人数"), ("untested", "未检人数"),
        ("percent", "检测率（%）"), ("households", "户数"),
        ("households_none", "无人检测户数"), ("invalid", "名单号码有误")),
        gloss="应检, 已检, 未检 of the roster, by group, building, community, street, "
              "district", matches=True, roster=True, sites=True),
    Report("forms", "待录入信息卡", (
        *_PLACE, *_TUBE, *_TIME, ("form", "信息卡编号"), ("data", "录入状态")),
        gloss="cards awaiting their data", people=True),
    Report("positives", "阳性及无效管召回名单", (
        ("result", "检测结果"), ("tube", "试管编号"), *_CALL, *_PLACE, *_TIME,
        ("operator", "登记人"), ("box", "转运箱"), ("position", "管内序号"), *_LAB,
        ("ct_orf1ab", "ORF1ab Ct"), ("ct_n", "N Ct"), ("id_type", "证件类型"), ("note", "备注")),
        gloss="the recall list", people=True, tubes=True, fills=True,
        machine=("result", "tube", "lab", "tested_at", "ct_orf1ab", "ct_n", "id_number",
                 "name", "phone", "phone_source", "address", "card_address", "site",
                 "station", "time", "time_source", "operator", "box", "position", "id_type",
                 "note")),
    Report("results", "核酸检测结果名单", (
        *_PLACE, *_TUBE, *_TIME, ("id_type", "证件类型"),
        ("id_number", "证件号码"), ("name", "姓名"), *_PHONE,
        ("result", "检测结果"), *_LAB),
        gloss="per person", people=True, fills=True),
    # Everyone whose swab is lost: in a tube voided at the lane (CMD:VOID, before or
    # after sealing), or in a tube whose latest result is invalid (无效).
    Report("resample", "待重采名单", (
        ("reason", "重采原因"), ("tube", "试管编号"), *_CALL, *_PLACE, *_TIME,
        ("operator", "登记人"), ("box", "转运箱"), ("position", "管内序号"), *_LAB,
        ("id_type", "证件类型")),
        gloss="people to sample again: voided tubes, invalid results", people=True,
        tubes=True, fills=True),
    Report("custody", "转运交接记录", (
        *_PLACE, ("kind", "类别"), ("id", "编号"), ("closed", "装箱/封管时间"),
        ("tubes", "试管数"), ("samples", "样本数"), ("courier", "转运人"),
        ("dispatched", "交接时间"), ("lab", "接收实验室"), ("received", "接收时间"),
        ("received_tubes", "实验室点收管数"), ("scanned_tubes", "实验室扫码管数"),
        ("packed_in", "装箱箱号"), ("arrived_in", "到达箱号"),
        ("oldest_age_h", "最早样本至接收（小时）"), ("problems", "问题")),
        gloss="boxes to the lab, tube by tube where the desk scanned them"),
    # Each person of a positive or invalid pool, linked to their single retests by
    # document (followup.py): one status each, hours since the pool's result, flags.
    Report("followup", "混管阳性及无效人员单管复核跟踪", (
        ("followup", "复核状态"), ("overdue", "超时"), ("pool_result", "混管结果"),
        ("pool_tube", "混管编号"), *_CALL, ("retest_tube", "单管编号"),
        ("retest_time", "单采时间"), ("retest_site", "单采采样点"),
        ("retest_station", "单采采样台"), ("retest_result", "单管结果"),
        ("retest_tested_at", "单管检测时间"), ("resampled_h", "混管结果至单采（小时）"),
        ("result_h", "混管结果至单管结果（小时）"), ("waited_h", "混管结果至今（小时）"),
        ("pool_tested_at", "混管检测时间"), ("pool_lab", "混管检测机构"), *_PLACE,
        *_TIME, ("position", "管内序号"), ("id_type", "证件类型"), ("note", "备注")),
        gloss="each person of a positive or invalid pool: re-sampled, confirmed, cleared",
        people=True, fills=True),
    # The daily brief (brief.py): each unit's figures as of --at, from the site up the
    # sites file's chain to the whole; counts only, one page a level on paper.
    Report("brief", "核酸检测每日简报", (
        ("level", "层级"), ("district", "区"), ("street", "街道"), ("community", "社区"),
        ("site", "采样点"), ("site_name", "采样点名称"),
        ("people_today", "今日采样人数"), ("people_round", "本轮累计采样人数"),
        ("tubes_today", "今日封管"), ("tubes_round", "本轮封管"),
        ("boxes_dispatched", "今日交接转运箱"), ("boxes_received", "今日实验室接收箱"),
        ("results_back", "本轮已出结果管"), ("positive_pools", "阳性混管"),
        ("invalid_pools", "无效混管"), ("pool_people", "阳性无效混管人数"),
        ("confirmed", "单管阳性"), ("to_resample", "待单采"), ("waiting", "单采待结果"),
        ("invalid_again", "单管无效待再采"), ("cleared", "单管阴性解除"),
        ("unlinked", "未解密未能关联"), ("followup_overdue", "复核超时人数"),
        ("roster", "应检"), ("tested", "已检"), ("untested", "未检"),
        ("coverage", "检测率%"), ("boxes_overdue", "超时未送达转运箱"),
        ("tubes_late", "截止未交接试管")),
        gloss="the daily brief: every level's figures as of --at", sites=True, links=True),
    # A box's tubes for its lab, from the lane's events of the box (manifest.py): no
    # registration is read, so it needs no key and holds nothing personal.
    Report("manifest", "转运箱交接清单", (
        *_PLACE, ("box", "转运箱"), ("tube", "试管编号"), ("samples", "管内样本数"),
        ("sealed_at", "封管时间"), ("sealed_source", "封管时间来源"), ("closed", "装箱时间"),
        ("time_source", "装箱时间来源"), ("box_tubes", "箱内管数"),
        ("box_samples", "箱内样本数"), ("dispatched", "交接时间"),
        ("dispatched_source", "交接时间来源"), ("courier", "转运人"), ("note", "备注")),
        gloss="a box's tubes for its lab (--box BOX): no key, nothing personal", signed=True),
    # Each lab's boxes, tubes and results, its turnaround and 无效 rate, and the tubes it
    # received that still have no result past --result-due (labs.py).
    Report("labs", "检测机构接收与出结果时效", (
        ("kind", "类别"), ("lab", "检测机构"), ("boxes", "接收箱数"), ("tubes", "接收管数"),
        ("results", "出具结果数"), ("invalid", "无效数"), ("invalid_rate", "无效率（%）"),
        ("turnaround_median_h", "接收至结果中位数（小时）"),
        ("turnaround_p90_h", "接收至结果P90（小时）"),
        ("turnaround_max_h", "接收至结果最长（小时）"), ("waiting", "已接收未出结果管数"),
        ("overdue", "超时未出结果管数"), ("box", "转运箱"), ("tube", "试管编号"),
        ("received", "接收时间"), ("waited_h", "接收至今（小时）"), ("problems", "问题")),
        gloss="each lab: tubes received, results, turnaround, 无效 rate, results overdue"),
)
REPORTS: dict[ReportName, Report] = {report.name: report for report in _ALL}


def listed() -> str:
    """The reports as `report --help` lists them."""
    return ", ".join(f"{r.name} ({r.gloss})" if r.gloss else r.name for r in _ALL)
