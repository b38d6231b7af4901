"""The project's own item-set JSON format, ``examengine.itemset/1`` (see docs/item-formats.md).

```json
{"format": "examengine.itemset/1", "title": "...", "author": "...", "source": "...",
 "items": [{"id": "530046-L1-001", "type": "单选", "stem": "...", "options": ["...", "..."],
            "key": "B", "explanation": "...", "requirements": ["530046-L1-1.1.1"],
            "difficulty": 2, "enemy_group": null,
            "irt": {"model": "3PL", "a": 1.1, "b": -0.4, "c": 0.2, "origin": "provisional"},
            "images": [{"name": "chart.png", "media_type": "image/png", "data_base64": "..."}]}]}
```
判断 items have no ``options`` (they are 正确/错误) and their key is "正确" or "错误".
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from examengine.errors import Problem
from examengine.exam.items import (
    TRUE_FALSE_OPTIONS,
    IrtData,
    IrtModel,
    ItemDraft,
    ItemImage,
    ItemType,
    check_item,
    parse_key,
)
from examengine.itemfiles import ParsedUpload
from examengine.itemfiles.bounds import MAX_JSON_DEPTH, illegal_char

FORMAT = "examengine.itemset/1"


def read_json(data: bytes, filename: str, *, default_requirements: tuple[str, ...] = ()) -> ParsedUpload:
    problems: list[Problem] = []

    def problem(location: str, field: str, message: str) -> None:
        problems.append(Problem(filename, location, field, message))

    try:
        doc = json.loads(data.decode("utf-8-sig"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        problem("", "", "JSON 文件必须是 UTF-8 编码")
        return ParsedUpload(filename, "json", (), tuple(problems))
    except json.JSONDecodeError as exc:
        problem(f"第 {exc.lineno} 行第 {exc.colno} 列", "", f"JSON 格式错误：{exc.msg}")
        return ParsedUpload(filename, "json", (), tuple(problems))
    except RecursionError:  # the C decoder stops at the interpreter's recursion limit
        problem("", "", f"JSON 嵌套过深（上限 {MAX_JSON_DEPTH} 层）")
        return ParsedUpload(filename, "json", (), tuple(problems))
    except ValueError as exc:  # an integer of more than 4,300 digits, NaN or Infinity
        problem("", "", f"JSON 中有无法接受的数值：{str(exc)[:120]}")
        return ParsedUpload(filename, "json", (), tuple(problems))
    bad = _first_bad_node(doc)
    if bad is not None:
        problem(*bad)
        return ParsedUpload(filename, "json", (), tuple(problems))
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        problem("", "items", "文件应为一个对象，并包含 items 列表")
        return ParsedUpload(filename, "json", (), tuple(problems))
    if doc.get("format") not in (None, FORMAT):
        problem("", "format", f"不支持的格式版本“{doc.get('format')}”（应为 {FORMAT}）")
    default_author = str(doc.get("author") or "")
    default_source = str(doc.get("source") or "")
    items: list[ItemDraft] = []
    for n, node in enumerate(doc["items"], start=1):
        ident = str(node.get("id") or "").strip() if isinstance(node, dict) else ""
        loc = ident or f"items[{n}]"
        if not isinstance(node, dict):
            problem(loc, "", "每道题应为一个对象")
            continue
        draft = _item(node, ident, loc, default_author, default_source, problem, default_requirements)
        if draft is None:
            continue
        for p in check_item(draft):
            problem(loc, p.field, p.message)
        items.append(draft)
    return ParsedUpload(filename, "json", tuple(items), tuple(problems), title=str(doc.get("title") or ""),
                        author=default_author, source=default_source)


def _no_constant(name: str) -> float:
    raise ValueError(f"不允许 {name}")


def _first_bad_node(doc: Any) -> tuple[str, str, str] | None:
    """(location, field, message) of the first place nested deeper than ``MAX_JSON_DEPTH`` or
    holding a string (key or value) with a character no stored text may hold (a lone
    surrogate, NUL, ...); the message never repeats the string. Iterative: no recursion."""
    stack: list[tuple[Any, str, int]] = [(doc, "", 1)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return path, "", f"JSON 嵌套过深（上限 {MAX_JSON_DEPTH} 层）"
        if isinstance(node, str):
            bad = illegal_char(node)
            if bad:
                return path, "", f"文本含有不允许的字符（{bad}）"
        elif isinstance(node, dict):
            for k, v in node.items():
                bad = illegal_char(k)
                if bad:
                    return path, "", f"键名含有不允许的字符（{bad}）"
                stack.append((v, f"{path}.{k}" if path else k, depth + 1))
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(node, start=1))
    return None


def _text(node: dict, name: str) -> str:
    value = node.get(name)
    return "" if value is None else str(value).strip()


def _item(node: dict[str, Any], ident: str, loc: str, author: str, source: str, problem,
          default_requirements: tuple[str, ...] = ()) -> ItemDraft | None:
    item_type = ItemType.parse(_text(node, "type"))
    if item_type is None:
        problem(loc, "题型", f"题型应为 单选、多选 或 判断，实际为“{_text(node, 'type')}”")
        return None
    if item_type is ItemType.TRUE_FALSE:
        options = TRUE_FALSE_OPTIONS
    else:
        raw = node.get("options")
        if not isinstance(raw, list):
            problem(loc, "选项", "options 应为选项文本的列表")
            raw = []
        options = tuple(str(o).strip() for o in raw)
    key_raw = node.get("key")
    if isinstance(key_raw, list):
        key_raw = "".join(str(k) for k in key_raw)
    key, err = parse_key(str(key_raw or ""), item_type, len(options))
    if err:
        problem(loc, "答案", err)
    reqs = node.get("requirements") or []
    if isinstance(reqs, str):
        reqs = [reqs]
    difficulty = node.get("difficulty")
    if difficulty is not None and (not isinstance(difficulty, int) or isinstance(difficulty, bool)):
        problem(loc, "难度", f"难度评级应为 1–5 的整数，实际为“{difficulty}”")
        difficulty = None
    irt = None
    if node.get("irt") is not None:
        irt = _irt(node["irt"], loc, problem)
    images = []
    for i, img in enumerate(node.get("images") or [], start=1):
        try:
            images.append(ItemImage(str(img["name"]), str(img.get("media_type") or "application/octet-stream"),
                                    base64.b64decode(img["data_base64"], validate=True)))
        except (KeyError, TypeError, binascii.Error):
            problem(loc, f"images[{i}]", "图片应有 name 和 base64 编码的 data_base64")
    enemy = _text(node, "enemy_group") or None
    return ItemDraft(
        external_id=ident, type=item_type, stem=str(node.get("stem") or "").strip(), options=options, key=key,
        explanation=_text(node, "explanation"), requirements=tuple(str(r).strip() for r in reqs if str(r).strip()) or default_requirements,
        difficulty=difficulty, author=_text(node, "author") or author, source=_text(node, "source") or source,
        enemy_group=enemy, images=tuple(images), irt=irt, location=loc,
    )


def _irt(node: Any, loc: str, problem) -> IrtData | None:
    try:
        model = IrtModel(str(node.get("model", "3PL")))
        return IrtData(model, float(node["a"]), float(node["b"]), float(node.get("c", 0.0)),
                       str(node.get("origin") or "provisional"))
    except (ValueError, KeyError, TypeError, AttributeError):
        problem(loc, "irt", "IRT 参数应为 {model: 1PL/2PL/3PL, a, b, c}")
        return None


def write_json(items: Sequence[ItemDraft], *, title: str = "") -> bytes:
    out = []
    for it in items:
        node: dict[str, Any] = {"id": it.external_id, "type": it.type.value, "stem": it.stem}
        if it.type is not ItemType.TRUE_FALSE:
            node["options"] = list(it.options)
        node.update({
            "key": it.key_letters, "explanation": it.explanation, "requirements": list(it.requirements),
            "difficulty": it.difficulty, "author": it.author, "source": it.source, "enemy_group": it.enemy_group,
        })
        if it.irt is not None:
            node["irt"] = {"model": it.irt.model.value, "a": it.irt.a, "b": it.irt.b, "c": it.irt.c,
                           "origin": it.irt.origin}
        if it.images:
            node["images"] = [{"name": i.name, "media_type": i.media_type,
                               "data_base64": base64.b64encode(i.data).decode("ascii")} for i in it.images]
        out.append(node)
    doc = {"format": FORMAT, "title": title, "items": out}
    return json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8")
