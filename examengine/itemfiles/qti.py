"""QTI 2.1 and QTI 3.0 content packages: read them into ``ItemDraft``s, write them from ``ItemDraft``s.

A package is a zip with ``imsmanifest.xml`` (IMS Content Packaging) at its root, one XML file
per item and the item's pictures. Only choice items are supported: a ``choiceInteraction``
(QTI 3.0: ``qti-choice-interaction``) becomes 单选 (one correct value), 多选 (several, or
``cardinality="multiple"``) or 判断 (two choices reading 正确/错误, 对/错 or True/False; the
options are normalised to ("正确", "错误")). Any other interaction is a problem naming it.

Reading (``read_qti_package``)
------------------------------
* The version is taken from the resource types (``imsqti_item_xmlv2p1`` → "qti21", ``v2p0``
  and ``v2p2`` are read as 2.x too; ``imsqti_item_xmlv3p0`` → "qti30") and from each item's
  root element (``assessmentItem`` / ``qti-assessment-item``). Element namespaces are ignored
  (both ``imsqtiasi_v3p0``, the 1EdTech one, and ``imsqti_v3p0`` are accepted), and QTI 3.0's
  kebab-case ``qti-`` names are mapped onto the 2.1 names, so one parser reads both.
* Stem = the ``itemBody`` outside the interaction plus the interaction's ``prompt``, in
  document order, as plain text: ``p``/``div``/``li``/... end a line, ``br`` ends a line,
  inline markup is flattened, runs of XML white space collapse to one space, lines are
  stripped, an empty ``<p/>`` is a blank line, leading and trailing blank lines go
  (``canonical_text`` gives that form for any text). Rubric blocks, feedback blocks and
  inline feedback are left out. ``<img src>`` and image ``<object data>`` become
  ``[图片:name]`` (``name`` = the file's base name) and the file's bytes an ``ItemImage``;
  audio, video and other objects are problems (a plain-text stem cannot carry them).
* Options = each ``simpleChoice``'s text in order; key = the indices of the correct
  identifiers (``correctResponse``; failing that, ``mapping`` entries worth more than 0).
* Explanation = the text of the item's ``modalFeedback`` elements (QTI 3.0:
  ``qti-modal-feedback``/``qti-content-body``), joined by newlines.
* Nothing is ever fetched: XML is parsed with ``defusedxml`` (no DOCTYPE at all, hence no
  entity declarations and no external DTD; no external references), a reference outside the
  package is a problem, the zip is capped
  (``MAX_FILES`` entries, ``MAX_TOTAL_BYTES`` uncompressed) and names with ``..``, absolute
  paths, drive letters or backslashes are problems. Nothing is extracted to disk.

Metadata: how examengine's fields travel
----------------------------------------
Everything sits in the manifest, in each item resource's ``<metadata>`` (also in
``docs/qti.md``)::

    <resource identifier="I530046-L1-0001" type="imsqti_item_xmlv2p1" href="items/…/….xml">
      <metadata>
        <imsmd:lom>                                   xmlns:imsmd="http://ltsc.ieee.org/xsd/LOM"
          <imsmd:general><imsmd:identifier>
            <imsmd:catalog>examengine</imsmd:catalog><imsmd:entry>530046-L1-0001</imsmd:entry>
          </imsmd:identifier></imsmd:general>
          <imsmd:lifeCycle><imsmd:contribute>           (author, as a vCard FN)
          <imsmd:educational><imsmd:difficulty>         (1–5 = very easy … very difficult)
          <imsmd:classification>                        (one per requirement code, in order)
            <imsmd:purpose><imsmd:source>LOMv1.0</imsmd:source><imsmd:value>competency</imsmd:value></imsmd:purpose>
            <imsmd:taxonPath>
              <imsmd:source><imsmd:string language="zh-CN">1+X 职业技能要求</imsmd:string></imsmd:source>
              <imsmd:taxon><imsmd:id>530046-L1-1</imsmd:id></imsmd:taxon>          (domain)
              <imsmd:taxon><imsmd:id>530046-L1-1.1</imsmd:id></imsmd:taxon>        (task)
              <imsmd:taxon><imsmd:id>530046-L1-1.1.1</imsmd:id></imsmd:taxon>      (requirement: the code)
        </imsmd:lom>
        <ee:item xmlns:ee="urn:examengine:qti:1" version="1">
          <ee:difficulty>3</ee:difficulty> <ee:author>…</ee:author> <ee:source>…</ee:source>
          <ee:enemyGroup>…</ee:enemyGroup>
          <ee:irt model="3PL" a="1.2" b="-0.4" c="0.2" origin="provisional"/>
          <ee:image name="chart.png" mediaType="image/png"/>
        </ee:item>

* External id: LOM ``general/identifier`` with catalog ``examengine``; failing that the
  item's ``identifier`` attribute. The writer sets ``identifier`` to the external id when it
  is a valid ASCII NCName, else to a sanitised one (``530046-L1-0001`` → ``I530046-L1-0001``).
* Requirement codes: the last ``taxon/id`` of every ``taxonPath`` whose ``source`` mentions
  职业技能要求 or whose last id looks like a code (``530046-L1-1.1.1``). Items with none get
  ``default_requirements`` (and a warning); with no defaults either, a problem.
* ``ee:item`` wins over LOM for difficulty and author; ``ee:enemyGroup`` present but empty
  is ``""``, absent is ``None``.

Writing (``write_qti_package``)
-------------------------------
One ``items/<id>/<id>.xml`` per item, its pictures in ``items/<id>/images/``, the manifest
above; ``responseProcessing`` is the standard ``match_correct`` template (all or nothing);
the explanation is a ``modalFeedback`` with ``showHide="hide"`` on a ``FEEDBACK`` outcome
that is never set, i.e. shown after every response. Stems and explanations are written one
``<p>`` per line, option line breaks as ``<br/>``. ``read_qti_package(write_qti_package(x))``
gives back ``x`` with its texts in ``canonical_text`` form.
"""

from __future__ import annotations

import io
import mimetypes
import posixpath
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit
from xml.etree.ElementTree import Element, ParseError, SubElement, tostring

import defusedxml
import defusedxml.ElementTree as SafeET

from examengine.errors import Problem
from examengine.exam.items import (
    IMAGE_REF_RE,
    LETTERS,
    TRUE_FALSE_OPTIONS,
    IrtData,
    IrtModel,
    ItemDraft,
    ItemImage,
    ItemType,
    check_item,
)
from examengine.itemfiles import ParsedUpload
from examengine.itemfiles.bounds import MAX_XML_BYTES, MAX_XML_DEPTH, MAX_XML_ELEMENTS, zip_directory_problem
from examengine.itemfiles.pictures import MAX_PICTURE_BYTES

# -- names and limits

NS_QTI21 = "http://www.imsglobal.org/xsd/imsqti_v2p1"
NS_QTI30 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
NS_CP21 = "http://www.imsglobal.org/xsd/imscp_v1p1"
NS_CP30 = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
NS_LOM = "http://ltsc.ieee.org/xsd/LOM"
NS_QTIMD21 = "http://www.imsglobal.org/xsd/imsqti_metadata_v2p1"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_EXAMENGINE = "urn:examengine:qti:1"

MATCH_CORRECT_21 = "http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"
MATCH_CORRECT_30 = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml"
SCHEMA_ITEM_21 = f"{NS_QTI21} http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1.xsd"
SCHEMA_ITEM_30 = f"{NS_QTI30} https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd"
SCHEMA_CP_21 = (f"{NS_CP21} http://www.imsglobal.org/xsd/qti/qtiv2p1/qtiv2p1_imscpv1p2_v1p0.xsd "
                f"{NS_LOM} http://www.imsglobal.org/xsd/imsmd_loose_v1p3p2.xsd "
                f"{NS_QTIMD21} http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_metadata_v2p1.xsd")
SCHEMA_CP_30 = f"{NS_CP30} https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqtiv3p0_imscpv1p2_v1p0.xsd"

CATALOG = "examengine"
TAXON_SOURCE = "1+X 职业技能要求"
LOM_DIFFICULTY = ("very easy", "easy", "medium", "difficult", "very difficult")  # 1..5

MAX_FILES = 10_000
MAX_TOTAL_BYTES = 64 * 1024 * 1024  # decompressed, all members read: the XML caps plus the pictures' (pictures.py)

REQUIREMENT_CODE_RE = re.compile(r"\d{6}-L\d-\d+(?:\.\d+)*")
_XML_WS = re.compile(r"[ \t\r\n]+")
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]*")

_TRUE_WORDS = {"正确", "对", "是", "√", "✓", "TRUE", "T", "YES", "RIGHT"}
_FALSE_WORDS = {"错误", "错", "否", "×", "✗", "FALSE", "F", "NO", "WRONG"}

# Elements that end a line of text; elements whose content is never part of the text.
_BLOCK = {
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd", "blockquote",
    "pre", "table", "thead", "tbody", "tfoot", "tr", "caption", "hr", "address", "figure", "figcaption",
    "section", "article", "aside", "header", "footer", "nav", "prompt", "contentBody", "itemBody",
    "modalFeedback",
}
_SKIP = {
    "rubricBlock", "feedbackBlock", "feedbackInline", "templateBlock", "templateInline", "stylesheet",
    "script", "style", "source", "track", "printedVariable", "catalogInfo", "catalog",
}
_MEDIA = {"audio", "video", "iframe", "embed"}


def canonical_text(text: str) -> str:
    """The form in which the reader returns a text, and so what a written text reads back as.

    Image references become ``[图片:name]``; per line, runs of XML white space become one space
    and the line is stripped; leading and trailing blank lines are dropped.
    """
    text = IMAGE_REF_RE.sub(lambda m: f"[图片:{m.group(1)}]", text or "")
    lines = [_XML_WS.sub(" ", line).strip(" ") for line in text.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# reading


def read_qti_package(data: bytes, filename: str, *, default_requirements: tuple[str, ...] = ()) -> ParsedUpload:
    """Read a QTI 2.1 or 3.0 content package. Never raises for bad content: every problem
    (file, location = item identifier or the file inside the package, field, message) is in
    ``ParsedUpload.problems``."""
    defaults = tuple(dict.fromkeys(c.strip() for c in default_requirements if c and c.strip()))
    return _PackageReader(data, filename, defaults).run()


@dataclass
class _Resource:
    identifier: str
    version: str  # "2.1" / "3.0"
    href: str  # path inside the zip
    files: list[str]
    metadata: Element | None


@dataclass
class _Meta:
    external_id: str = ""
    requirements: tuple[str, ...] = ()
    difficulty: int | None = None
    author: str = ""
    source: str = ""
    enemy_group: str | None = None
    irt: IrtData | None = None
    image_types: dict[str, str] = field(default_factory=dict)
    issues: list[tuple[str, str]] = field(default_factory=list)  # (field, message), reported under the item


class _Unsafe(Exception):
    """An XML document was refused by defusedxml or did not parse."""


class _PackageReader:
    def __init__(self, data: bytes, filename: str, defaults: tuple[str, ...]) -> None:
        self.data = data
        self.filename = filename
        self.defaults = defaults
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.zip: zipfile.ZipFile | None = None
        self.members: dict[str, zipfile.ZipInfo] = {}
        self.cache: dict[str, bytes] = {}
        self.bytes_read = 0
        self.base = ""

    def problem(self, location: str, field: str, message: str) -> None:
        self.problems.append(Problem(self.filename, location, field, message))

    def warning(self, location: str, field: str, message: str) -> None:
        self.warnings.append(Problem(self.filename, location, field, message))

    def result(self, fmt: str, items=(), title: str = "") -> ParsedUpload:
        return ParsedUpload(self.filename, fmt, tuple(items), tuple(self.problems), title=title,
                            warnings=tuple(self.warnings))

    # -- the zip

    def open_zip(self) -> bool:
        too_big = zip_directory_problem(self.data, MAX_FILES)
        if too_big:
            self.problem("", "文件", too_big)
            return False
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(self.data))
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
            self.problem("", "文件", "不是 zip 格式的 QTI 内容包")
            return False
        if len(infos) > MAX_FILES:
            self.problem("", "文件", f"内容包中的文件过多（{len(infos)} 个，上限 {MAX_FILES} 个）")
            return False
        total = sum(i.file_size for i in infos)
        if total > MAX_TOTAL_BYTES:
            self.problem("", "文件", f"内容包解压后过大（{total // (1024 * 1024)} MB，上限 "
                                     f"{MAX_TOTAL_BYTES // (1024 * 1024)} MB）")
            return False
        for info in infos:
            name = info.filename
            if name.endswith("/"):
                continue
            if not _safe_name(name):
                self.problem(name, "文件", f"压缩包中的文件名“{name}”不安全（绝对路径或路径穿越），已拒绝")
                continue
            self.members[name] = info
        return True

    def read(self, path: str, limit: int | None = None) -> bytes | None:
        """A member's bytes, or None (missing or unreadable: the caller reports it). ``limit``: a
        member larger than this (as declared, or as read: a declared size may lie) is refused
        unread beyond the limit, and b"" is returned."""
        if path in self.cache:
            return self.cache[path]
        info = self.members.get(path)
        if info is None or self.zip is None:
            return None
        if limit is not None and info.file_size > limit:
            self.problem(path, "文件", f"“{path}”解压后为 {info.file_size / 1024 / 1024:.1f} MB，超过 "
                                     f"{limit / 1024 / 1024:.0f} MB 的上限，未读取")
            self.cache[path] = b""
            return b""
        budget = MAX_TOTAL_BYTES - self.bytes_read
        if limit is not None and limit < budget:
            budget = limit
            message = f"“{path}”解压后超过 {limit / 1024 / 1024:.0f} MB 的上限，已停止读取"
        else:
            message = "内容包解压后过大，已停止读取"
        try:
            with self.zip.open(info) as fh:
                body = fh.read(budget + 1)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, zlib.error, OSError, EOFError, ValueError):
            self.problem(path, "文件", f"无法读取压缩包中的“{path}”（损坏、加密或不支持的压缩方式）")
            self.cache[path] = b""
            return b""
        if len(body) > budget:
            self.problem(path, "文件", message)
            self.cache[path] = b""
            return b""
        self.bytes_read += len(body)
        self.cache[path] = body
        return body

    def parse_xml(self, path: str, body: bytes) -> Element | None:
        try:
            return _parse_xml(body)
        except _Unsafe as exc:
            self.problem(path, "文件", str(exc))
            return None

    # -- the package

    def run(self) -> ParsedUpload:
        if not self.open_zip():
            return self.result("qti")
        manifest_path = self.find_manifest()
        if manifest_path is None:
            self.problem("imsmanifest.xml", "文件", "内容包中没有 imsmanifest.xml")
            return self.result("qti")
        body = self.read(manifest_path)
        manifest = self.parse_xml(manifest_path, body or b"")
        if manifest is None:
            return self.result("qti")
        title = _lom_title(_child(manifest, "metadata"))
        resources = self.resources(manifest, manifest_path)
        if not resources:
            self.problem(manifest_path, "文件", "清单中没有 QTI 2.1 或 3.0 的题目资源（imsqti_item_xmlv2p1 / imsqti_item_xmlv3p0）")
        items: list[ItemDraft] = []
        versions: list[str] = []
        seen: dict[str, str] = {}
        for res in resources:
            parsed = self.item(res)
            if parsed is None:
                continue
            draft, version = parsed
            versions.append(version)
            if draft.external_id in seen:
                self.problem(draft.location, "题目编号",
                             f"题目编号“{draft.external_id}”在内容包中重复（{seen[draft.external_id]}、{res.href}）")
            else:
                seen[draft.external_id] = res.href
            items.append(draft)
        declared = [r.version for r in resources]
        all_versions = versions or declared
        if not all_versions:
            fmt = "qti"
        elif all(v == "3.0" for v in all_versions):
            fmt = "qti30"
        elif all(v == "2.1" for v in all_versions):
            fmt = "qti21"
        else:
            fmt = "qti30" if all_versions.count("3.0") > all_versions.count("2.1") else "qti21"
            self.warning(manifest_path, "文件", "内容包中混有 QTI 2.1 和 QTI 3.0 的题目")
        return self.result(fmt, items, title)

    def find_manifest(self) -> str | None:
        if "imsmanifest.xml" in self.members:
            return "imsmanifest.xml"
        # A folder zipped with its parent directory: one top-level folder holding the manifest.
        nested = [n for n in self.members if n.count("/") == 1 and n.endswith("/imsmanifest.xml")]
        if len(nested) == 1:
            self.base = nested[0][: -len("imsmanifest.xml")]
            return nested[0]
        return None

    def resolve(self, base_dir: str, href: str) -> str | None:
        """A reference (relative URI) as a path inside the zip, or None if it leaves the package."""
        parts = urlsplit(href.strip())
        if parts.scheme or parts.netloc or not parts.path or parts.path.startswith("/"):
            return None
        path = posixpath.normpath(posixpath.join(base_dir, unquote(parts.path)))
        if path.startswith("../") or path == ".." or path.startswith("/") or not _safe_name(path):
            return None
        return path

    def resources(self, manifest: Element, manifest_path: str) -> list[_Resource]:
        out: list[_Resource] = []
        for res in _descendants(manifest, "resource"):
            rtype = (res.get("type") or "").strip().lower()
            ident = (res.get("identifier") or "").strip()
            if not rtype.startswith("imsqti_item_xmlv"):
                if rtype.startswith("imsqti_xmlv1") or rtype.startswith("imsqti_item_xmlv1"):
                    self.problem(ident or manifest_path, "题型", "不支持 QTI 1.x 的题目，请导出为 QTI 2.1 或 3.0")
                continue
            version = "3.0" if rtype.startswith("imsqti_item_xmlv3") else "2.1"
            files: list[str] = []
            for f in _children(res, "file"):
                href = f.get("href") or ""
                path = self.resolve(self.base, href)
                if path is None:
                    self.problem(ident or manifest_path, "文件", f"清单中的文件引用“{href}”指向内容包之外，已拒绝")
                else:
                    files.append(path)
            href = (res.get("href") or "").strip()
            loc = ident or manifest_path
            if href:
                item_path = self.resolve(self.base, href)
                if item_path is None:
                    self.problem(loc, "文件", f"题目资源的 href“{href}”指向内容包之外，已拒绝")
                    continue
            elif files:
                item_path = files[0]
            else:
                self.problem(loc, "文件", "题目资源没有 href")
                continue
            out.append(_Resource(ident, version, item_path, files, _child(res, "metadata")))
        return out

    # -- one item

    def item(self, res: _Resource) -> tuple[ItemDraft, str] | None:
        body = self.read(res.href)
        if body is None:
            self.problem(res.href, "文件", f"清单引用的文件“{res.href}”不在内容包中")
            return None
        root = self.parse_xml(res.href, body)
        if root is None:
            return None
        _normalise(root)
        if root.tag not in ("assessmentItem",):
            self.problem(res.href, "文件", f"不是 QTI 题目文件（根元素为 {_original_name(root)}）")
            return None
        version = "3.0" if root.get("_qti3") else "2.1"
        meta = self.metadata(res)
        ident = (root.get("identifier") or "").strip()
        external_id = meta.external_id or ident or res.identifier
        loc = external_id or res.href
        for field_name, message in meta.issues:
            self.problem(loc, field_name, message)
        fatal: list[str] = []  # problems that leave no item to check further

        def problem(field: str, message: str) -> None:
            fatal.append(field)
            self.problem(loc, field, message)

        item_body = _child(root, "itemBody")
        if item_body is None:
            problem("题干", "题目没有 itemBody")
            return None
        interactions = [el for el in item_body.iter() if el.tag.endswith("Interaction")]
        for name in dict.fromkeys(_original_name(el) for el in interactions if el.tag != "choiceInteraction"):
            problem("题型", f"不支持的题型：{name}")
        choices = [el for el in interactions if el.tag == "choiceInteraction"]
        if not interactions:
            problem("题型", "题目中没有作答交互（choiceInteraction）")
        if len(choices) > 1:
            problem("题型", f"一道题只能有一个选择交互，实际有 {len(choices)} 个")
        if fatal:
            return None
        interaction = choices[0]

        images = _ImageCollector(self, res, loc, meta)
        media: list[str] = []
        stem = _text_of(item_body, images.ref, interaction=interaction, unsupported=media)
        simple = [c for c in interaction.iter() if c.tag == "simpleChoice"]
        ids = [(c.get("identifier") or "").strip() for c in simple]
        options = tuple(_text_of(c, images.ref, unsupported=media) for c in simple)
        feedback = [_text_of(fb, images.ref, unsupported=media) for fb in _children(root, "modalFeedback")]
        explanation = "\n".join(t for t in feedback if t)
        for tag in dict.fromkeys(media):
            self.problem(loc, "题干", f"不支持图片以外的媒体：{tag}")
        if len(set(ids)) != len(ids):
            problem("选项", "选项的 identifier 有重复")

        decl = None
        rid = (interaction.get("responseIdentifier") or "").strip()
        for d in _children(root, "responseDeclaration"):
            if (d.get("identifier") or "").strip() == rid:
                decl = d
        if decl is None:
            problem("答案", f"没有与作答交互对应的 responseDeclaration（{rid or '无 responseIdentifier'}）")
            return None
        cardinality = (decl.get("cardinality") or "single").strip()
        correct_el = _child(decl, "correctResponse")
        correct = [(v.text or "").strip() for v in _children(correct_el, "value")] if correct_el is not None else []
        if not correct:
            mapping = _child(decl, "mapping")
            for entry in _children(mapping, "mapEntry") if mapping is not None else []:
                try:
                    if float(entry.get("mappedValue") or 0) > 0:
                        correct.append((entry.get("mapKey") or "").strip())
                except ValueError:
                    pass
            if correct:
                self.warning(loc, "答案", "没有 correctResponse，按 mapping 中得分为正的选项作为答案")
        correct = list(dict.fromkeys(correct))
        if not correct:
            problem("答案", "没有标注正确答案（correctResponse）")
        for value in correct:
            if value not in ids:
                problem("答案", f"正确答案“{value}”不是任何选项的标识（选项为 {'、'.join(ids) or '无'}）")
        try:
            max_choices = int((interaction.get("maxChoices") or "1").strip())
        except ValueError:
            problem("题型", f"maxChoices 应为整数，实际为“{interaction.get('maxChoices')}”")
            max_choices = 1
        if len(correct) > 1 and (cardinality == "single" or max_choices == 1):
            problem("答案", f"只能选一个选项（cardinality={cardinality}，maxChoices={max_choices}），"
                            f"却有 {len(correct)} 个正确答案")
        if fatal:
            return None

        truth = [_truth_value(o) for o in options]
        if len(options) == 2 and set(truth) == {True, False}:
            item_type = ItemType.TRUE_FALSE
            key = tuple(sorted({0 if truth[ids.index(v)] else 1 for v in correct}))
            options = TRUE_FALSE_OPTIONS
        else:
            many = cardinality == "multiple" or max_choices != 1 or len(correct) > 1
            item_type = ItemType.MULTIPLE if many else ItemType.SINGLE
            key = tuple(sorted(ids.index(v) for v in correct))

        requirements = meta.requirements
        if not requirements:
            if self.defaults:
                requirements = self.defaults
                self.warning(loc, "职业技能要求", f"内容包未标注职业技能要求，已使用默认代码 {'、'.join(self.defaults)}")
            else:
                self.problem(loc, "职业技能要求", "缺少职业技能要求代码，请用 --requirement 指定")
        draft = ItemDraft(
            external_id=external_id, type=item_type, stem=stem, options=options, key=key,
            explanation=explanation, requirements=requirements, difficulty=meta.difficulty,
            author=meta.author, source=meta.source, enemy_group=meta.enemy_group,
            images=images.collect(), irt=meta.irt, location=loc,
        )
        for p in check_item(draft):
            if p.field == "职业技能要求" and not requirements:
                continue  # already said, with the way out
            if p.field == "题干" and any(f"“{name}”" in p.message for name in images.missing):
                continue  # already said, with the path inside the package
            self.problem(loc, p.field, p.message)
        return draft, version

    # -- metadata

    def metadata(self, res: _Resource) -> _Meta:
        meta = _Meta()
        md = res.metadata
        if md is None:
            return meta
        lom = next(_descendants(md, "lom"), None)
        if lom is not None:
            general = _child(lom, "general")
            for ident in _children(general, "identifier") if general is not None else []:
                if _text(_child(ident, "catalog")).strip() == CATALOG:
                    meta.external_id = _text(_child(ident, "entry")).strip()
            codes: list[str] = []
            for path in _descendants(lom, "taxonPath"):
                source = "".join(_child(path, "source").itertext()) if _child(path, "source") is not None else ""
                taxa = list(_children(path, "taxon"))
                if not taxa:
                    continue
                leaf = _text(_child(taxa[-1], "id")).strip()
                if leaf and ("职业技能要求" in source or REQUIREMENT_CODE_RE.fullmatch(leaf)):
                    codes.append(leaf)
            meta.requirements = tuple(dict.fromkeys(codes))
            for diff in _descendants(lom, "difficulty"):
                value = _text(_child(diff, "value")).strip().lower()
                if value in LOM_DIFFICULTY:
                    meta.difficulty = LOM_DIFFICULTY.index(value) + 1
            for contribute in _descendants(lom, "contribute"):
                role = _child(contribute, "role")
                if role is not None and _text(_child(role, "value")).strip().lower() == "author":
                    for entity in _children(contribute, "entity"):
                        name = _vcard_name(_text(entity))
                        if name and not meta.author:
                            meta.author = name
        ee = md.find(f"{{{NS_EXAMENGINE}}}item")
        if ee is not None:
            _examengine_metadata(ee, meta)
        return meta



def _examengine_metadata(ee: Element, meta: _Meta) -> None:
    """Read ``ee:item`` into ``meta`` (it wins over LOM)."""

    def el(name: str) -> Element | None:
        return ee.find(f"{{{NS_EXAMENGINE}}}{name}")

    if (d := el("difficulty")) is not None:
        try:
            meta.difficulty = int((d.text or "").strip())
        except ValueError:
            meta.issues.append(("难度", f"难度评级应为 1–5 的整数，实际为“{d.text}”"))
    if (a := el("author")) is not None:
        meta.author = a.text or ""
    if (s := el("source")) is not None:
        meta.source = s.text or ""
    if (e := el("enemyGroup")) is not None:
        meta.enemy_group = e.text or ""
    if (irt := el("irt")) is not None:
        try:
            meta.irt = IrtData(IrtModel(irt.get("model", "")), float(irt.get("a", "")), float(irt.get("b", "")),
                               float(irt.get("c") or 0.0), irt.get("origin") or "provisional")
        except ValueError:
            meta.issues.append(("IRT参数", f"IRT 参数应为 model（1PL/2PL/3PL）和数值 a、b、c，实际为 {dict(irt.attrib)}"))
    for img in ee.findall(f"{{{NS_EXAMENGINE}}}image"):
        if img.get("name") and img.get("mediaType"):
            meta.image_types[img.get("name")] = img.get("mediaType")


class _ImageCollector:
    """Pictures of one item: references in its text, plus image files its resource lists."""

    def __init__(self, reader: _PackageReader, res: _Resource, loc: str, meta: _Meta) -> None:
        self.reader = reader
        self.res = res
        self.loc = loc
        self.meta = meta
        self.item_dir = posixpath.dirname(res.href)
        self.paths: dict[str, str] = {}  # name -> path inside the zip
        self.hints: dict[str, str] = {}  # name -> media type given by <object type>
        self.order: list[str] = []
        self.missing: set[str] = set()
        self.alts: dict[str, str] = {}  # name -> the alt text of an <img> showing it

    def add(self, path: str, hint: str = "") -> str | None:
        name = re.sub(r"[\s\]]+", "_", posixpath.basename(path)) or "image"
        if name in self.paths and self.paths[name] != path:
            self.reader.problem(self.loc, "题干", f"两个不同的图片文件同名“{name}”（{self.paths[name]}、{path}）")
            return None
        if name not in self.paths:
            self.paths[name] = path
            self.order.append(name)
        if hint:
            self.hints[name] = hint
        return name

    def ref(self, src: str, hint: str = "", alt: str = "") -> str:
        """Called for each <img src>/<object data>: returns the placeholder to put in the text
        (an <img>'s ``alt`` is kept as the picture's description)."""
        src = (src or "").strip()
        path = self.reader.resolve(self.item_dir, src)
        if path is None:
            shown = src if len(src) <= 80 else src[:77] + "..."
            self.reader.problem(self.loc, "题干", f"图片“{shown}”不在内容包中（不读取包外地址或 data: 内嵌图片）")
            return ""
        name = self.add(path, hint)
        if name is None:
            return ""
        if alt and alt != name and not self.alts.get(name):  # an alt that is only the file name describes nothing
            self.alts[name] = alt
        if path not in self.reader.members:
            if name not in self.missing:
                self.missing.add(name)
                self.reader.problem(self.loc, "题干", f"引用的图片“{name}”（{path}）不在内容包中")
        return f"[图片:{name}]"

    def collect(self) -> tuple[ItemImage, ...]:
        """Images listed with the item's resource (in manifest order), then the other referenced ones."""
        referenced = list(self.order)
        order: list[str] = []
        for path in self.res.files:
            if path != self.res.href and _looks_like_image(path):
                name = self.add(path)
                if name is not None and name not in order:
                    order.append(name)
        order += [name for name in referenced if name not in order]
        out = []
        for name in order:
            path = self.paths[name]
            if name in self.missing:
                continue
            body = self.reader.read(path, limit=MAX_PICTURE_BYTES)
            if body is None:
                self.reader.warning(self.loc, "文件", f"清单列出的文件“{path}”不在内容包中")
                continue
            media_type = (self.meta.image_types.get(name) or self.hints.get(name)
                          or mimetypes.guess_type(name)[0] or "application/octet-stream")
            out.append(ItemImage(name, media_type, body, self.alts.get(name, "")))
        return tuple(out)


# -- XML helpers (reading)


def _parse_xml(body: bytes) -> Element:
    """Parse with defusedxml, refusing a document over ``MAX_XML_BYTES`` unread, and elements
    nested deeper than ``MAX_XML_DEPTH`` (the walks over the tree recurse) or more than
    ``MAX_XML_ELEMENTS`` as they arrive."""
    if len(body) > MAX_XML_BYTES:
        raise _Unsafe(f"XML 文件过大（{len(body) // (1024 * 1024)} MB，上限 {MAX_XML_BYTES // (1024 * 1024)} MB），已拒绝")
    try:
        root = None
        depth = elements = 0
        for event, el in SafeET.iterparse(io.BytesIO(body), events=("start", "end"), forbid_dtd=True,
                                          forbid_entities=True, forbid_external=True):
            if event == "start":
                depth += 1
                elements += 1
                if root is None:
                    root = el
                if depth > MAX_XML_DEPTH:
                    raise _Unsafe(f"XML 嵌套过深（上限 {MAX_XML_DEPTH} 层），已拒绝")
                if elements > MAX_XML_ELEMENTS:
                    raise _Unsafe(f"XML 元素过多（上限 {MAX_XML_ELEMENTS} 个），已拒绝")
            else:
                depth -= 1
        if root is None:
            raise _Unsafe("XML 格式错误：没有根元素")
    except defusedxml.DTDForbidden as exc:
        raise _Unsafe("XML 含有 DOCTYPE/DTD 声明（QTI 不用 DTD；可能是 XXE 或“十亿笑”实体膨胀攻击），已拒绝") from exc
    except defusedxml.EntitiesForbidden as exc:
        raise _Unsafe("XML 声明了实体（可能是 XXE 或“十亿笑”实体膨胀攻击），已拒绝") from exc
    except defusedxml.ExternalReferenceForbidden as exc:
        raise _Unsafe("XML 引用了外部资源，已拒绝") from exc
    except (defusedxml.DefusedXmlException, ParseError, ValueError) as exc:
        raise _Unsafe(f"XML 格式错误：{exc}") from exc
    return root


def _normalise(root: Element) -> Element:
    """Local names everywhere; ``qti-choice-interaction`` → ``choiceInteraction`` and its
    ``max-choices`` → ``maxChoices``. The root of a QTI 3.0 item gets the mark ``_qti3``."""
    qti3 = False
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.rsplit("}", 1)[-1]
        if tag.startswith("qti-"):
            qti3 = True
            el.set("_original", tag)
            tag = _camel(tag[4:])
            el.attrib = {(_camel(k) if "-" in k and not k.startswith("{") else k): v for k, v in el.attrib.items()}
        el.tag = tag
    if qti3:
        root.set("_qti3", "1")
    return root


def _camel(kebab: str) -> str:
    head, *rest = kebab.split("-")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def _kebab(camel: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "-" + m.group(1).lower(), camel)


def _original_name(el: Element) -> str:
    return el.get("_original") or el.tag


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(el: Element | None, name: str) -> Element | None:
    if el is None:
        return None
    return next((c for c in el if _local(c.tag) == name), None)


def _children(el: Element | None, name: str):
    return [] if el is None else [c for c in el if _local(c.tag) == name]


def _descendants(el: Element, name: str):
    return (c for c in el.iter() if _local(c.tag) == name)


def _text(el: Element | None) -> str:
    return "" if el is None else "".join(el.itertext())


def _lom_title(md: Element | None) -> str:
    if md is None:
        return ""
    lom = next(_descendants(md, "lom"), None)
    general = _child(lom, "general")
    title = _child(general, "title")
    return _text(title).strip()


def _vcard_name(vcard: str) -> str:
    for line in vcard.replace("\r", "\n").split("\n"):
        if line.strip().upper().startswith("FN:"):
            return line.strip()[3:].strip()
    return vcard.strip() if "BEGIN:VCARD" not in vcard.upper() else ""


def _truth_value(option: str) -> bool | None:
    t = unicodedata.normalize("NFKC", option).strip().rstrip("。.").upper()
    if t in _TRUE_WORDS:
        return True
    if t in _FALSE_WORDS:
        return False
    return None


def _looks_like_image(path: str) -> bool:
    return (mimetypes.guess_type(path)[0] or "").startswith("image/")


def _safe_name(name: str) -> bool:
    if not name or "\\" in name or "\x00" in name or name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return False
    return ".." not in name.split("/")


class _TextBuilder:
    """Plain text with lines from mixed HTML content (see the module docstring)."""

    def __init__(self, image: Callable[..., str]) -> None:
        self.image = image
        self.lines: list[str] = []
        self.cur: list[str] = []
        self.unsupported: list[str] = []  # media that plain text cannot carry (audio, video, …)

    def add(self, text: str | None) -> None:
        if text:
            self.cur.append(text)

    def end_line(self, force: bool = False) -> None:
        line = _XML_WS.sub(" ", "".join(self.cur)).strip(" ")
        self.cur = []
        if line or force:
            self.lines.append(line)

    def walk(self, el: Element, interaction: Element | None = None) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in _SKIP or not tag:
            return
        if tag == "br":
            self.end_line(force=True)
            return
        if tag == "img":
            self.add(self.image(el.get("src") or "", "", (el.get("alt") or "").strip()))
            return
        if tag == "object":
            hint = (el.get("type") or "").strip()
            data = el.get("data") or ""
            if hint.startswith("image/") or (not hint and _looks_like_image(data)):
                self.add(self.image(data, hint))
                return
            self.unsupported.append(f"<object type=\"{hint}\" data=\"{data}\">")
            return
        if tag in _MEDIA:
            self.unsupported.append(f"<{tag}>")
            return
        if el is interaction:
            for prompt in _children(el, "prompt"):
                self.walk(prompt)
            return
        if tag.endswith("Interaction"):
            return
        if tag in _BLOCK:
            self.end_line()
            before = len(self.lines)
            self.walk_children(el, interaction)
            self.end_line()
            if tag == "p" and len(self.lines) == before:
                self.lines.append("")  # an empty paragraph is a blank line
            return
        if tag in ("td", "th"):
            self.add(" ")
        self.walk_children(el, interaction)
        if tag in ("td", "th"):
            self.add(" ")

    def walk_children(self, el: Element, interaction: Element | None) -> None:
        self.add(el.text)
        for child in el:
            self.walk(child, interaction)
            self.add(child.tail)

    def result(self) -> str:
        self.end_line()
        lines = self.lines
        while lines and not lines[0]:
            lines.pop(0)
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines)


def _text_of(el: Element, image: Callable[..., str], interaction: Element | None = None,
             unsupported: list[str] | None = None) -> str:
    builder = _TextBuilder(image)
    builder.walk_children(el, interaction)
    if unsupported is not None:
        unsupported += builder.unsupported
    return builder.result()


# ---------------------------------------------------------------------------------------------
# writing


def write_qti_package(items: Sequence[ItemDraft], *, version: str, title: str = "") -> bytes:
    """A QTI 2.1 (``version="2.1"``) or 3.0 (``"3.0"``) content package of ``items``.

    Raises ``ValueError`` for what a package cannot carry: an unknown version, a text with
    characters XML forbids, an image reference without its image, an image name with a path.
    """
    if version not in ("2.1", "3.0"):
        raise ValueError(f"QTI 版本应为 2.1 或 3.0，实际为“{version}”")
    v3 = version == "3.0"
    used: set[str] = set()
    files: list[tuple[str, bytes]] = []
    resources = []
    for item in items:
        _check_writable(item)
        qid = _qti_identifier(item.external_id, used)
        folder = f"items/{qid}"
        href = f"{folder}/{qid}.xml"
        files.append((href, _item_xml(item, qid, v3)))
        image_paths = []
        for img in item.images:
            path = f"{folder}/images/{img.name}"
            files.append((path, img.data))
            image_paths.append(path)
        resources.append((item, qid, href, image_paths))
    manifest = _manifest_xml(resources, v3, title)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in [("imsmanifest.xml", manifest), *files]:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, body)
    return out.getvalue()


def _check_writable(item: ItemDraft) -> None:
    texts = [item.external_id, item.stem, item.explanation, item.author, item.source, item.enemy_group or "",
             *item.options, *item.requirements, *(i.name for i in item.images)]
    if item.irt is not None:
        texts.append(item.irt.origin)
    for t in texts:
        if _XML_ILLEGAL.search(t):
            raise ValueError(f"题目“{item.external_id}”含有 XML 不允许的控制字符")
    names = [i.name for i in item.images]
    for name in names:
        if "/" in name or "\\" in name or name in (".", "..") or not IMAGE_REF_RE.fullmatch(f"[图片:{name}]"):
            raise ValueError(f"题目“{item.external_id}”的图片名“{name}”不能用作文件名")
    if len(set(names)) != len(names):
        raise ValueError(f"题目“{item.external_id}”有同名的图片")
    for text in (item.stem, item.explanation, *item.options):
        for ref in IMAGE_REF_RE.findall(text):
            if ref not in names:
                raise ValueError(f"题目“{item.external_id}”引用的图片“{ref}”不在它的图片之中")


def _qti_identifier(external_id: str, used: set[str]) -> str:
    qid = re.sub(r"[^A-Za-z0-9._-]", "_", external_id) or "item"
    if not _NCNAME.fullmatch(qid):
        qid = "I" + qid
    base, n = qid, 2
    while qid.lower() in used:  # case-insensitive: the id is also a folder name
        qid = f"{base}_{n}"
        n += 1
    used.add(qid.lower())
    return qid


def _item_xml(item: ItemDraft, qid: str, v3: bool) -> bytes:
    def T(name: str) -> str:
        return "qti-" + _kebab(name) if v3 else name

    def A(name: str) -> str:
        return _kebab(name) if v3 else name

    stem = canonical_text(item.stem)
    first = IMAGE_REF_RE.sub("", stem.split("\n", 1)[0]).strip()
    title = (first[:40] + "…") if len(first) > 40 else (first or item.external_id)
    root = Element(T("assessmentItem"), {
        "xmlns": NS_QTI30 if v3 else NS_QTI21, "xmlns:xsi": NS_XSI,
        "xsi:schemaLocation": SCHEMA_ITEM_30 if v3 else SCHEMA_ITEM_21,
        "identifier": qid, "title": title, "adaptive": "false", A("timeDependent"): "false", "xml:lang": "zh-CN",
    })
    multiple = item.type is ItemType.MULTIPLE
    decl = SubElement(root, T("responseDeclaration"), {
        "identifier": "RESPONSE", "cardinality": "multiple" if multiple else "single", A("baseType"): "identifier"})
    correct = SubElement(decl, T("correctResponse"))
    for k in item.key:
        SubElement(correct, T("value")).text = LETTERS[k]
    score = SubElement(root, T("outcomeDeclaration"), {
        "identifier": "SCORE", "cardinality": "single", A("baseType"): "float"})
    SubElement(SubElement(score, T("defaultValue")), T("value")).text = "0"
    explanation = canonical_text(item.explanation)
    if explanation:
        SubElement(root, T("outcomeDeclaration"), {
            "identifier": "FEEDBACK", "cardinality": "single", A("baseType"): "identifier"})
    body = SubElement(root, T("itemBody"))
    alts = {i.name: i.alt for i in item.images if i.alt}
    _paragraphs(body, stem, alts)
    interaction = SubElement(body, T("choiceInteraction"), {
        A("responseIdentifier"): "RESPONSE", "shuffle": "false", A("maxChoices"): "0" if multiple else "1"})
    for i, option in enumerate(item.options):
        choice = SubElement(interaction, T("simpleChoice"), {"identifier": LETTERS[i]})
        for n, line in enumerate(canonical_text(option).split("\n")):
            if n:
                SubElement(choice, "br")
            _inline(choice, line, alts)
    SubElement(root, T("responseProcessing"), {"template": MATCH_CORRECT_30 if v3 else MATCH_CORRECT_21})
    if explanation:
        feedback = SubElement(root, T("modalFeedback"), {
            A("outcomeIdentifier"): "FEEDBACK", "identifier": "EXPLANATION", A("showHide"): "hide"})
        _paragraphs(SubElement(feedback, "qti-content-body") if v3 else feedback, explanation, alts)
    _indent(root, mixed={"p", T("simpleChoice")})
    return tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _paragraphs(parent: Element, text: str, alts: dict[str, str] | None = None) -> None:
    for line in text.split("\n") if text else []:
        _inline(SubElement(parent, "p"), line, alts)


def _inline(parent: Element, line: str, alts: dict[str, str] | None = None) -> None:
    """Append a line with ``[图片:name]`` references to ``parent`` as text and ``<img>`` children
    (``alt``: the picture's description, else its name as before)."""
    parts = IMAGE_REF_RE.split(line)
    _append_text(parent, parts[0])
    for i in range(1, len(parts), 2):
        SubElement(parent, "img", {"src": "images/" + quote(parts[i]), "alt": (alts or {}).get(parts[i]) or parts[i]})
        _append_text(parent, parts[i + 1])


def _append_text(parent: Element, text: str) -> None:
    if not text:
        return
    if len(parent):
        parent[-1].tail = (parent[-1].tail or "") + text
    else:
        parent.text = (parent.text or "") + text


def _indent(el: Element, mixed: set[str], level: int = 0) -> None:
    """Pretty-print element-only content; mixed content (paragraphs, choices) is left alone."""
    if el.tag in mixed or not len(el) or (el.text and el.text.strip()):
        return
    pad = "\n" + "  " * (level + 1)
    el.text = pad
    for child in el:
        _indent(child, mixed, level + 1)
        child.tail = pad
    el[-1].tail = "\n" + "  " * level


def _manifest_xml(resources, v3: bool, title: str) -> bytes:
    def md(name: str) -> str:
        return f"imsmd:{name}"

    def lang_string(parent: Element, text: str) -> None:
        SubElement(parent, md("string"), {"language": "zh-CN"}).text = text

    def vocabulary(parent: Element, name: str, value: str) -> None:
        el = SubElement(parent, md(name))
        SubElement(el, md("source")).text = "LOMv1.0"
        SubElement(el, md("value")).text = value

    attrs = {"xmlns": NS_CP30 if v3 else NS_CP21, "xmlns:imsmd": NS_LOM, "xmlns:ee": NS_EXAMENGINE,
             "xmlns:xsi": NS_XSI}
    if not v3:
        attrs["xmlns:imsqti"] = NS_QTIMD21
    attrs["xsi:schemaLocation"] = SCHEMA_CP_30 if v3 else SCHEMA_CP_21
    ids = "|".join(qid for _, qid, _, _ in resources)
    attrs["identifier"] = f"MANIFEST-{zlib.crc32(ids.encode('utf-8')):08x}"
    root = Element("manifest", attrs)
    meta = SubElement(root, "metadata")
    SubElement(meta, "schema").text = "QTI Package" if v3 else "QTIv2.1 Package"
    SubElement(meta, "schemaversion").text = "3.0.0" if v3 else "1.0.0"
    if title:
        lang_string(SubElement(SubElement(SubElement(meta, md("lom")), md("general")), md("title")), title)
    SubElement(root, "organizations")
    res_el = SubElement(root, "resources")
    for item, qid, href, image_paths in resources:
        res = SubElement(res_el, "resource", {
            "identifier": qid, "type": "imsqti_item_xmlv3p0" if v3 else "imsqti_item_xmlv2p1", "href": href})
        metadata = SubElement(res, "metadata")
        lom = SubElement(metadata, md("lom"))
        general = SubElement(lom, md("general"))
        ident = SubElement(general, md("identifier"))
        SubElement(ident, md("catalog")).text = CATALOG
        SubElement(ident, md("entry")).text = item.external_id
        if item.author:
            contribute = SubElement(SubElement(lom, md("lifeCycle")), md("contribute"))
            vocabulary(contribute, "role", "author")
            SubElement(contribute, md("entity")).text = (
                "BEGIN:VCARD\nVERSION:3.0\nFN:" + " ".join(item.author.split()) + "\nEND:VCARD")
        if item.difficulty in (1, 2, 3, 4, 5):
            vocabulary(SubElement(lom, md("educational")), "difficulty", LOM_DIFFICULTY[item.difficulty - 1])
        for code in item.requirements:
            classification = SubElement(lom, md("classification"))
            vocabulary(classification, "purpose", "competency")
            path = SubElement(classification, md("taxonPath"))
            lang_string(SubElement(path, md("source")), TAXON_SOURCE)
            for taxon_id in _taxa(code):
                SubElement(SubElement(path, md("taxon")), md("id")).text = taxon_id
        if not v3:
            qmd = SubElement(metadata, "imsqti:qtiMetadata")
            SubElement(qmd, "imsqti:interactionType").text = "choiceInteraction"
        ee = SubElement(metadata, "ee:item", {"version": "1"})
        if item.difficulty is not None:
            SubElement(ee, "ee:difficulty").text = str(item.difficulty)
        if item.author:
            SubElement(ee, "ee:author").text = item.author
        if item.source:
            SubElement(ee, "ee:source").text = item.source
        if item.enemy_group is not None:
            SubElement(ee, "ee:enemyGroup").text = item.enemy_group or None
        if item.irt is not None:
            SubElement(ee, "ee:irt", {"model": item.irt.model.value, "a": repr(float(item.irt.a)),
                                      "b": repr(float(item.irt.b)), "c": repr(float(item.irt.c)),
                                      "origin": item.irt.origin})
        for img in item.images:
            SubElement(ee, "ee:image", {"name": img.name, "mediaType": img.media_type})
        SubElement(res, "file", {"href": href})
        for path in image_paths:
            SubElement(res, "file", {"href": quote(path)})
    _indent(root, mixed=set())
    return tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _taxa(code: str) -> list[str]:
    """``530046-L2-1.3.4`` → the path 530046-L2-1, 530046-L2-1.3, 530046-L2-1.3.4 (domain, task,
    requirement); a code of another shape is a path of one."""
    m = re.fullmatch(r"(\d{6}-L\d-)(\d+(?:\.\d+)*)", code)
    if not m:
        return [code]
    parts = m.group(2).split(".")
    return [m.group(1) + ".".join(parts[: i + 1]) for i in range(len(parts))]
