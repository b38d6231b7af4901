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
