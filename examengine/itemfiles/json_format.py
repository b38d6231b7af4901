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

The document is validated with pydantic models (strict: a text must be a JSON string, a
number a JSON number), the items one by one, so that a malformed value anywhere is a
``Problem`` naming the item (its number and id: ``第 3 题（530046-L1-001）``), the field (in
Chinese, as the other readers name it) and, in Chinese, the JSON path, what it should be and
what it is. pydantic's own English messages are never shown. The reader never raises.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from examengine.errors import Problem
from examengine.exam.items import (
    LETTERS,
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
SHOWN_ID_CHARS = 64  # an item id in a location (the column holds 64; a longer one is a problem itself)
SHOWN_TEXT_CHARS = 40  # a wrong value quoted in a message

# -- the models ---------------------------------------------------------------------------


def _one_or_many(value: Any) -> Any:
    """A single text stands for a list of one ("requirements": "530046-L1-1.1.1")."""
    return [value] if isinstance(value, str) else value


def _item_type(value: str | None) -> ItemType:
    parsed = ItemType.parse(value or "")
    if parsed is None:
        raise PydanticCustomError("item_type", "题型应为 单选、多选 或 判断，实际为“{value}”",
                                  {"value": _short(value or "")})
    return parsed


def _irt_model(value: str) -> IrtModel:
    try:
        return IrtModel(value)
    except ValueError:
        raise PydanticCustomError("irt_model", "IRT 模型应为 1PL、2PL 或 3PL，实际为“{value}”",
                                  {"value": _short(value)}) from None


def _base64(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # a strict ``bytes`` refuses it: no JSON value is bytes
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):  # ValueError: non-ASCII characters
        raise PydanticCustomError("base64", "不是有效的 base64 编码") from None


Texts = Annotated[list[str], BeforeValidator(_one_or_many)]
FiniteNumber = Annotated[float, Field(allow_inf_nan=False)]


class _Node(BaseModel):
    # strict: "stem": 3 or "id": 7 is a mistake to report, not a text to make up; unknown keys
    # are ignored, as before
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class ImageNode(_Node):
    name: str
    media_type: str | None = None
    data_base64: Annotated[bytes, BeforeValidator(_base64)]
    alt: str | None = None  # the picture's description (alt text)


class IrtNode(_Node):
    model: Annotated[str, AfterValidator(_irt_model)] = "3PL"
    a: FiniteNumber
    b: FiniteNumber
    c: FiniteNumber = 0.0
    origin: str | None = None


class ItemNode(_Node):
    id: str | None = None
    # validated when absent too: a missing type is reported as an empty one
    type: Annotated[str | None, AfterValidator(_item_type)] = Field(default=None, validate_default=True)
    stem: str | None = None
    options: list[str] | None = None
    key: Texts | None = None
    explanation: str | None = None
    requirements: Texts | None = None
    difficulty: Annotated[int, Field(ge=1, le=5)] | None = None
    author: str | None = None
    source: str | None = None
    enemy_group: str | None = None
    irt: IrtNode | None = None
    images: list[ImageNode] | None = None


class ItemSetNode(_Node):
    format: str | None = None
    title: str | None = None
    author: str | None = None
    source: str | None = None
    items: list[Any]  # validated one by one (ItemNode), so that one bad item hides no other


# -- the reader ---------------------------------------------------------------------------


def read_json(data: bytes, filename: str, *, default_requirements: tuple[str, ...] = ()) -> ParsedUpload:
    problems: list[Problem] = []

    def problem(location: str, field: str, message: str) -> None:
        problems.append(Problem(filename, location, field, message))

    def refused() -> ParsedUpload:
        return ParsedUpload(filename, "json", (), tuple(problems))

    try:
        doc = json.loads(data.decode("utf-8-sig"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        problem("", "", "JSON 文件必须是 UTF-8 编码")
        return refused()
    except json.JSONDecodeError as exc:
        problem(f"第 {exc.lineno} 行第 {exc.colno} 列", "", f"JSON 格式错误：{exc.msg}")
        return refused()
    except RecursionError:  # the C decoder stops at the interpreter's recursion limit
        problem("", "", f"JSON 嵌套过深（上限 {MAX_JSON_DEPTH} 层）")
        return refused()
    except ValueError as exc:  # an integer of more than 4,300 digits, NaN or Infinity
        problem("", "", f"JSON 中有无法接受的数值：{str(exc)[:120]}")
        return refused()
    bad = _first_bad_node(doc)
    if bad is not None:
        location, field, path = _place(doc, bad[0])
        problem(location, field, f"{_path_text(path)} {bad[1]}".strip())
        return refused()
    try:
        top = ItemSetNode.model_validate(doc)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
            actual = (f"实际为{_describe(doc)}" if not isinstance(doc, dict) else
                      "缺少 items" if "items" not in doc else f"items 实际为{_describe(doc['items'])}")
            problem("", "items", f"文件应为一个对象，并包含 items 列表（{actual}）")
            return refused()
        for e in errors:
            problem("", _SET_LABELS.get(str(e["loc"][0]), str(e["loc"][0])), _message(e))
        try:
            top = ItemSetNode.model_validate({k: v for k, v in doc.items() if k not in {e["loc"][0] for e in errors}})
        except ValidationError:  # not expected: only the fields reported were taken out
            return refused()
    if top.format not in (None, FORMAT):
        problem("", "format", f"不支持的格式版本“{_short(top.format)}”（应为 {FORMAT}）")
    default_author = top.author or ""
    default_source = top.source or ""
    items: list[ItemDraft] = []
    for n, node in enumerate(top.items, start=1):
        draft = _item(node, n, default_author, default_source, problem, default_requirements)
        if draft is not None:
            items.append(draft)
    return ParsedUpload(filename, "json", tuple(items), tuple(problems), title=top.title or "",
                        author=default_author, source=default_source)


# the check_item fields a reported malformed value would only repeat (or make up)
_FOLLOW_UPS: dict[str, tuple[str, ...]] = {
    "id": ("题目编号",), "stem": ("题干",), "options": ("选项", "答案"), "key": ("答案",),
    "requirements": ("职业技能要求",), "difficulty": ("难度",), "images": ("题干引用的图片",),
}


def _item(node: Any, n: int, author: str, source: str, problem: Callable[[str, str, str], None],
          default_requirements: tuple[str, ...]) -> ItemDraft | None:
    """One item's draft, every problem of it reported; None when its type is unknown (its
    options and key cannot be read)."""
    loc = item_location(n, node.get("id") if isinstance(node, dict) else None)
    if not isinstance(node, dict):
        problem(loc, "", f"每道题应为一个对象，实际为{_describe(node)}")
        return None
    reported: set[str] = set()
    try:
        m = ItemNode.model_validate(node)
    except ValidationError as exc:
        for e in exc.errors(include_url=False):
            problem(loc, _field(e["loc"]), _message(e))
            reported.add(str(e["loc"][0]))
        if "type" in reported:
            return None  # without a type, options and key cannot be read
        try:  # the rest of the item, for the checks that do not depend on what was reported
            m = ItemNode.model_validate({k: v for k, v in node.items() if k not in reported})
        except ValidationError:  # not expected: only the fields reported were taken out
            return None
    item_type: ItemType = m.type  # type: ignore[assignment]  # made an ItemType by _item_type
    options = TRUE_FALSE_OPTIONS if item_type is ItemType.TRUE_FALSE else tuple(o.strip() for o in m.options or ())
    key, err = parse_key("".join(m.key or ()), item_type, len(options))
    quiet = {f for k in reported for f in _FOLLOW_UPS.get(k, ())}
    if err and "答案" not in quiet:
        problem(loc, "答案", err)
    images = tuple(ItemImage(i.name, i.media_type or "application/octet-stream", i.data_base64, (i.alt or "").strip())
                   for i in m.images or ())
    irt = None if m.irt is None else IrtData(m.irt.model, m.irt.a, m.irt.b, m.irt.c,  # type: ignore[arg-type]
                                             m.irt.origin or "provisional")
    draft = ItemDraft(
        external_id=(m.id or "").strip(), type=item_type, stem=(m.stem or "").strip(), options=options, key=key,
        explanation=(m.explanation or "").strip(),
        requirements=tuple(r.strip() for r in m.requirements or () if r.strip()) or default_requirements,
        difficulty=m.difficulty, author=(m.author or "").strip() or author, source=(m.source or "").strip() or source,
        enemy_group=(m.enemy_group or "").strip() or None, images=images, irt=irt, location=loc,
    )
    for p in check_item(draft):
        if p.field == "答案" and err:
            continue  # already reported, by parse_key
        if any(p.field.startswith(q) or p.message.startswith(q) for q in quiet):
            continue
        problem(loc, p.field, p.message)
    return draft


def item_location(n: int, ident: Any) -> str:
    """How a problem names the n-th item (1-based) of a file: ``第 3 题（530046-L1-001）``; the id
    only when it is a text that may be shown (no illegal character), cut at 64 characters."""
    ident = ident.strip() if isinstance(ident, str) else ""
    if not ident or illegal_char(ident):
        return f"第 {n} 题"
    if len(ident) > SHOWN_ID_CHARS:
        ident = ident[:SHOWN_ID_CHARS] + "…"
    return f"第 {n} 题（{ident}）"


# -- naming a place -----------------------------------------------------------------------

_LABELS = {
    "id": "题目编号", "type": "题型", "stem": "题干", "options": "选项", "key": "答案", "explanation": "解析",
    "requirements": "职业技能要求", "difficulty": "难度", "author": "作者", "source": "来源", "enemy_group": "互斥组",
    "irt": "irt", "images": "图片",
}
_SET_LABELS = {"title": "标题", "author": "作者", "source": "来源", "format": "format", "items": "items"}
_IRT_LABELS = {"a": "区分度a", "b": "难度b", "c": "猜测度c"}

# what a value should be, by its path (an index as "*"), for the errors that say a value has
# the wrong JSON type or range
_EXPECTED = {
    ("type",): "应为题型：单选、多选 或 判断",
    ("options",): "应为选项文本的列表",
    ("key",): "应为答案：选项字母（如 \"B\"、\"ACD\"）或“正确”“错误”，也可为它们的列表",
    ("requirements",): "应为职业技能要求代码的列表（或一个代码）",
    ("requirements", "*"): "应为职业技能要求代码（文本）",
    ("difficulty",): "应为 1–5 的整数（难度评级）",
    ("irt",): "应为对象 {model: 1PL/2PL/3PL, a, b, c}",
    ("irt", "model"): "应为 1PL、2PL 或 3PL",
    ("images",): "应为图片的列表，每张为 {name, media_type, data_base64}",
    ("images", "*"): "应为对象 {name, media_type, data_base64}",
    ("images", "*", "data_base64"): "应为 base64 编码的图片数据（文本）",
}
_BY_TYPE = {
    "string_type": "应为文本", "list_type": "应为列表", "int_type": "应为整数", "float_type": "应为数字",
    "model_type": "应为对象", "model_attributes_type": "应为对象", "dict_type": "应为对象",
    "bytes_type": "应为 base64 编码的文本", "finite_number": "应为有限的数",
    "greater_than_equal": "应不小于 {ge}", "less_than_equal": "应不大于 {le}",
}
_OWN_MESSAGES = {"item_type", "irt_model", "base64"}  # PydanticCustomErrors raised above, in Chinese


def _message(e: ErrorDetails) -> str:
    """A pydantic error in the house's Chinese: the JSON path, what it should be, what it is."""
    path = _path_text(e["loc"])
    if e["type"] == "item_type":
        return e["msg"]  # names 题型 itself
    if e["type"] in _OWN_MESSAGES:
        return f"{path} {e['msg']}".strip()
    if e["type"] == "missing":
        return f"缺少 {path}"
    generic = tuple("*" if isinstance(k, int) else k for k in e["loc"])
    expected = _EXPECTED.get(generic) or _BY_TYPE.get(e["type"], "不符合格式").format(**e.get("ctx", {}))
    if e["type"] == "float_type" and isinstance(e.get("input"), int) and not isinstance(e.get("input"), bool):
        expected = "超出数值范围"  # an integer too large for a float
    return f"{path} {expected}，实际为{_describe(e.get('input'))}".strip()


def _field(loc: tuple[int | str, ...]) -> str:
    """The field a path inside an item names, as the other readers and the checks name it."""
    head = loc[0] if loc else ""
    if head == "options" and len(loc) > 1 and isinstance(loc[1], int):
        i = loc[1]
        return f"选项{LETTERS[i] if i < len(LETTERS) else i + 1}"
    if head == "irt" and len(loc) > 1 and loc[1] in _IRT_LABELS:
        return _IRT_LABELS[str(loc[1])]
    if head == "images" and len(loc) > 2 and loc[2] == "media_type":
        return "图片类型"
    return _LABELS.get(str(head), str(head))


def _place(doc: Any, loc: Sequence[int | str]) -> tuple[str, str, tuple[int | str, ...]]:
    """(location, field, path from there) of a path in the document: inside an item, its
    number and id, its field and the path inside it; else the document's field and the path."""
    loc = tuple(loc)
    if len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int) and isinstance(doc, dict):
        node = doc["items"][loc[1]]
        location = item_location(loc[1] + 1, node.get("id") if isinstance(node, dict) else None)
        return location, _field(loc[2:]), loc[2:]
    if not loc or not isinstance(loc[0], str):
        return "", "", loc
    return "", _SET_LABELS.get(loc[0], loc[0]), loc


def _path_text(loc: Sequence[int | str]) -> str:
    """A JSON path as people count: ``images[1].name`` is the first picture's name."""
    out = ""
    for k in loc:
        out += f"[{k + 1}]" if isinstance(k, int) else (f".{k}" if out else str(k))
    return out


def _describe(value: Any) -> str:
    """What a JSON value is, in a few words, never more than a short quote of it."""
    if value is None:
        return " null"
    if isinstance(value, bool):
        return f"布尔值 {'true' if value else 'false'}"
    if isinstance(value, int):
        digits = str(abs(value)) if abs(value) < 10 ** SHOWN_TEXT_CHARS else ""
        return f"整数 {'-' if value < 0 else ''}{digits}" if digits else "一个很大的整数"
    if isinstance(value, float):
        return f"数字 {value!r}"
    if isinstance(value, str):
        return f"文本“{_short(value)}”"
    if isinstance(value, list):
        return f"列表（{len(value)} 项）"
    if isinstance(value, dict):
        return "对象"
    return type(value).__name__


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SHOWN_TEXT_CHARS else text[:SHOWN_TEXT_CHARS] + "…"


# -- before the models --------------------------------------------------------------------


def _no_constant(name: str) -> float:
    raise ValueError(f"不允许 {name}")


def _first_bad_node(doc: Any) -> tuple[tuple[int | str, ...], str] | None:
    """(path, message) of the first place nested deeper than ``MAX_JSON_DEPTH`` or holding a
    string (key or value) with a character no stored text may hold (a lone surrogate, NUL,
    ...); the message never repeats the string. Iterative: no recursion."""
    stack: list[tuple[Any, tuple[int | str, ...]]] = [(doc, ())]
    while stack:
        node, path = stack.pop()
        if len(path) >= MAX_JSON_DEPTH:
            return path, f"JSON 嵌套过深（上限 {MAX_JSON_DEPTH} 层）"
        if isinstance(node, str):
            bad = illegal_char(node)
            if bad:
                return path, f"文本含有不允许的字符（{bad}）"
        elif isinstance(node, dict):
            for k, v in node.items():
                bad = illegal_char(k)
                if bad:
                    return path, f"键名含有不允许的字符（{bad}）"
                stack.append((v, (*path, k)))
        elif isinstance(node, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(node))
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
                               "data_base64": base64.b64encode(i.data).decode("ascii"), **({"alt": i.alt} if i.alt else {})}
                              for i in it.images]
        out.append(node)
    doc = {"format": FORMAT, "title": title, "items": out}
    return json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8")
