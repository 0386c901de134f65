"""Reports as a district office reads them: Chinese headers and values, local times.

The register follows the 核酸混采登记表: one row per person, ordered by transport box,
tube and position, each row with its tube's count and sealing time. Times are the site's
(`--tz`, default Asia/Shanghai), written as a spreadsheet shows them ("2026-12-03 08:00:05").
`--columns en` keeps the machine form: English keys, UTC RFC 3339 times. Each report's
columns and their headers are declared in catalogue.py; this is how their values read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from contract import instant

VALUES: dict[str, dict[str, str]] = {
    "id_type": {"resident": "居民身份证", "hmt_permit": "港澳台居民证件",
                "foreign": "外国人永久居留身份证", "other": "其他证件",
                "passport": "护照", "hk_macao_pass": "港澳居民来往内地通行证",
                "taiwan_pass": "台湾居民来往大陆通行证", "guardian": "监护人证件（儿童）"},
    "gender": {"male": "男", "female": "女", "unknown": "未知"},
    "status": {"registered": "有效", "cancelled": "已撤销", "voided": "已作废"},
    "source": {"card": "读卡", "qr": "扫码", "manual": "手工录入", "form": "纸质信息卡"},
    "data": {"awaiting": "待录入"},
    "result": {"positive": "阳性", "negative": "阴性", "invalid": "无效（需重采）",
               "pending": "待出结果"},
    "note": {"collision": "同一试管编号来自多个采样台，请核实", "empty": "管内无有效登记",
             "before_result": "混管结果前的单采不算复核，仍需单采",
             "not_opened": "未能解密，无法关联单管复核",
             "box_collision": "同一转运箱编号来自多个采样台，请核实"},
    "followup": {"confirmed": "单管阳性（确认）", "to_resample": "待单采",
                 "invalid_again": "单管无效，需再采", "waiting": "已单采待结果",
                 "cleared": "单管阴性（解除）"},
    "overdue": {"resample": "超时未单采", "result": "单管结果超时"},
    "kind": {"box": "转运箱", "tube": "试管", "receipt": "实验室接收记录", "lab": "检测机构"},
    "problems": {"ok": "正常", "count": "实验室点收管数与箱单不符", "overdue": "超时未送达",
                 "not_dispatched": "截止时间前未交转运", "unmatched": "无此转运箱的装箱记录",
                 "missing": "缺管：装箱而未扫到", "extra": "多管：未装入任何箱",
                 "wrong_box": "错箱：装箱与到达箱不同", "result_overdue": "超时未出结果"},
    "time_source": {"station": "采样台时钟", "central": "中心接收（台钟未校准）"},
    "phone_source": {"lane": "采样台登记", "form": "纸质信息卡", "roster": "社区名单",
                     "guardian": "监护人电话"},
    "reason": {"voided": "试管作废", "invalid": "结果无效",
               "voided+invalid": "试管作废；结果无效"},
    # What a totals row sums (totals.py): an hour of a station, or a day at a level;
    # what a coverage row counts (coverage.py); or a brief's unit (brief.py).
    "level": {"hour": "时段", "site": "采样点", "community": "社区", "street": "街道",
              "district": "区", "day": "当日合计", "total": "合计", "group": "人群",
              "building": "楼栋", "household": "无人检测户", "community_group": "社区人群"},
}
VALUES["pool_result"] = VALUES["retest_result"] = VALUES["result"]
VALUES["sealed_source"] = VALUES["dispatched_source"] = VALUES["time_source"]   # manifest
# The fields --roster filled (roster_fill.py), as 名单补充 names them.
FILLED = {"name": "姓名", "phone": "电话", "address": "现居住地"}

# A roster's usual columns, as the missing list (待补采) shows them; others stay as named.
ROSTER = {"id_number": "证件号码", "name": "姓名", "phone": "电话", "address": "地址",
          "roster_problem": "名单有误"}
# Why a roster's row is flagged rather than listed (central.reports.roster).
ROSTER_PROBLEMS = {"excel_number": "号码被表格改成了科学计数法，原号码已失，请核实",
                   "format": "号码位数或字符不对", "check_character": "校验位不符",
                   "birth_date": "出生日期不可能"}

TIMES = ("time", "sealed_at", "tested_at", "closed", "dispatched", "received",
         "pool_tested_at", "retest_time", "retest_tested_at")

WHAT = {"box": "转运箱", "tube": "试管", "seq": "序号"}


def roster_row(row: dict[str, Any]) -> dict[str, Any]:
    """A roster's row in the missing list: its usual columns named in Chinese, the others
    as the roster names them; its own values as they are, a flag's reason in words."""
    return {ROSTER.get(k, k): ROSTER_PROBLEMS.get(v, v) if k == "roster_problem" else v
            for k, v in row.items()}


def local_time(ts: str, tz: ZoneInfo) -> str:
    """'2026-12-03T00:00:05.120Z' → '2026-12-03 08:00:05' in Asia/Shanghai; '' stays ''."""
    if not ts:
        return ""
    return instant(ts).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def result(problem: tuple[str, Any, Any]) -> str:
    """One finding of reconcile, in Chinese."""
    code, a, b = problem
    return {
        "matches": "一致",
        "tube_count": f"箱单试管数 {a}，实列 {b} 管",
        "sample_count": f"箱单样本数 {a}，登记 {b} 人",
        "open": "未封管也未作废",
        "cards": f"纸质信息卡 {a} 张，待录入 {b} 张",
        "missing": "尚未收到",
        "collision": f"同一{WHAT.get(a, a)}编号来自 {b} 个采样台",
    }[code]


def rows(columns: Sequence[tuple[str, str]], machine: list[dict[str, Any]],
         tz: ZoneInfo) -> tuple[list[dict[str, Any]], list[str]]:
    """The machine rows of a report, with Chinese headers (`columns`: key → header, as the
    catalogue declares them), values and local times."""
    out = []
    for row in machine:
        shown = {}
        for key, header in columns:
            value = row.get(key, "")
            if key in TIMES:
                value = local_time(value, tz)
            elif key == "problems":   # codes, each shown
                value = "；".join(VALUES[key].get(v, v) for v in str(value).split("; "))
            elif key == "filled":
                value = "、".join(FILLED.get(v, v) for v in str(value).split())
            elif key == "what" and isinstance(row.get("kind"), str):
                value = f"{WHAT.get(row['kind'], row['kind'])} {row['id']}"
            elif key == "result" and "problems" in row:
                value = "；".join(result(p) for p in row["problems"])
            else:
                value = VALUES.get(key, {}).get(value, value)
            shown[header] = value
        out.append(shown)
    return out, [header for _, header in columns]
