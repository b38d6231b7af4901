"""Precision and recall of the item checker's rules on the labelled sets in
tests/fixtures/quality/ (docs/item-quality.md quotes this table; a test keeps them equal).

    .venv/bin/python scripts/measure_checker.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import random
from dataclasses import replace

from examengine.datafiles import read_standards_dir
from examengine.exam.quality import RULES, TAG_RANK, TAG_SIMILARITY, measure_rules, tag_fit
from examengine.itemfiles.json_format import read_json

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "quality"
SETS = (("development", "开发集（阈值在此调定）"), ("heldout", "留出集（调定后另一人编写）"))


def scores(name: str):
    path = FIXTURES / f"{name}.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    parsed = read_json(path.read_bytes(), path.name)
    if parsed.problems:
        raise SystemExit(f"{path}: {parsed.problems[:3]}")
    labels = {it["id"]: set(it.get("flaws", [])) for it in raw["items"]}
    return len(raw["items"]), measure_rules(parsed.items, labels)


def fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def table() -> str:
    results = {name: scores(name) for name, _ in SETS}
    head = "| 规则 | 说明 | " + " | ".join(f"{title}：有缺陷 / 检出 / 精确率 / 召回率" for _, title in SETS) + " |"
    lines = [head, "|" + "---|" * (2 + len(SETS))]
    rules = [s.rule for s in results[SETS[0][0]][1]]
    for k, rule in enumerate(rules):
        cells = []
        for name, _ in SETS:
            s = results[name][1][k]
            cells.append(f"{s.flawed} / {s.flagged} / {fmt(s.precision)} / {fmt(s.recall)}")
        lines.append(f"| `{rule}` | {RULES[rule].title} | " + " | ".join(cells) + " |")
    sizes = "，".join(f"{title} {results[name][0]} 道" for name, title in SETS)
    return "\n".join(lines) + f"\n\n（{sizes}。）"


def tag_experiment(seed: int = 1) -> str:
    """The tag check on the shipped bank: how many items it flags as they are tagged, and how
    many it flags when each item is re-tagged to a random requirement of another task of the
    same level (a wrong tag a writer could make)."""
    texts, task_of = {}, {}
    for standard in read_standards_dir(REPO / "blueprints" / "standards"):
        for level in standard.levels:
            for domain in level.domains:
                for task in domain.tasks:
                    for r in task.requirements:
                        texts[r.code], task_of[r.code] = r.text, task.code
    items = []
    for path in sorted((REPO / "itembank").glob("*.json")):
        items += read_json(path.read_bytes(), path.name).items
    rng = random.Random(seed)
    wrong = []
    for d in items:
        code = d.requirements[0]
        level = code.rsplit("-", 1)[0]
        others = [c for c in texts if c.rsplit("-", 1)[0] == level and task_of[c] != task_of[code]]
        wrong.append(replace(d, requirements=(rng.choice(others),)))

    def flagged(ds) -> int:
        return sum(f.rank > TAG_RANK and f.similarity < TAG_SIMILARITY for f in tag_fit(ds, texts))

    right, moved = flagged(items), flagged(wrong)
    n = len(items)
    return (f"示例题库 {n} 道题：按原标注，检出 {right} 道（{right / n:.1%}）；每道题改标为同级别另一工作任务下的随机要求后，"
            f"检出 {moved} 道（{moved / n:.1%}）。")


if __name__ == "__main__":
    sys.stdout.write(table() + "\n\n" + tag_experiment() + "\n")
