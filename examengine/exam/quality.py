"""Item quality: the item-writing flaws a checker can see in the text, and the cues a
test-wise candidate uses to beat a bank without the skill.

Rules follow the item-writing literature: Haladyna, Downing & Rodriguez (2002), "A review of
multiple-choice item-writing guidelines for classroom assessment", Applied Measurement in
Education 15(3) (the 31 guidelines; numbers below as "HDR n"), and the NBME item-writing guide
(Paniagua & Swygert, 6th ed., 2016, ch. 2 "technical item flaws": testwiseness cues such as
the longest option, absolute terms, grammatical and word-repetition cues, "all of the above").

Everything here is pure: items in (``ItemDraft``), frozen dataclasses out. Lengths are counted
in characters with white space removed (a Chinese character and a Latin letter count one each).
Each rule's precision and recall on a labelled set are in docs/item-quality.md.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
from scipy import sparse

from examengine.exam.items import LETTERS, ItemDraft, ItemType

# -- word lists ------------------------------------------------------------------------------

# Absolute ("specific determiner") words: HDR 21 / NBME "absolute terms". Longest first so the
# regex reports the whole word.
ABSOLUTE_WORDS = (
    "只有", "只要", "仅仅", "一定", "必须", "必然", "肯定", "绝对", "完全", "全部", "所有", "一切", "任何",
    "一律", "凡是", "总是", "永远", "从不", "从来", "无需", "无须", "不需要", "不必", "一旦", "唯一", "毫无",
    "彻底", "绝不", "决不", "务必", "只", "仅",
)
# Hedging words: the qualified option that test-wise candidates pick as the key.
HEDGING_WORDS = (
    "在一定程度上", "视情况", "有助于", "可能", "一般", "通常", "往往", "有时", "适当", "大多", "多数", "尽量",
)
# Characters after which 只/仅 are not the absolute word (一只, 只读 ...) .
_ABSOLUTE_RE = re.compile("|".join(sorted(ABSOLUTE_WORDS, key=len, reverse=True)))
_NOT_ABSOLUTE = re.compile(r"一只|两只|几只|只读|仅供|不仅|不只")
_HEDGING_RE = re.compile("|".join(sorted(HEDGING_WORDS, key=len, reverse=True)))

# Negative question words (HDR 17: "word the stem positively, avoid negatives; if used,
# emphasise them"). Emphasis in examengine's plain-text items: the word inside 【】.
NEGATIVE_WORDS = ("不属于", "不正确", "不恰当", "不合理", "不符合", "不包括", "不应该", "不应", "不宜", "不能",
                  "不可以", "不是", "不需要", "不必要", "不利于", "不妥", "不可取", "错误的是", "错误的有",
                  "错误的一项", "无关", "除外")
_NEGATIVE_RE = re.compile("|".join(sorted(NEGATIVE_WORDS, key=len, reverse=True)))
_EMPHASIS_RE = re.compile(r"【[^】]*】")

# "All / none of the above" (HDR 25, 26).
_ALL_OF_ABOVE_RE = re.compile(r"以上(?:各项|选项|说法|做法)?(?:都|均|皆|全)|上述(?:各项|选项|说法|做法)?(?:都|均|皆|全)|全部正确|都正确|都不正确")

# English words that stand where Chinese was (the conversion slips the catalog corrected too).
# Established terms (App, KPI, ROI, H5 ...) are upper case or not in this list.
ENGLISH_SLIPS = frozenset("""
and or the of to in on for with from by at as is are be was were this that these those it its
content contents user users data video videos operation operations marketing platform product
products activity activities channel channels account accounts brand value service services
community communication management analysis report strategy team customer customers
""".split())
_WORD_RE = re.compile(r"(?<![A-Za-z])[A-Za-z]+(?![A-Za-z])")
# Lower-case tokens that are at home in Chinese text: units, file types, web words.
ALLOWED_WORDS = frozenset("""px dpi ppi fps kb mb gb tb ms kbps mbps hz khz mhz http https www com cn net org png jpg jpeg
gif webp mp3 mp4 mov avi pdf doc docx xls xlsx ppt pptx csv txt html css js json xml utm id ip ui ux vs wifi vlog app
logo""".split())
_LATIN_OR_DIGIT = re.compile(r"[A-Za-z0-9._/@#%-]")
_CJK_OR_PUNCT = re.compile(r"[\u3400-\u9fff，。、；：？！“”‘’（）《》【】]")
_CJK = "\u3400-\u9fff"
_HALF_WIDTH_RE = re.compile(rf"[{_CJK}][,;:?!()]|[,;:?!()][{_CJK}]")
_IMAGE_REF_RE = re.compile(r"\[图片:[^\]]*\]")
_NUMERIC_RE = re.compile(r"^[\d.,，%％‰+\-−×x÷/:：~～元万亿千百十个人次天小时分钟秒倍件单¥￥ ]+$")
_CJK_RUN_RE = re.compile(rf"[{_CJK}]+")
_STRIP_RE = re.compile(r"\s+")
_PUNCT_RE = re.compile(r"[\s，。、；：？！“”‘’（）《》【】「」,.;:?!()\"'\-—…·/]+")


class Severity(str, Enum):
    ERROR = "error"  # a defect: the item must not go live as it is
    WARNING = "warning"  # a likely flaw: a reviewer must look
    INFO = "info"  # a hint (suggested enemy pair)

    @property
    def label(self) -> str:
        return {"error": "错误", "warning": "警告", "info": "提示"}[self.value]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    title: str  # Chinese, for pages and reports
    source: str  # the guideline it implements


RULES: dict[str, Rule] = {r.id: r for r in (
    Rule("key-longest", Severity.WARNING, "正确答案明显最长", "HDR 23 (options similar in length); NBME: longest option"),
    Rule("absolute-uneven", Severity.WARNING, "绝对化/模糊限定词在正确与错误选项间分布不均",
         "HDR 21 (avoid specific determiners); NBME: absolute terms"),
    Rule("tf-absolute", Severity.WARNING, "判断题含绝对化词语且答案为“错误”", "HDR 21; NBME: absolute terms"),
    Rule("mr-few-wrong", Severity.ERROR, "多选题错误选项少于两个", "HDR 18 (plausible distractors), multiple response"),
    Rule("mr-all-keyed", Severity.ERROR, "多选题全部选项都是正确答案", "HDR 18; multiple response"),
    Rule("all-of-above", Severity.ERROR, "使用“以上都对/以上都不对”类选项", "HDR 25, 26"),
    Rule("negative-stem", Severity.WARNING, "否定式题干未加强调", "HDR 17 (word positively; emphasise negatives)"),
    Rule("stem-key-echo", Severity.WARNING, "题干词语只在正确答案中重复出现", "HDR 31 (clang associations); NBME: word repeats"),
    Rule("options-heterogeneous", Severity.WARNING, "选项长短或类别差异过大", "HDR 22, 23 (homogeneous options)"),
    Rule("english-leak", Severity.ERROR, "中文中夹杂英文单词", "editorial (conversion slips)"),
    Rule("half-width-punct", Severity.WARNING, "中文中使用半角标点", "editorial (GB/T 15834 标点符号用法)"),
    Rule("near-duplicate", Severity.WARNING, "与另一道题高度相似", "HDR 4 (independent items); enemy items"),
    Rule("enemy-suggest", Severity.INFO, "建议与另一道题设为互斥", "enemy items"),
    Rule("tag-overlap", Severity.WARNING, "题目内容与所标注的职业技能要求重合度过低", "content validity (blueprint tag)"),
)}

# Thresholds, measured on the labelled set and the sample bank (docs/item-quality.md).
LONGEST_RATIO = 1.4  # the key is longer than every distractor by this factor
LENGTH_SPREAD = 3.5  # longest option / shortest option
LENGTH_SPREAD_MIN = 10  # ... and at least this many characters apart
DUPLICATE_SCORE = 0.50  # TF-IDF cosine of the character bigrams of stem + options
SAME_LEVEL_DUPLICATE_ERROR = 0.65  # a clone in the same level without an enemy group is an error
ENEMY_SCORE = 0.24  # same level, not grouped: suggested as enemies
TAG_RANK = 10  # the tagged requirement is not among the 10 closest of its level ...
TAG_SIMILARITY = 0.06  # ... and its cosine similarity is below this


@dataclass(frozen=True)
class Finding:
    item: str
    rule: str
    severity: Severity
    message: str  # Chinese
    evidence: str

    @property
    def title(self) -> str:
        return RULES[self.rule].title


def _finding(item: ItemDraft | str, rule: str, message: str, evidence: str, severity: Severity | None = None) -> Finding:
    ident = item if isinstance(item, str) else item.external_id
    return Finding(ident, rule, severity or RULES[rule].severity, message, evidence)


# -- text features ---------------------------------------------------------------------------

def text_length(text: str) -> int:
    return len(_STRIP_RE.sub("", text))


def absolute_words(text: str) -> list[str]:
    """The absolute words in ``text`` (一只, 只读, 不仅 ... excluded)."""
    cleaned = _NOT_ABSOLUTE.sub("  ", text)
    return _ABSOLUTE_RE.findall(cleaned)


def hedging_words(text: str) -> list[str]:
    return _HEDGING_RE.findall(text)


def _bigrams(text: str) -> set[str]:
    t = _PUNCT_RE.sub("", text)
    return {t[i:i + 2] for i in range(len(t) - 1)}


def _cjk_bigrams(text: str) -> set[str]:
    return {run[i:i + 2] for run in _CJK_RUN_RE.findall(text) for i in range(len(run) - 1)}


# Bigrams too common in stems to be a cue when an option repeats them.
_ECHO_STOP = frozenset("""下列 以下 哪些 哪个 哪项 属于 正确 错误 说法 做法 的是 是的 应该 应当 最恰 恰当 合适 最合 可以 能够
需要 进行 选择 关于 其中 一个 这个 运营 用户 平台 内容 活动 数据 工作 某公司 公司 某个 人员 主要 方法 问题 不属 不正 不符""".split())


# -- per-item rules ---------------------------------------------------------------------------

def check_item_quality(item: ItemDraft) -> list[Finding]:
    """The rules that need only the item itself."""
    found: list[Finding] = []
    texts = [item.stem, *([] if item.type is ItemType.TRUE_FALSE else item.options), item.explanation]
    found += _english_leak(item, texts) + _half_width(item, texts)
    if item.type is ItemType.TRUE_FALSE:
        found += _tf_absolute(item)
        return found
    found += _all_of_above(item) + _negative_stem(item) + _key_longest(item) + _absolute_uneven(item)
    found += _stem_key_echo(item) + _heterogeneous(item)
    if item.type is ItemType.MULTIPLE:
        wrong = len(item.options) - len(item.key)
        if wrong == 0:
            found.append(_finding(item, "mr-all-keyed", "多选题的全部选项都是正确答案，考生全选即得分。",
                                  f"{len(item.options)} 个选项，答案 {item.key_letters}"))
        if wrong < 2:
            found.append(_finding(item, "mr-few-wrong", "多选题只有一个错误选项：找出它就能答对，请至少设两个有迷惑性的错误选项。",
                                  f"{len(item.options)} 个选项，答案 {item.key_letters}，错误选项 {wrong} 个"))
    return found


def english_words(text: str) -> list[str]:
    """English words standing in Chinese text: a known slip word (and, content ...) anywhere, or
    any lower-case word of two letters or more that stands alone between Chinese characters
    (so "How much" in 5W2H, file names, units and upper-case terms such as App or KPI pass)."""
    text = _IMAGE_REF_RE.sub("", text)
    out = []
    for m in _WORD_RE.finditer(text):
        w = m.group()
        if w.isupper() or w.lower() in ALLOWED_WORDS:
            continue
        if w.lower() in ENGLISH_SLIPS and not w[0].isupper():
            out.append(w)
            continue
        before = text[:m.start()].rstrip(" ")
        after = text[m.end():].lstrip(" ")
        alone = (not before or not _LATIN_OR_DIGIT.match(before[-1])) and (not after or not _LATIN_OR_DIGIT.match(after[0]))
        if w.islower() and len(w) >= 2 and alone and (before or after) and (
                not before or _CJK_OR_PUNCT.match(before[-1])) and (not after or _CJK_OR_PUNCT.match(after[0])):
            out.append(w)
    return out


def _english_leak(item: ItemDraft, texts: Sequence[str]) -> list[Finding]:
    words = sorted({w for t in texts for w in english_words(t)})
    if not words:
        return []
    return [_finding(item, "english-leak", f"中文中夹杂英文单词“{'、'.join(words)}”，应改为中文。", "、".join(words))]


def _half_width(item: ItemDraft, texts: Sequence[str]) -> list[Finding]:
    hits = [m.group() for t in texts for m in _HALF_WIDTH_RE.finditer(_IMAGE_REF_RE.sub("", t))]
    if not hits:
        return []
    return [_finding(item, "half-width-punct", "中文中使用了半角标点，应改为全角（，；：？！（））。",
                     " ".join(dict.fromkeys(hits)))]


def _tf_absolute(item: ItemDraft) -> list[Finding]:
    words = absolute_words(item.stem)
    if words and item.key == (1,):
        return [_finding(item, "tf-absolute",
                         f"陈述含绝对化词语“{'、'.join(dict.fromkeys(words))}”且答案为“错误”：考生凭“绝对即错”即可猜对。"
                         "请让错误陈述错在实质内容上，或换成正确的绝对化陈述。", "、".join(dict.fromkeys(words)))]
    return []


def _all_of_above(item: ItemDraft) -> list[Finding]:
    hits = [f"{LETTERS[i]}. {o}" for i, o in enumerate(item.options) if _ALL_OF_ABOVE_RE.search(o)]
    if not hits:
        return []
    return [_finding(item, "all-of-above", "选项中有“以上都对/以上都不对”一类的说法：考生凭部分知识即可判断，请改为独立的选项。",
                     "；".join(hits))]


def _question_clause(stem: str) -> str:
    """The asking part of a stem: its last sentence or clause."""
    body = stem.strip()
    body = re.sub(r"[（(][\s\u3000]*[）)]\s*[。？?]?$", "", body)
    parts = re.split(r"[。？！?!\n]", body.rstrip("。？！?! "))
    last = parts[-1] if parts else body
    clauses = re.split(r"[，,；;：:]", last)
    return "，".join(clauses[-2:]) if len(clauses) > 1 else last


def _negative_stem(item: ItemDraft) -> list[Finding]:
    asking = _question_clause(item.stem)
    bare = _EMPHASIS_RE.sub("", asking)
    words = _NEGATIVE_RE.findall(bare)
    if not words:
        return []
    return [_finding(item, "negative-stem", f"否定式提问“{words[0]}”没有强调，考生容易看漏：请改为肯定式，或写成【{words[0]}】。",
                     asking)]


def _key_longest(item: ItemDraft) -> list[Finding]:
    lengths = [text_length(o) for o in item.options]
    keyed = [lengths[i] for i in item.key]
    wrong = [n for i, n in enumerate(lengths) if i not in item.key]
    if not wrong or not keyed:
        return []
    if min(keyed) > max(wrong) and min(keyed) >= LONGEST_RATIO * max(wrong):
        what = "正确答案" if len(keyed) == 1 else "每个正确选项都"
        return [_finding(item, "key-longest",
                         f"{what}明显长于所有错误选项（{min(keyed)} 字对 {max(wrong)} 字）：考生选最长的就能答对。"
                         "请把错误选项写得同样具体，或精简答案。",
                         f"答案 {item.key_letters} 长 {'/'.join(map(str, keyed))}，错误选项最长 {max(wrong)}")]
    return []


def _absolute_uneven(item: ItemDraft) -> list[Finding]:
    abs_key = [i for i in item.key if absolute_words(item.options[i])]
    abs_wrong = [i for i in range(len(item.options)) if i not in item.key and absolute_words(item.options[i])]
    hedge_key = [i for i in item.key if hedging_words(item.options[i])]
    hedge_wrong = [i for i in range(len(item.options)) if i not in item.key and hedging_words(item.options[i])]
    out = []
    if abs_wrong and not abs_key:
        words = "、".join(dict.fromkeys(w for i in abs_wrong for w in absolute_words(item.options[i])))
        out.append(_finding(item, "absolute-uneven",
                            f"绝对化词语（{words}）只出现在错误选项中：考生凭“绝对即错”即可排除。",
                            "错误选项 " + "".join(LETTERS[i] for i in abs_wrong) + f"：{words}"))
    elif hedge_key and not hedge_wrong:
        words = "、".join(dict.fromkeys(w for i in hedge_key for w in hedging_words(item.options[i])))
        out.append(_finding(item, "absolute-uneven",
                            f"模糊限定词（{words}）只出现在正确答案中：考生凭“留有余地即对”即可猜中。",
                            "答案 " + "".join(LETTERS[i] for i in hedge_key) + f"：{words}"))
    return out


def _stem_key_echo(item: ItemDraft) -> list[Finding]:
    stem = _cjk_bigrams(_EMPHASIS_RE.sub("", item.stem)) - _ECHO_STOP
    wrong = set().union(*(_cjk_bigrams(o) for i, o in enumerate(item.options) if i not in item.key))
    echoed: set[str] = set()
    for i in item.key:
        echoed |= (_cjk_bigrams(item.options[i]) & stem) - wrong
    if len(item.key) > 1 or len(echoed) < 2:
        return []
    # at least two echoed bigrams that are not merely both halves of a common word
    shared = sorted(echoed)
    return [_finding(item, "stem-key-echo",
                     f"题干中的词语（{'、'.join(shared[:4])}）只在正确答案中重复出现：考生凭字面对应即可选中。",
                     "、".join(shared))]


def _heterogeneous(item: ItemDraft) -> list[Finding]:
    options = [o for o in item.options if not _ALL_OF_ABOVE_RE.search(o)]  # that one has its own rule
    if len(options) < 2:
        return []
    lengths = [text_length(o) for o in options]
    numeric = [bool(_NUMERIC_RE.match(o.strip())) for o in options]
    if any(numeric) and not all(numeric):
        return [_finding(item, "options-heterogeneous", "选项类别不一致（有的是数字，有的是文字）。",
                         "数字选项 " + "".join(LETTERS[i] for i, n in enumerate(numeric) if n))]
    lo, hi = min(lengths), max(lengths)
    if lo and hi >= LENGTH_SPREAD * lo and hi - lo >= LENGTH_SPREAD_MIN:
        return [_finding(item, "options-heterogeneous", f"选项长短差异过大（最短 {lo} 字，最长 {hi} 字）。",
                         "/".join(map(str, lengths)))]
    return []


# -- rules over a set of items ----------------------------------------------------------------

@dataclass(frozen=True)
class SimilarPair:
    a: str
    b: str
    score: float  # TF-IDF cosine of the character bigrams of stem + options


def _item_text(item: ItemDraft) -> str:
    return item.stem + "".join(item.options if item.type is not ItemType.TRUE_FALSE else ())


def similar_pairs(items: Sequence[ItemDraft], threshold: float, *, among: Sequence[ItemDraft] = ()) -> list[SimilarPair]:
    """Pairs of items whose texts (stem + options, punctuation removed) have a TF-IDF cosine
    similarity >= ``threshold``: binary character-bigram vectors weighted by
    idf = ln(N / df) + 1 over the N items compared, so rare shared phrases (渠道二维码, 带参数)
    weigh more than the words every item uses (运营, 用户). Pairs within ``items`` and between
    ``items`` and ``among`` (the bank they join); never two items of ``among``."""
    ids = {i.external_id for i in items}
    everyone = list(items) + [x for x in among if x.external_id not in ids]
    if len(everyone) < 2:
        return []
    grams = [_bigrams(_item_text(i)) for i in everyone]
    df = Counter(g for gs in grams for g in gs)
    vocab = {g: k for k, g in enumerate(df)}
    idf = np.log(len(everyone) / np.array([df[g] for g in vocab], dtype=float)) + 1.0
    rows = np.repeat(np.arange(len(everyone)), [len(gs) for gs in grams])
    cols = np.fromiter((vocab[g] for gs in grams for g in gs), dtype=np.int64, count=len(rows))
    x = sparse.csr_matrix((idf[cols], (rows, cols)), shape=(len(everyone), len(vocab)))
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    x = sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ x
    n = len(items)
    score = (x[:n] @ x.T).tocoo()  # sparse: only pairs that share a bigram
    keep = (score.data >= threshold) & ~((score.col <= score.row) & (score.col < n))
    pairs = [SimilarPair(everyone[r].external_id, everyone[c].external_id, round(float(v), 3))
             for r, c, v in zip(score.row[keep], score.col[keep], score.data[keep])]
    return sorted(pairs, key=lambda p: -p.score)


def _level(external_id: str, requirements: Sequence[str]) -> str:
    if requirements:
        return requirements[0].rsplit("-", 1)[0]
    return external_id.rsplit("-", 1)[0]


def duplicate_findings(items: Sequence[ItemDraft], *, among: Sequence[ItemDraft] = ()) -> list[Finding]:
    """near-duplicate (both directions named) and enemy-suggest findings for ``items``."""
    by_id = {i.external_id: i for i in (*among, *items)}
    own = {i.external_id for i in items}
    found = []
    for p in similar_pairs(items, ENEMY_SCORE, among=among):
        a, b = by_id[p.a], by_id[p.b]
        grouped = a.enemy_group is not None and a.enemy_group == b.enemy_group
        same_level = _level(a.external_id, a.requirements) == _level(b.external_id, b.requirements)
        if p.score >= DUPLICATE_SCORE and not grouped:
            severity = Severity.ERROR if same_level and p.score >= SAME_LEVEL_DUPLICATE_ERROR else Severity.WARNING
            where = "同一级别" if same_level else "跨级别/标准"
            for x, y in ((a, b), (b, a)):
                if x.external_id in own:
                    found.append(_finding(x, "near-duplicate",
                                          f"与 {y.external_id} 高度相似（{where}，相似度 {p.score:.2f}）：请改写其一，或设为同一互斥组。",
                                          f"{y.external_id} {p.score:.3f}", severity))
        elif not grouped and same_level and p.score < DUPLICATE_SCORE:
            for x, y in ((a, b), (b, a)):
                if x.external_id in own:
                    found.append(_finding(x, "enemy-suggest", f"与 {y.external_id} 内容相近（相似度 {p.score:.2f}），建议设为同一互斥组。",
                                          f"{y.external_id} {p.score:.3f}"))
    return found


@dataclass(frozen=True)
class TagFit:
    item: str
    requirement: str
    similarity: float  # cosine of TF-IDF character-bigram vectors
    rank: int  # 1 = the tagged requirement is the closest of its level


def tag_fit(items: Sequence[ItemDraft], requirement_texts: Mapping[str, str]) -> list[TagFit]:
    """How well each item's text matches the requirement it is tagged to.

    Vectors: TF-IDF over character bigrams (Chinese has no spaces; bigrams are the usual unit
    of Chinese retrieval), idf = ln(N / df) over the requirement texts; the item vector is its
    stem, options and explanation. ``rank`` counts the requirements of the same level (the
    code's prefix) whose cosine with the item is at least the tagged one's."""
    codes = list(requirement_texts)
    if not codes:
        return []
    docs = [_cjk_bigrams(requirement_texts[c]) for c in codes]
    df = Counter(g for d in docs for g in d)
    n = len(codes)
    vocab = {g: k for k, g in enumerate(df)}
    idf = np.log(n / np.array([df[g] for g in vocab], dtype=float)) + 1.0

    def matrix(sets: list[set[str]]) -> sparse.csr_matrix:
        rows = np.repeat(np.arange(len(sets)), [sum(g in vocab for g in s) for s in sets])
        cols = np.fromiter((vocab[g] for s in sets for g in s if g in vocab), dtype=np.int64, count=len(rows))
        m = sparse.csr_matrix((idf[cols], (rows, cols)), shape=(len(sets), len(vocab)))
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        return sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ m

    index = {c: k for k, c in enumerate(codes)}
    tagged_items = [(item, [c for c in item.requirements if c in index]) for item in items]
    tagged_items = [(item, tags) for item, tags in tagged_items if tags]
    if not tagged_items:
        return []
    sims = (matrix([_cjk_bigrams(i.stem + "".join(i.options) + i.explanation) for i, _ in tagged_items])
            @ matrix(docs).T).toarray()  # items x requirements
    level_of = np.array([c.rsplit("-", 1)[0] for c in codes])
    out = []
    for row, (item, tagged) in zip(sims, tagged_items):
        best = max(tagged, key=lambda c: row[index[c]])
        same = level_of == best.rsplit("-", 1)[0]
        rank = int(np.sum(row[same] >= row[index[best]] - 1e-12))
        out.append(TagFit(item.external_id, best, round(float(row[index[best]]), 3), rank))
    return out


def tag_findings(items: Sequence[ItemDraft], requirement_texts: Mapping[str, str]) -> list[Finding]:
    return [_finding(f.item, "tag-overlap",
                     f"题目文字与所标注的 {f.requirement} 重合很少（相似度 {f.similarity:.2f}，在本级别要求中排第 {f.rank}）："
                     "请确认标注是否正确。", f"{f.requirement} cos={f.similarity:.3f} rank={f.rank}")
            for f in tag_fit(items, requirement_texts) if f.rank > TAG_RANK and f.similarity < TAG_SIMILARITY]


def check_items(items: Sequence[ItemDraft], *, requirement_texts: Mapping[str, str] | None = None,
                among: Sequence[ItemDraft] = ()) -> list[Finding]:
    """Every rule over ``items``: the per-item ones, near-duplicates within ``items`` and against
    ``among`` (the bank), and the tag check when the requirement texts are given."""
    found = [f for i in items for f in check_item_quality(i)]
    found += duplicate_findings(items, among=among)
    if requirement_texts:
        found += tag_findings(items, requirement_texts)
    order = {i.external_id: k for k, i in enumerate(items)}
    severity = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    return sorted(found, key=lambda f: (order.get(f.item, len(order)), severity[f.severity], f.rule))


# -- bank cues: what a test-wise candidate scores -------------------------------------------

@dataclass(frozen=True)
class CueScore:
    strategy: str  # id
    title: str  # Chinese
    item_type: ItemType
    items: int
    score: float  # expected proportion correct with the strategy
    chance: float  # expected proportion correct by blind guessing


def _chance(item: ItemDraft) -> float:
    n = len(item.options)
    if item.type is ItemType.MULTIPLE:
        return 1.0 / (2 ** n - n - 1)  # any set of two or more options
    return 1.0 / n


def _longest_credit(item: ItemDraft) -> float:
    lengths = [text_length(o) for o in item.options]
    top = [i for i, n in enumerate(lengths) if n == max(lengths)]
    return 1.0 / len(top) if item.key[0] in top else 0.0


def _absolute_false(item: ItemDraft) -> float:
    guess = 1 if absolute_words(item.stem) else 0  # 1 = 错误
    return 1.0 if item.key == (guess,) else 0.0


def _mr_cue_set(item: ItemDraft) -> tuple[int, ...]:
    """Select the options without an absolute word; with a hedging word first if fewer than two
    remain; never fewer than two (then the two longest)."""
    chosen = [i for i, o in enumerate(item.options) if not absolute_words(o)]
    if len(chosen) == len(item.options):  # no absolute word: drop the shortest option
        lengths = [text_length(o) for o in item.options]
        chosen.remove(min(chosen, key=lambda i: (lengths[i], -i)))
    if len(chosen) < 2:
        lengths = [text_length(o) for o in item.options]
        chosen = sorted(sorted(range(len(item.options)), key=lambda i: -lengths[i])[:2])
    return tuple(sorted(chosen))


def _mr_longer_half(item: ItemDraft) -> tuple[int, ...]:
    lengths = [text_length(o) for o in item.options]
    median = float(np.median(lengths))
    chosen = [i for i, n in enumerate(lengths) if n >= median]
    if len(chosen) < 2:
        chosen = sorted(range(len(lengths)), key=lambda i: -lengths[i])[:2]
    return tuple(sorted(chosen))


def cue_scores(items: Sequence[ItemDraft]) -> list[CueScore]:
    """The score of each test-wise strategy on ``items`` (no knowledge used), with chance."""
    single = [i for i in items if i.type is ItemType.SINGLE]
    multiple = [i for i in items if i.type is ItemType.MULTIPLE]
    tf = [i for i in items if i.type is ItemType.TRUE_FALSE]
    out: list[CueScore] = []

    def add(strategy: str, title: str, kind: ItemType, group: Sequence[ItemDraft], credit) -> None:
        if group:
            out.append(CueScore(strategy, title, kind, len(group),
                                round(float(np.mean([credit(i) for i in group])), 4),
                                round(float(np.mean([_chance(i) for i in group])), 4)))

    add("longest", "选最长的选项", ItemType.SINGLE, single, _longest_credit)
    add("shortest-excluded", "排除最短的选项后随机选", ItemType.SINGLE, single, _not_shortest_credit)
    add("hedge-or-no-absolute", "选不含绝对化词语（优先含模糊限定词）的选项", ItemType.SINGLE, single, _hedge_credit)
    for k, letter in enumerate(LETTERS[:4]):
        add(f"always-{letter}", f"总选 {letter}", ItemType.SINGLE, single,
            lambda i, k=k: 1.0 if i.key == (k,) else 0.0)
    add("absolute-false", "有绝对化词语判“错误”，否则判“正确”", ItemType.TRUE_FALSE, tf, _absolute_false)
    add("absolute-true", "有绝对化词语判“正确”，否则判“错误”（反向线索）", ItemType.TRUE_FALSE, tf,
        lambda i: 1.0 - _absolute_false(i))
    add("always-false", "总判“错误”", ItemType.TRUE_FALSE, tf, lambda i: 1.0 if i.key == (1,) else 0.0)
    add("always-true", "总判“正确”", ItemType.TRUE_FALSE, tf, lambda i: 1.0 if i.key == (0,) else 0.0)
    add("cue-words", "选不含绝对化词语的选项（都不含时去掉最短的）", ItemType.MULTIPLE, multiple,
        lambda i: 1.0 if _mr_cue_set(i) == i.key else 0.0)
    add("longer-half", "选长度不低于中位数的选项", ItemType.MULTIPLE, multiple,
        lambda i: 1.0 if _mr_longer_half(i) == i.key else 0.0)
    add("first-three", "总选前三项（ABC）", ItemType.MULTIPLE, multiple, lambda i: 1.0 if i.key == (0, 1, 2) else 0.0)
    return out


def _not_shortest_credit(item: ItemDraft) -> float:
    lengths = [text_length(o) for o in item.options]
    rest = [i for i, n in enumerate(lengths) if n != min(lengths)] or list(range(len(lengths)))
    return 1.0 / len(rest) if item.key[0] in rest else 0.0


def _hedge_credit(item: ItemDraft) -> float:
    hedged = [i for i, o in enumerate(item.options) if hedging_words(o) and not absolute_words(o)]
    plain = [i for i, o in enumerate(item.options) if not absolute_words(o)]
    pool = hedged or plain or list(range(len(item.options)))
    return 1.0 / len(pool) if item.key[0] in pool else 0.0


def key_positions(items: Sequence[ItemDraft]) -> dict[str, int]:
    """How often each letter is the key of a 单选 item."""
    counts = Counter(LETTERS[i.key[0]] for i in items if i.type is ItemType.SINGLE)
    return {letter: counts.get(letter, 0) for letter in LETTERS[:max((len(i.options) for i in items
                                                                     if i.type is ItemType.SINGLE), default=4)]}


# -- measuring the rules ----------------------------------------------------------------------

@dataclass(frozen=True)
class RuleScore:
    rule: str
    flawed: int  # items a person labelled with the flaw
    flagged: int  # items the rule flagged
    true_positives: int

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.flagged if self.flagged else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / self.flawed if self.flawed else None


#: The rules measured on a labelled set (the tag check needs the catalog, enemy-suggest is a hint).
MEASURED_RULES = tuple(r for r in RULES if r not in ("tag-overlap", "enemy-suggest"))


def measure_rules(items: Sequence[ItemDraft], labels: Mapping[str, set[str]]) -> list[RuleScore]:
    """Precision and recall of each rule against people's labels (item id -> the flaws it has)."""
    flagged: dict[str, set[str]] = {i.external_id: set() for i in items}
    for f in check_items(items):
        flagged[f.item].add(f.rule)
    out = []
    for rule in MEASURED_RULES:
        labelled = {i for i, flaws in labels.items() if rule in flaws}
        hits = {i for i, rules in flagged.items() if rule in rules}
        out.append(RuleScore(rule, len(labelled), len(hits), len(labelled & hits)))
    return out
