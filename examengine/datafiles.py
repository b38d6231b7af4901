"""Reading the project's data files (YAML) into plain, validated dataclasses.

Validation happens here, once, at the edge: every problem names the file, the place
inside it and the field. Code inside the package then trusts these objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from examengine.errors import DataFileError, Problem

LEVELS = {"L1": (1, "初级"), "L2": (2, "中级"), "L3": (3, "高级")}
STANDARD_CODE_RE = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class RequirementData:
    code: str
    number: str
    text: str


@dataclass(frozen=True)
class TaskData:
    code: str
    number: str
    name: str
    requirements: tuple[RequirementData, ...]


@dataclass(frozen=True)
class DomainData:
    code: str
    number: str
    name: str
    tasks: tuple[TaskData, ...]


@dataclass(frozen=True)
class LevelData:
    code: str
    level: str
    rank: int
    name: str
    description: str
    domains: tuple[DomainData, ...]


@dataclass(frozen=True)
class CorrectionData:
    code: str
    field: str
    kind: str
    original: str
    corrected: str
    reason: str


@dataclass(frozen=True)
class StandardData:
    code: str
    name: str
    version: str
    issuer: str
    published: str
    source: str
    note: str
    levels: tuple[LevelData, ...]
    corrections: tuple[CorrectionData, ...]
    file: str


class _Reader:
    """Collects problems while walking a parsed YAML document."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, location: str, field: str, message: str) -> None:
        self.problems.append(Problem(self.file, location, field, message))

    def text(self, node: Any, location: str, field: str, *, required: bool = True) -> str:
        value = node.get(field) if isinstance(node, dict) else None
        if value is None:
            if required:
                self.problem(location, field, "缺少此字段")
            return ""
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            self.problem(location, field, f"应为文本，实际为 {type(value).__name__}")
            return ""
        value = str(value).strip()
        if required and not value:
            self.problem(location, field, "不能为空")
        return value

    def items(self, node: Any, location: str, field: str) -> list[Any]:
        value = node.get(field) if isinstance(node, dict) else None
        if not isinstance(value, list) or not value:
            self.problem(location, field, "应为非空列表")
            return []
        return value


def read_standard_file(path: Path) -> StandardData:
    """Read and validate one catalog file (``blueprints/standards/<code>.yaml``)."""
    r = _Reader(path.name)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError([Problem(path.name, "", "", f"无法读取文件：{exc}")]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行" if mark else ""
        raise DataFileError([Problem(path.name, where, "", f"YAML 格式错误：{exc}")]) from exc
    if not isinstance(doc, dict):
        raise DataFileError([Problem(path.name, "", "", "文件内容应为一个映射（标准）")])

    code = r.text(doc, "", "code")
    if code and not STANDARD_CODE_RE.match(code):
        r.problem("", "code", f"标准代码应为 6 位数字：{code!r}")
    levels: list[LevelData] = []
    seen_codes: set[str] = set()

    def check_code(location: str, actual: str, expected: str) -> None:
        if actual and actual != expected:
            r.problem(location, "code", f"代码应为 {expected}，实际为 {actual}")
        if actual in seen_codes:
            r.problem(location, "code", f"代码重复：{actual}")
        seen_codes.add(actual)

    for li, lnode in enumerate(r.items(doc, "", "levels"), start=1):
        lloc = f"levels[{li}]"
        lv = r.text(lnode, lloc, "level")
        if lv not in LEVELS:
            r.problem(lloc, "level", f"级别应为 L1/L2/L3：{lv!r}")
            continue
        rank, lname = LEVELS[lv]
        lcode = r.text(lnode, lloc, "code")
        check_code(lloc, lcode, f"{code}-{lv}")
        name = r.text(lnode, lloc, "name")
        if name and name != lname:
            r.problem(lloc, "name", f"{lv} 的名称应为 {lname}，实际为 {name}")
        domains: list[DomainData] = []
        for di, dnode in enumerate(r.items(lnode, lloc, "domains"), start=1):
            dcode = r.text(dnode, f"{lcode}.domains[{di}]", "code")
            dloc = dcode or f"{lloc}.domains[{di}]"
            check_code(dloc, dcode, f"{lcode}-{di}")
            tasks: list[TaskData] = []
            for ti, tnode in enumerate(r.items(dnode, dloc, "tasks"), start=1):
                tcode = r.text(tnode, f"{dloc}.tasks[{ti}]", "code")
                tloc = tcode or f"{dloc}.tasks[{ti}]"
                check_code(tloc, tcode, f"{lcode}-{di}.{ti}")
                reqs: list[RequirementData] = []
                for ri, rnode in enumerate(r.items(tnode, tloc, "requirements"), start=1):
                    rcode = r.text(rnode, f"{tloc}.requirements[{ri}]", "code")
                    rloc = rcode or f"{tloc}.requirements[{ri}]"
                    check_code(rloc, rcode, f"{lcode}-{di}.{ti}.{ri}")
                    reqs.append(RequirementData(rcode, f"{di}.{ti}.{ri}", r.text(rnode, rloc, "text")))
                tasks.append(TaskData(tcode, f"{di}.{ti}", r.text(tnode, tloc, "name"), tuple(reqs)))
            domains.append(DomainData(dcode, str(di), r.text(dnode, dloc, "name"), tuple(tasks)))
        levels.append(
            LevelData(lcode, lv, rank, lname, r.text(lnode, lloc, "description", required=False), tuple(domains))
        )
    if [lv.rank for lv in levels] != sorted({lv.rank for lv in levels}):
        r.problem("", "levels", "级别应按 L1、L2、L3 顺序各出现一次")

    corrections: list[CorrectionData] = []
    for ci, cnode in enumerate(doc.get("corrections") or [], start=1):
        cloc = f"corrections[{ci}]"
        c = CorrectionData(
            code=r.text(cnode, cloc, "code"),
            field=r.text(cnode, cloc, "field"),
            kind=r.text(cnode, cloc, "kind"),
            original=r.text(cnode, cloc, "original"),
            corrected=r.text(cnode, cloc, "corrected"),
            reason=r.text(cnode, cloc, "reason"),
        )
        if c.code and c.code not in seen_codes:
            r.problem(cloc, "code", f"更正指向的代码不在目录中：{c.code}")
        corrections.append(c)

    if r.problems:
        raise DataFileError(r.problems)
    return StandardData(
        code=code,
        name=r.text(doc, "", "name"),
        version=r.text(doc, "", "version"),
        issuer=r.text(doc, "", "issuer"),
        published=r.text(doc, "", "published", required=False),
        source=r.text(doc, "", "source", required=False),
        note=r.text(doc, "", "note", required=False),
        levels=tuple(levels),
        corrections=tuple(corrections),
        file=path.name,
    )


def read_standards_dir(folder: Path) -> list[StandardData]:
    """Read every ``*.yaml`` catalog file in a folder, reporting all files' problems at once."""
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise DataFileError([Problem(str(folder), "", "", "目录中没有标准文件（*.yaml）")])
    out: list[StandardData] = []
    problems: list[Problem] = []
    for path in files:
        try:
            out.append(read_standard_file(path))
        except DataFileError as exc:
            problems.extend(exc.problems)
    if problems:
        raise DataFileError(problems)
    return out


# ---------------------------------------------------------------- blueprints


def read_blueprint_file(path: Path):
    """Read and validate the form of one blueprint file (``blueprints/530046-L2.yaml``).

    Checks every field's type and range; the checks against the catalog and the bank
    (codes, every domain present, a pool that can fill the length) are the service's.
    """
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError([Problem(path.name, "", "", f"无法读取文件：{exc}")]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataFileError([Problem(path.name, f"第 {mark.line + 1} 行" if mark else "", "",
                                     f"YAML 格式错误：{exc}")]) from exc
    bp = blueprint_from_dict(doc, path.name)
    if path.stem != bp.id:
        raise DataFileError([Problem(path.name, "", "id", f"文件名应与蓝图编号一致（{bp.id}.yaml）")])
    return bp


def blueprint_from_dict(doc, filename: str):
    """Validate a parsed blueprint document (from a file or the database) into a Blueprint."""
    from examengine.exam.blueprint import DECISIONS, LEVEL_NAMES, START_RULES, Blueprint, CutSpec, Decision, StartRule
    from examengine.exam.items import ItemType

    r = _Reader(filename)
    if not isinstance(doc, dict):
        raise DataFileError([Problem(filename, "", "", "蓝图文件应为一个映射")])

    def section(name: str) -> dict:
        value = doc.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            r.problem("", name, "应为一个映射")
            return {}
        return value

    def number(node: dict, key: str, field: str, *, lo: float | None = None, hi: float | None = None,
               integer: bool = False, default=None, required: bool = False, open_lo: bool = False):
        value = node.get(key, default)
        if value is None:
            if required:
                r.problem("", field, "缺少此字段")
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
            r.problem("", field, f"应为{'整数' if integer else '数字'}，实际为 {value!r}")
            return None
        if lo is not None and (value < lo or (open_lo and value == lo)):
            r.problem("", field, f"应{'大于' if open_lo else '不小于'} {lo}，实际为 {value}")
        if hi is not None and value > hi:
            r.problem("", field, f"应不大于 {hi}，实际为 {value}")
        return value

    bp_id = r.text(doc, "", "id")
    standard = r.text(doc, "", "standard")
    level = r.text(doc, "", "level")
    if level and level not in LEVELS:
        r.problem("", "level", f"级别应为 L1/L2/L3：{level!r}")
    if bp_id and standard and level and bp_id != f"{standard}-{level}":
        r.problem("", "id", f"蓝图编号应为 {standard}-{level}，实际为 {bp_id}")

    weights = section("domains")
    if not weights:
        r.problem("", "domains", "应列出本级别每个工作领域的权重")
    domain_weights = []
    for code, w in weights.items():
        if isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0:
            r.problem("", f"domains.{code}", f"权重应为非负数，实际为 {w!r}")
            continue
        domain_weights.append((str(code), float(w)))
    if domain_weights and abs(sum(w for _, w in domain_weights) - 1.0) > 1e-6:
        r.problem("", "domains", f"工作领域权重之和应为 1，实际为 {sum(w for _, w in domain_weights):.4f}")

    task_minimums = []
    for code, n in section("task_minimums").items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            r.problem("", f"task_minimums.{code}", f"应为非负整数，实际为 {n!r}")
        else:
            task_minimums.append((str(code), n))
    lower = number(doc, "lower_level_share", "lower_level_share", lo=0, hi=0.9, default=0.0)

    types = section("item_types")
    shares = types.get("shares") or {}
    type_shares = []
    for t, s in (shares.items() if isinstance(shares, dict) else []):
        if ItemType.parse(str(t)) is None:
            r.problem("", f"item_types.shares.{t}", "题型应为 单选、多选 或 判断")
        elif isinstance(s, bool) or not isinstance(s, (int, float)) or s < 0:
            r.problem("", f"item_types.shares.{t}", f"应为非负数，实际为 {s!r}")
        else:
            type_shares.append((ItemType.parse(str(t)).value, float(s)))
    if type_shares and abs(sum(s for _, s in type_shares) - 1.0) > 1e-6:
        r.problem("", "item_types.shares", f"题型比例之和应为 1，实际为 {sum(s for _, s in type_shares):.4f}")
    tolerance = number(types, "tolerance", "item_types.tolerance", lo=0, hi=1, default=0.10)

    length = section("length")
    min_len = number(length, "min", "length.min", lo=1, integer=True, required=True)
    max_len = number(length, "max", "length.max", lo=1, integer=True, required=True)
    if min_len and max_len and min_len > max_len:
        r.problem("", "length", f"最短长度 {min_len} 大于最长长度 {max_len}")
    se = number(section("precision"), "se", "precision.se", lo=0, open_lo=True)
    confidence = number(section("classification"), "confidence", "classification.confidence", lo=0.5, hi=0.999,
                        default=0.95)
    decide = section("classification").get("decide", "pass_fail")
    if decide not in DECISIONS:
        r.problem("", "classification.decide", f"应为 pass_fail（判定是否通过报考级别）或 band（判定等级），实际为 {decide!r}")

    cuts_node = section("cuts")
    cuts: list[CutSpec] = []
    for name in LEVEL_NAMES:
        node = cuts_node.get(name)
        field = f"cuts.{name}"
        if not isinstance(node, dict):
            r.problem("", field, "缺少此级别的分数线（{theta: 数值} 或 {percent_correct: 百分比}）")
            continue
        if ("theta" in node) == ("percent_correct" in node):
            r.problem("", field, "应给出 theta 或 percent_correct 之一")
            continue
        if "theta" in node:
            t = number(node, "theta", f"{field}.theta", lo=-6, hi=6)
            cuts.append(CutSpec(name, theta=None if t is None else float(t)))
        else:
            p = number(node, "percent_correct", f"{field}.percent_correct", lo=0, hi=100, open_lo=True)
            cuts.append(CutSpec(name, percent_correct=None if p is None else float(p)))
    for extra in set(cuts_node) - set(LEVEL_NAMES):
        r.problem("", f"cuts.{extra}", "分数线只能是 初级、中级、高级")
    thetas = [c.theta for c in cuts if c.theta is not None]
    if len(thetas) == len(cuts) == 3 and any(b <= a for a, b in zip(thetas, thetas[1:])):
        r.problem("", "cuts", f"分数线应按 初级 < 中级 < 高级 递增，实际为 {thetas}")

    rep = section("reporting")
    pass_score = number(rep, "pass_score", "reporting.pass_score", lo=1, hi=99, default=60)
    tmin = number(rep, "theta_min", "reporting.theta_min", default=-3.0)
    tmax = number(rep, "theta_max", "reporting.theta_max", default=3.0)
    band_conf = number(rep, "band_confidence", "reporting.band_confidence", lo=0.5, hi=0.999, default=0.90)
    exposure = number(section("exposure"), "max_rate", "exposure.max_rate", lo=0, hi=1, open_lo=True, default=0.25)
    progressive = number(section("exposure"), "progressive_items", "exposure.progressive_items", lo=0, integer=True,
                         default=0)
    if progressive and min_len and progressive > min_len:
        r.problem("", "exposure.progressive_items",
                  f"渐进选题的题数不能超过最短长度 {min_len}"
                  f"（停止之前每位考生都应答过按信息量选出的题），实际为 {progressive}")
    start = section("start")
    start_rule = str(start.get("rule", "random_theta"))
    if start_rule not in START_RULES:
        r.problem("", "start.rule", f"起始规则应为 {' 或 '.join(START_RULES)}，实际为 {start_rule!r}")
    interval = start.get("interval", [-0.5, 0.5])
    if not (isinstance(interval, list) and len(interval) == 2 and all(isinstance(x, (int, float)) for x in interval)
            and interval[0] <= interval[1]):
        r.problem("", "start.interval", f"应为 [下限, 上限]，实际为 {interval!r}")
        interval = [-0.5, 0.5]
    pre = section("pretest")
    pre_count = number(pre, "count", "pretest.count", lo=0, integer=True, default=0)
    positions = pre.get("positions", [])
    if not isinstance(positions, list) or not all(isinstance(p, int) and p >= 1 for p in positions):
        r.problem("", "pretest.positions", "应为正整数列表（第几道题）")
        positions = []
    if pre_count is not None and len(positions) != pre_count:
        r.problem("", "pretest.positions", f"应给出 {pre_count} 个位置，实际为 {len(positions)} 个")
    if min_len and any(p > min_len for p in positions):
        r.problem("", "pretest.positions", f"预测试题的位置不能超过最短长度 {min_len}，以保证每位考生都会遇到")
    time_limit = number(doc, "time_limit_minutes", "time_limit_minutes", lo=1, integer=True, required=True)

    if r.problems:
        raise DataFileError(r.problems)
    return Blueprint(
        id=bp_id, standard=standard, level=level, name=r.text(doc, "", "name", required=False) or bp_id,
        domain_weights=tuple(domain_weights), task_minimums=tuple(task_minimums), lower_level_share=float(lower),
        type_shares=tuple(type_shares) or Blueprint.type_shares, type_tolerance=float(tolerance),
        min_length=min_len, max_length=max_len, se_target=None if se is None else float(se),
        confidence=float(confidence), decide=Decision(decide), cuts=tuple(cuts), pass_score=float(pass_score),
        band_report_confidence=float(band_conf if band_conf is not None else 0.90), theta_min=float(tmin),
        theta_max=float(tmax), exposure_max_rate=float(exposure), progressive_items=int(progressive or 0),
        start_rule=StartRule(start_rule),
        start_interval=(float(interval[0]), float(interval[1])), pretest_count=pre_count or 0,
        pretest_positions=tuple(positions), time_limit_minutes=time_limit, source=doc,
    )


def read_blueprints_dir(folder: Path) -> list:
    """Every blueprint file of a folder (``530046-L2.yaml`` ...)."""
    return read_blueprint_files(sorted(p for p in folder.glob("*.yaml") if re.fullmatch(r"\d{6}-L[123]", p.stem)))


def read_blueprint_files(files: list[Path]) -> list:
    """Read several blueprint files, reporting the problems of all of them at once."""
    out, problems = [], []
    for path in files:
        try:
            out.append(read_blueprint_file(path))
        except DataFileError as exc:
            problems.extend(exc.problems)
    if problems:
        raise DataFileError(problems)
    return out
