"""An independent reader of the published standard texts in ../shared/standards/.

Used only by tests, to cross-check the catalog data files against the source
documents. It knows nothing of the data files and applies no corrections: it
returns the text exactly as printed (tags removed, page-break splits joined).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

LEVEL_NAMES = {"初级": "L1", "中级": "L2", "高级": "L3"}
TABLE_RE = re.compile(r"^表\s*\d+\s*.+?职业技能等级要求[（(](初级|中级|高级)[）)]\s*$")
HEADER = "工作领域\t工作任务\t职业技能要求"
DOMAIN_RE = re.compile(r"^(\d+)\.\s*(.+)$")
TASK_RE = re.compile(r"^(\d+\.\d+)\s+(.+)$")
# Whitespace between two Chinese characters or marks is a page-break artefact.
CJK_GAP_RE = re.compile(r"(?<=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef])\s+(?=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef])")
REQ_SPLIT_RE = re.compile(r"(?:^|(?<=[\s。；;]))(\d+\.\d+\.\d+\.?)\s*")


@dataclass
class SourceTask:
    number: str
    name: str
    requirements: list[tuple[str, str]] = field(default_factory=list)  # (printed number, text)


@dataclass
class SourceDomain:
    number: str
    name: str
    tasks: list[SourceTask] = field(default_factory=list)


@dataclass
class SourceLevel:
    code: str  # L1 / L2 / L3
    name: str  # 初级 / 中级 / 高级
    domains: list[SourceDomain] = field(default_factory=list)


@dataclass
class SourceStandard:
    code: str
    name: str
    levels: list[SourceLevel]


def standards_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "shared" / "standards"


def read_standard(path: Path) -> SourceStandard:
    lines = path.read_text(encoding="utf-8").splitlines()
    code = re.search(r"标准代码[：:]\s*(\d+)", "\n".join(lines)).group(1)
    name = next(line.strip() for line in lines if line.strip().endswith("职业技能等级标准"))
    name = name.removesuffix("职业技能等级标准").strip()
    levels: list[SourceLevel] = []
    chunks: dict[int, list[str]] = {}
    current_task: SourceTask | None = None
    for raw in lines:
        line = raw.rstrip()
        match = TABLE_RE.match(line.strip())
        if match:
            levels.append(SourceLevel(code=LEVEL_NAMES[match.group(1)], name=match.group(1)))
            current_task = None
            continue
        if not levels:
            continue
        if line.strip() == "参考文献":
            break
        if not line.strip() or line.strip() == HEADER:
            continue
        cells = line.split("\t")
        if len(cells) == 1:  # a line outside the table grid (caption or stray text)
            continue
        domain_cell, task_cell, req_cell = (cells + ["", ""])[:3]
        level = levels[-1]
        if domain_cell.strip():
            m = DOMAIN_RE.match(domain_cell.strip())
            level.domains.append(SourceDomain(number=m.group(1), name=m.group(2).strip()))
        if task_cell.strip():
            m = TASK_RE.match(task_cell.strip())
            current_task = SourceTask(number=m.group(1), name=m.group(2).strip())
            level.domains[-1].tasks.append(current_task)
        chunks.setdefault(id(current_task), []).append(req_cell)
        if current_task is not None:
            current_task.requirements = _split_requirements("".join(chunks[id(current_task)]))
    return SourceStandard(code=code, name=name, levels=levels)


def _split_requirements(cell_text: str) -> list[tuple[str, str]]:
    text = re.sub(r"</?p>", " ", cell_text).strip()
    # A requirement broken over a page is printed as "...分工 </p>" + "<p>和任务分配" -> join
    parts = REQ_SPLIT_RE.split(text)
    out: list[tuple[str, str]] = []
    for i in range(1, len(parts), 2):
        body = CJK_GAP_RE.sub("", parts[i + 1]).strip()
        out.append((parts[i], body))
    return out


def read_all() -> dict[str, SourceStandard]:
    out = {}
    for path in sorted(standards_dir().glob("*.txt")):
        std = read_standard(path)
        out[std.code] = std
    return out
