"""Items as the exam domain sees them: types, the draft an upload produces, and the
format-independent checks every importer applies.

Every upload format (JSON, CSV/XLSX, QTI 2.1/3.0) is parsed into ``ItemDraft``s; the same
``check_item`` then finds content problems, so a rule is written once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from examengine.irt.params import IrtModel  # the one Enum of the idea; importers here keep working

LETTERS = "ABCDEF"
TRUE_FALSE_OPTIONS = ("正确", "错误")


class ItemType(str, Enum):
    SINGLE = "单选"  # single choice, 4-6 options, one key
    MULTIPLE = "多选"  # multiple response, 4-6 options, >= 2 keys, scored all-or-nothing
    TRUE_FALSE = "判断"  # true/false: options 正确 / 错误

    @classmethod
    def parse(cls, text: str) -> ItemType | None:
        t = (text or "").strip()
        aliases = {
            "单选": cls.SINGLE, "单选题": cls.SINGLE, "single": cls.SINGLE, "single_choice": cls.SINGLE,
            "多选": cls.MULTIPLE, "多选题": cls.MULTIPLE, "multiple": cls.MULTIPLE,
            "multiple_response": cls.MULTIPLE,
            "判断": cls.TRUE_FALSE, "判断题": cls.TRUE_FALSE, "true_false": cls.TRUE_FALSE,
        }
        return aliases.get(t) or aliases.get(t.lower())


class ItemStatus(str, Enum):
    DRAFT = "draft"
    REVIEW = "review"
    PRETEST = "pretest"
    OPERATIONAL = "operational"
    RETIRED = "retired"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    ItemStatus.DRAFT: "草稿",
    ItemStatus.REVIEW: "审核中",
    ItemStatus.PRETEST: "预测试",
    ItemStatus.OPERATIONAL: "正式使用",
    ItemStatus.RETIRED: "已退役",
}

# The lifecycle: draft -> review -> pretest -> operational -> retired, and review -> draft.
TRANSITIONS: dict[ItemStatus, frozenset[ItemStatus]] = {
    ItemStatus.DRAFT: frozenset({ItemStatus.REVIEW}),
    ItemStatus.REVIEW: frozenset({ItemStatus.PRETEST, ItemStatus.DRAFT}),
    ItemStatus.PRETEST: frozenset({ItemStatus.OPERATIONAL}),
    ItemStatus.OPERATIONAL: frozenset({ItemStatus.RETIRED}),
    ItemStatus.RETIRED: frozenset(),
}


def can_transition(current: ItemStatus, target: ItemStatus) -> bool:
    return target in TRANSITIONS[current]


@dataclass(frozen=True)
class IrtData:
    model: IrtModel
    a: float
    b: float
    c: float = 0.0
    # "provisional", "calibration:<run id>" (written by `calibration apply`), or whatever an
    # imported item set carried (parameters estimated elsewhere): see ParameterOrigin
    origin: str = "provisional"


PROVISIONAL_ORIGIN = "provisional"
CALIBRATION_ORIGIN_PREFIX = "calibration:"


class ParameterOrigin(str, Enum):
    """Where an item version's IRT parameters come from (issue 20, the programme life cycle).

    PROVISIONAL: set without response data (a = 1, b from the level and the writer's rating, or
    an import that said "provisional"): an exam scored on them rests on guesses.
    CALIBRATED: estimated here by a calibration run from stored responses, on the bank's scale
    (a pretest run: operational items held fixed as anchors; a full run without anchors to
    link by defines the scale itself).
    LINKED: estimated here freely by a full run, then put on the bank's scale by Stocking-Lord
    linking through the operational anchors.
    IMPORTED: carried in by an item set with any other origin (estimated elsewhere, e.g. an
    exported bank), or naming a calibration run this database did not apply to this version."""

    PROVISIONAL = "provisional"
    CALIBRATED = "calibrated"
    LINKED = "linked"
    IMPORTED = "imported"

    @property
    def label(self) -> str:
        return PARAMETER_ORIGIN_LABELS[self]

    @property
    def provisional(self) -> bool:
        return self is ParameterOrigin.PROVISIONAL


PARAMETER_ORIGIN_LABELS = {
    ParameterOrigin.PROVISIONAL: "暂定参数",
    ParameterOrigin.CALIBRATED: "已校准",
    ParameterOrigin.LINKED: "已校准（等值链接）",
    ParameterOrigin.IMPORTED: "外部导入",
}


def is_provisional(origin: str) -> bool:
    """Whether a stored ``irt_origin`` marks provisional parameters (the one rule: results,
    readiness and labels all ask this)."""
    return (origin or PROVISIONAL_ORIGIN).strip().lower() == PROVISIONAL_ORIGIN


def calibration_run_of(origin: str) -> int | None:
    """The run id of a ``calibration:<run id>`` origin, else None."""
    text = (origin or "").strip()
    if not text.startswith(CALIBRATION_ORIGIN_PREFIX):
        return None
    rest = text[len(CALIBRATION_ORIGIN_PREFIX):]
    return int(rest) if rest.isdigit() else None


def parameter_origin(origin: str, applied_run: tuple[str, bool] | None = None) -> ParameterOrigin:
    """Classify a stored ``irt_origin``. ``applied_run``: (mode, linked) of the run the origin
    names when that run did apply its estimate to this very version (None: it did not, or
    the origin names no run). A run in ``pretest`` mode calibrates on the fixed anchors' scale;
    one in ``full`` mode is linked when it stored linking constants."""
    if is_provisional(origin):
        return ParameterOrigin.PROVISIONAL
    if calibration_run_of(origin) is not None and applied_run is not None:
        mode, linked = applied_run
        return ParameterOrigin.LINKED if mode == "full" and linked else ParameterOrigin.CALIBRATED
    return ParameterOrigin.IMPORTED


@dataclass(frozen=True)
class ProvisionalMark:
    """How many of the items a result was scored on had provisional parameters."""

    n_items: int
    n_provisional: int

    @property
    def provisional(self) -> bool:
        return self.n_provisional > 0


def provisional_mark(origins: Iterable[str]) -> ProvisionalMark:
    """The mark of a result scored on items with these stored origins (one per scored item):
    provisional as soon as one of them is (``is_provisional``)."""
    flags = [is_provisional(o) for o in origins]
    return ProvisionalMark(len(flags), sum(flags))


@dataclass(frozen=True)
class ItemImage:
    """A picture that belongs to an item, carried in the uploaded package."""

    name: str  # the file name used in the stem: [图片:name]
    media_type: str
    data: bytes
    alt: str = ""  # what the picture shows, in words (a screen reader reads it; "" = not described)


@dataclass(frozen=True)
class ItemDraft:
    """One item as an upload describes it, before it is checked against the catalog.

    ``options`` of a 判断 item are always ("正确", "错误"); ``key`` holds 0-based option
    indices, sorted. ``location`` says where the item is in its file (a row, an item id,
    a file in a package) so that every message can name it.
    """

    external_id: str
    type: ItemType
    stem: str
    options: tuple[str, ...]
    key: tuple[int, ...]
    explanation: str = ""
    requirements: tuple[str, ...] = ()
    difficulty: int | None = None
    author: str = ""
    source: str = ""
    enemy_group: str | None = None
    images: tuple[ItemImage, ...] = ()
    irt: IrtData | None = None
    location: str = ""

    @property
    def key_letters(self) -> str:
        if self.type is ItemType.TRUE_FALSE:
            return TRUE_FALSE_OPTIONS[self.key[0]] if self.key else ""
        return "".join(LETTERS[i] for i in self.key)

    def content(self) -> tuple:
        """What makes a new version when it changes: stem, options, key, explanation, tags, rating, images.
        (Author, source and enemy group belong to the item and are updated in place.)"""
        return (self.type.value, self.stem, self.options, self.key, self.explanation, self.requirements,
                self.difficulty, tuple((i.name, i.data) for i in self.images))


@dataclass(frozen=True)
class ItemProblem:
    field: str
    message: str


def parse_key(text: str, item_type: ItemType, n_options: int) -> tuple[tuple[int, ...], str | None]:
    """Parse a key as writers type it: "B", "ACD", "A,C,D", "A、C", and for 判断 正确/错误/对/错/√/×/T/F.

    Returns (indices, error message or None).
    """
    t = unicodedata.normalize("NFKC", str(text or "")).strip()
    if not t:
        return (), "答案不能为空"
    if item_type is ItemType.TRUE_FALSE:
        true_words = {"正确", "对", "是", "√", "✓", "T", "TRUE", "Y", "A"}
        false_words = {"错误", "错", "否", "×", "✗", "F", "FALSE", "N", "B"}
        up = t.upper()
        if up in true_words:
            return (0,), None
        if up in false_words:
            return (1,), None
        return (), f"判断题的答案应为“正确”或“错误”，实际为“{text}”"
    letters = re.sub(r"[\s,，、;；/]+", "", t).upper()
    if not re.fullmatch(r"[A-Z]+", letters):
        return (), f"答案应为选项字母（如 B 或 ACD），实际为“{text}”"
    valid = LETTERS[:n_options]
    bad = sorted({ch for ch in letters if ch not in valid})
    if bad:
        return (), f"答案中的 {''.join(bad)} 不在选项 {valid[0]}–{valid[-1]} 之中" if valid else "没有选项"
    if len(set(letters)) != len(letters):
        return (), f"答案“{text}”中有重复的字母"
    return tuple(sorted(LETTERS.index(ch) for ch in letters)), None


MAX_IRT_A = 10.0  # discriminations on the theta scale; beyond these bounds a value is a typo
MAX_IRT_B = 10.0


def check_item(item: ItemDraft) -> list[ItemProblem]:
    """Format-independent content checks (the catalog check is the service's)."""
    out: list[ItemProblem] = []
    if not item.external_id.strip():
        out.append(ItemProblem("题目编号", "题目编号不能为空"))
    elif len(item.external_id) > 64:
        out.append(ItemProblem("题目编号", "题目编号不能超过 64 个字符"))
    if not item.stem.strip():
        out.append(ItemProblem("题干", "题干不能为空"))
    if item.type is ItemType.TRUE_FALSE:
        if item.options != TRUE_FALSE_OPTIONS:
            out.append(ItemProblem("选项", "判断题的选项固定为“正确”“错误”"))
        if len(item.key) != 1:
            out.append(ItemProblem("答案", "判断题只能有一个答案"))
    else:
        n = len(item.options)
        if not 4 <= n <= 6:
            out.append(ItemProblem("选项", f"{item.type.value}题应有 4–6 个选项，实际为 {n} 个"))
        for i, opt in enumerate(item.options):
            if not opt.strip():
                out.append(ItemProblem(f"选项{LETTERS[i] if i < 6 else i + 1}", "选项内容不能为空"))
        normalised = [re.sub(r"\s+", "", unicodedata.normalize("NFKC", o)) for o in item.options]
        if len(set(normalised)) != len(normalised):
            out.append(ItemProblem("选项", "有内容相同的选项"))
        if any(k >= n for k in item.key):
            out.append(ItemProblem("答案", "答案不在选项之中"))
        if item.type is ItemType.SINGLE and len(item.key) != 1:
            out.append(ItemProblem("答案", f"单选题只能有一个正确答案，实际为 {len(item.key)} 个"))
        if item.type is ItemType.MULTIPLE and len(item.key) < 2:
            out.append(ItemProblem("答案", f"多选题至少应有 2 个正确答案，实际为 {len(item.key)} 个"))
    if not item.key:
        out.append(ItemProblem("答案", "答案不能为空"))
    if not item.requirements:
        out.append(ItemProblem("职业技能要求", "至少标注一个职业技能要求代码"))
    if item.difficulty is not None and item.difficulty not in (1, 2, 3, 4, 5):
        out.append(ItemProblem("难度", f"难度评级应为 1–5 的整数，实际为 {item.difficulty}"))
    if item.irt is not None:
        if not 0 < item.irt.a <= MAX_IRT_A:
            out.append(ItemProblem("区分度a", f"区分度 a 应大于 0、不超过 {MAX_IRT_A:g}"))
        if not -MAX_IRT_B <= item.irt.b <= MAX_IRT_B:  # NaN fails too
            out.append(ItemProblem("难度b", f"难度 b 应在 [-{MAX_IRT_B:g}, {MAX_IRT_B:g}] 之间"))
        if not 0 <= item.irt.c < 1:
            out.append(ItemProblem("猜测度c", "猜测度 c 应在 [0, 1) 之间"))
    names = {img.name for img in item.images}
    for ref in image_refs(item.stem):
        if ref not in names:
            out.append(ItemProblem("题干", f"题干引用的图片“{ref}”不在上传的文件中"))
    return out


IMAGE_REF_RE = re.compile(r"\[图片[:：]\s*([^\]\s]+)\s*\]")


def image_refs(text: str) -> list[str]:
    """Image references in a stem: ``[图片:chart.png]``."""
    return IMAGE_REF_RE.findall(text or "")


def split_images(text: str) -> list[tuple[str, str]]:
    """A stem as ("text", s) and ("image", name) parts, in order, for display."""
    parts: list[tuple[str, str]] = []
    pos = 0
    for m in IMAGE_REF_RE.finditer(text or ""):
        if m.start() > pos:
            parts.append(("text", text[pos:m.start()]))
        parts.append(("image", m.group(1)))
        pos = m.end()
    if pos < len(text or ""):
        parts.append(("text", text[pos:]))
    return parts


def normalise_text(text: str) -> str:
    """For near-duplicate detection: NFKC, no whitespace or punctuation, lower case."""
    t = unicodedata.normalize("NFKC", text or "").lower()
    return "".join(ch for ch in t if unicodedata.category(ch)[0] in "LN")
