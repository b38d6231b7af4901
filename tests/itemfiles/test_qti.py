"""QTI 2.1 / 3.0 content packages: other tools' exports import, our exports read back, and
malicious or broken packages become problems, never crashes or file reads."""

from __future__ import annotations

import io
import mimetypes
import zipfile
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from examengine.exam.items import TRUE_FALSE_OPTIONS, IrtData, IrtModel, ItemDraft, ItemImage, ItemType
from examengine.itemfiles import detect_format
from examengine.itemfiles import qti
from examengine.itemfiles.qti import canonical_text, read_qti_package, write_qti_package

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "qti"
CODES = ("530046-L1-1.1.1",)


def zip_dir(folder: Path, prefix: str = "") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return out.getvalue()


def zip_files(files: dict[str, bytes | str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, body in files.items():
            zf.writestr(name, body.encode("utf-8") if isinstance(body, str) else body)
    return out.getvalue()


def manifest(*hrefs: str, version: str = "2.1") -> str:
    rtype = "imsqti_item_xmlv3p0" if version == "3.0" else "imsqti_item_xmlv2p1"
    resources = "".join(
        f'<resource identifier="R{n}" type="{rtype}" href="{href}"><file href="{href}"/></resource>'
        for n, href in enumerate(hrefs))
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            f'<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" identifier="M">'
            f'<organizations/><resources>{resources}</resources></manifest>')


def item21(body: str, *, identifier: str = "q1", correct: tuple[str, ...] = ("B",), cardinality: str = "single") -> str:
    values = "".join(f"<value>{v}</value>" for v in correct)
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            f'<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="{identifier}" '
            'title="t" adaptive="false" timeDependent="false">'
            f'<responseDeclaration identifier="RESPONSE" cardinality="{cardinality}" baseType="identifier">'
            f'<correctResponse>{values}</correctResponse></responseDeclaration>'
            f'<itemBody>{body}</itemBody></assessmentItem>')


CHOICES = ('<choiceInteraction responseIdentifier="RESPONSE" maxChoices="1"><prompt>哪一个？</prompt>'
           '<simpleChoice identifier="A">甲</simpleChoice><simpleChoice identifier="B">乙</simpleChoice>'
           '<simpleChoice identifier="C">丙</simpleChoice><simpleChoice identifier="D">丁</simpleChoice>'
           '</choiceInteraction>')


def one_item_package(body: str = CHOICES, extra: dict[str, bytes | str] | None = None, **kw) -> bytes:
    return zip_files({"imsmanifest.xml": manifest("items/q1.xml"), "items/q1.xml": item21(body, **kw), **(extra or {})})


def read(data: bytes, **kw):
    return read_qti_package(data, "upload.zip", **kw)


def strip_location(item: ItemDraft) -> ItemDraft:
    return replace(item, location="")


PNG = (FIXTURES / "tao21" / "items" / "i1001" / "assets" / "chart.png").read_bytes()


# -- other tools' packages


def test_a_tao_style_qti21_package_imports_with_the_default_requirements():
    result = read(zip_dir(FIXTURES / "tao21"), default_requirements=CODES)

    assert result.problems == ()
    assert result.format == "qti21"
    single, multiple, true_false = result.items
    assert [i.external_id for i in result.items] == ["i1001", "i1002", "i1003"]

    assert single.type is ItemType.SINGLE
    assert single.stem == "某 App 上月的 注册转化漏斗如下图所示。\n[图片:chart.png]\n流失最多的环节是（ ）。"
    assert single.options == ("下载 → 安装", "安装 → 注册", "注册 → 首次付费", "无法判断")
    assert single.key == (1,)
    assert single.explanation == "安装到注册的转化率最低。"
    assert single.images == (ItemImage("chart.png", "image/png", PNG, "漏斗图"),)  # the <img alt> is kept (issue 25)
    assert single.author == "王老师"  # from the LOM vCard

    assert multiple.type is ItemType.MULTIPLE
    assert multiple.stem == "构建用户画像时，常用的数据来源有（ ）。\n（多选）"
    assert multiple.options == ("用户注册信息", "竞争对手的财务报表", "用户行为日志", "问卷调查&访谈")
    assert multiple.key == (0, 2, 3)

    assert true_false.type is ItemType.TRUE_FALSE
    assert true_false.options == TRUE_FALSE_OPTIONS
    assert true_false.key == (1,)  # 错
    assert true_false.stem == "日活跃用户数（DAU）就是次日留存率。"

    assert all(i.requirements == CODES for i in result.items)
    assert {w.location for w in result.warnings if w.field == "职业技能要求"} == {"i1001", "i1002", "i1003"}


def test_a_package_without_codes_or_defaults_asks_for_a_requirement_per_item():
    result = read(zip_dir(FIXTURES / "tao21"))

    missing = [p for p in result.problems if p.field == "职业技能要求"]
    assert [p.location for p in missing] == ["i1001", "i1002", "i1003"]
    assert all("--requirement" in p.message and p.file == "upload.zip" for p in missing)
    assert len(result.problems) == 3  # check_item's own "no code" message is not said twice


def test_a_qti30_package_in_the_1edtech_style_imports_likewise():
    data = zip_dir(FIXTURES / "cito30")
    assert detect_format("cito.zip", data) == "qti"

    result = read(data, default_requirements=("530046-L2-1.2.1", "530046-L2-1.2.2"))

    assert result.problems == ()
    assert result.format == "qti30"
    funnel, channels, ab = result.items
    assert funnel.type is ItemType.SINGLE
    assert funnel.stem == "观察下面的漏斗：\n[图片:funnel.png]\n第二层与第一层之比称为（ ）。"
    assert funnel.options == ("留存率", "复购率", "转化率", "跳出率")
    assert funnel.key == (2,)
    assert funnel.explanation == "相邻两层之比是转化率。"
    assert funnel.images == (ItemImage("funnel.png", "image/png",
                                       (FIXTURES / "cito30" / "items" / "media" / "funnel.png").read_bytes(), "漏斗"),)  # the <img alt> is kept
    assert channels.type is ItemType.MULTIPLE and channels.key == (0, 1)
    assert channels.stem == "以下属于付费推广渠道的有（ ）。"
    assert ab.type is ItemType.TRUE_FALSE  # False/True, in that order, in the imsqtiasi_v3p0 namespace
    assert ab.options == TRUE_FALSE_OPTIONS and ab.key == (0,)
    assert all(i.requirements == ("530046-L2-1.2.1", "530046-L2-1.2.2") for i in result.items)


def test_a_package_zipped_together_with_its_folder_is_read():
    result = read(zip_dir(FIXTURES / "cito30", prefix="export/"), default_requirements=CODES)

    assert result.problems == ()
    assert [i.external_id for i in result.items] == ["ITM-funnel", "ITM-channels", "ITM-ab"]
    assert result.items[0].images[0].name == "funnel.png"


def test_true_false_choices_in_reverse_order_keep_the_key_on_the_true_option():
    body = ('<p>陈述</p><choiceInteraction responseIdentifier="RESPONSE" maxChoices="1">'
            '<simpleChoice identifier="x">错误</simpleChoice><simpleChoice identifier="y">正确</simpleChoice>'
            '</choiceInteraction>')
    (item,) = read(one_item_package(body, correct=("y",)), default_requirements=CODES).items

    assert item.type is ItemType.TRUE_FALSE
    assert item.options == ("正确", "错误")
    assert item.key == (0,)


# -- our own packages


def sample_items() -> list[ItemDraft]:
    return [
        ItemDraft(
            external_id="530046-L1-0001", type=ItemType.SINGLE,
            stem="下列关于 <用户留存> & “活跃度”的说法，正确的是（ ）。\n参考下图：[图片:留存曲线.png]",
            options=("a < b & c", "次日留存率 > 7 日留存率", "'引号' \"双引号\"", "以上都不对；换行\n第二行"),
            key=(1,), explanation="留存率随时间递减。\n[图片:解析.svg]",
            requirements=("530046-L1-1.1.1", "530046-L1-2.3.4"), difficulty=4, author="李老师 <li@example.org>",
            source="2024 年题库 & 修订", enemy_group="留存-1",
            images=(ItemImage("留存曲线.png", "image/png", PNG),
                    ItemImage("解析.svg", "image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'/>")),
            irt=IrtData(IrtModel.THREE_PL, 1.2345678901234567, -0.75, 0.2, "calibration:42"),
        ),
        ItemDraft(
            external_id="530046-L1-0002", type=ItemType.MULTIPLE, stem="以下属于新媒体平台的有（ ）。",
            options=("微信公众号", "抖音", "报纸", "微博", "电视台", "小红书"), key=(0, 1, 3, 5),
            requirements=("530046-L1-3.1.2",), difficulty=2, enemy_group="",
            irt=IrtData(IrtModel.TWO_PL, 0.8, 1.5),
        ),
        ItemDraft(
            external_id="tf_3", type=ItemType.TRUE_FALSE, stem="DAU 是日活跃用户数。",
            options=TRUE_FALSE_OPTIONS, key=(0,), requirements=("560003-L3-2.2.2",),
            images=(ItemImage("unused.jpg", "image/jpeg", b"\xff\xd8\xff\xe0jpeg"),),
        ),
    ]


@pytest.mark.parametrize("version, fmt", [("2.1", "qti21"), ("3.0", "qti30")])
def test_the_projects_own_export_reads_back_identically(version, fmt):
    items = sample_items()

    result = read(write_qti_package(items, version=version, title="移动互联网运营 初级 样题"))

    assert result.problems == () and result.warnings == ()
    assert result.format == fmt
    assert result.title == "移动互联网运营 初级 样题"
    assert [strip_location(i) for i in result.items] == items
    assert [i.location for i in result.items] == [i.external_id for i in items]


def test_an_export_carries_the_documented_metadata_layout():
    data = write_qti_package(sample_items()[:1], version="2.1")
    zf = zipfile.ZipFile(io.BytesIO(data))
    root = ET.fromstring(zf.read("imsmanifest.xml"))
    cp, lom = "{http://www.imsglobal.org/xsd/imscp_v1p1}", "{http://ltsc.ieee.org/xsd/LOM}"
    ee = "{urn:examengine:qti:1}"

    (res,) = root.iter(f"{cp}resource")
    assert res.get("type") == "imsqti_item_xmlv2p1"
    assert res.find(f"{cp}metadata/{lom}lom/{lom}general/{lom}identifier/{lom}entry").text == "530046-L1-0001"
    paths = res.findall(f".//{lom}classification/{lom}taxonPath")
    assert [p.find(f"{lom}source/{lom}string").text for p in paths] == ["1+X 职业技能要求"] * 2
    assert [[t.text for t in p.iter(f"{lom}id")] for p in paths] == [
        ["530046-L1-1", "530046-L1-1.1", "530046-L1-1.1.1"], ["530046-L1-2", "530046-L1-2.3", "530046-L1-2.3.4"]]
    assert {c.text for c in res.iter(f"{lom}value")} >= {"competency", "difficult", "author"}
    assert res.find(f".//{ee}item/{ee}irt").attrib == {
        "model": "3PL", "a": "1.2345678901234567", "b": "-0.75", "c": "0.2", "origin": "calibration:42"}
    assert res.find(f".//{ee}item/{ee}enemyGroup").text == "留存-1"

    item = ET.fromstring(zf.read(res.get("href")))
    assert item.tag == "{http://www.imsglobal.org/xsd/imsqti_v2p1}assessmentItem"
    assert item.get("identifier") == "I530046-L1-0001"  # an NCName may not start with a digit
    assert item.find("{http://www.imsglobal.org/xsd/imsqti_v2p1}responseProcessing").get("template") \
        == "http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"


def test_a_qti30_export_uses_the_kebab_case_elements_and_the_30_manifest():
    data = write_qti_package(sample_items(), version="3.0")
    zf = zipfile.ZipFile(io.BytesIO(data))
    root = ET.fromstring(zf.read("imsmanifest.xml"))
    assert root.tag == "{http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1}manifest"
    types = {r.get("type") for r in root.iter("{http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1}resource")}
    assert types == {"imsqti_item_xmlv3p0"}
    text = zf.read("items/I530046-L1-0002/I530046-L1-0002.xml").decode("utf-8")
    assert 'xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0"' in text
    assert '<qti-choice-interaction response-identifier="RESPONSE" shuffle="false" max-choices="0">' in text
    assert 'cardinality="multiple"' in text and "match_correct.xml" in text


def test_texts_read_back_in_canonical_form():
    item = replace(sample_items()[1], stem="  第一行   有  空格\n\n\n第二段\n", explanation="\n 解析 \t说明 ")

    (back,) = read(write_qti_package([item], version="2.1")).items

    assert back.stem == "第一行 有 空格\n\n\n第二段" == canonical_text(item.stem)
    assert back.explanation == "解析 说明"


def test_the_writer_refuses_an_image_reference_without_its_image():
    item = replace(sample_items()[1], stem="见图 [图片:missing.png]")
    with pytest.raises(ValueError, match="missing.png"):
        write_qti_package([item], version="3.0")
    with pytest.raises(ValueError):
        write_qti_package([item], version="2.2")


# -- generated items


_TEXT_CHARS = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="[]\ufffe\uffff")
_LINE = st.text(_TEXT_CHARS, max_size=12)
_CODE = st.from_regex(r"\d{6}-L[1-3]-\d{1,2}(\.\d{1,2}){0,2}", fullmatch=True)
_NAME = st.from_regex(r"[a-z0-9一-龥]{1,6}\.(png|jpg|gif|svg)", fullmatch=True)


@st.composite
def items_strategy(draw) -> ItemDraft:
    names = draw(st.lists(_NAME, max_size=2, unique=True))
    images = tuple(ItemImage(n, mimetypes.guess_type(n)[0], draw(st.binary(max_size=16))) for n in names)

    def text(allow_images: bool = True) -> str:
        parts = draw(st.lists(_LINE | st.just("\n") | (st.sampled_from([f"[图片:{n}]" for n in names])
                                                      if names and allow_images else _LINE), max_size=5))
        return "".join(parts)

    item_type = draw(st.sampled_from(list(ItemType)))
    if item_type is ItemType.TRUE_FALSE:
        options, key = TRUE_FALSE_OPTIONS, (draw(st.integers(0, 1)),)
    else:
        n = draw(st.integers(4, 6))
        options = tuple("选项" + str(i) + text() for i in range(n))
        picks = draw(st.lists(st.integers(0, n - 1), min_size=1 if item_type is ItemType.SINGLE else 2,
                              max_size=1 if item_type is ItemType.SINGLE else n, unique=True))
        key = tuple(sorted(picks))
    irt = draw(st.none() | st.builds(
        IrtData, st.sampled_from(list(IrtModel)), st.floats(0.01, 5), st.floats(-4, 4), st.floats(0, 0.5),
        st.sampled_from(["provisional", "calibration:7"])))
    return ItemDraft(
        external_id=draw(st.from_regex(r"[0-9A-Za-z一-龥][0-9A-Za-z一-龥_.-]{0,20}", fullmatch=True)),
        type=item_type, stem=text() or "题干", options=options, key=key, explanation=text(),
        requirements=tuple(draw(st.lists(_CODE, min_size=1, max_size=3, unique=True))),
        difficulty=draw(st.none() | st.integers(1, 5)), author=draw(st.text(_TEXT_CHARS, max_size=8)),
        source=draw(st.text(_TEXT_CHARS, max_size=8)), enemy_group=draw(st.none() | st.text(_TEXT_CHARS, max_size=6)),
        images=images, irt=irt,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(items_strategy(), min_size=1, max_size=3, unique_by=lambda i: i.external_id),
       st.sampled_from(["2.1", "3.0"]))
def test_generated_items_read_back_as_written(items, version):
    result = read(write_qti_package(items, version=version))

    expected = [replace(i, stem=canonical_text(i.stem), explanation=canonical_text(i.explanation),
                        options=tuple(canonical_text(o) for o in i.options)) for i in items]
    assert [strip_location(i) for i in result.items] == expected
    assert not [p for p in result.problems if p.field in ("文件", "题型", "答案")]


# -- malicious and broken packages


XXE = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
       '<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="q1">'
       '<itemBody><p>&e;</p>' + CHOICES + '</itemBody></assessmentItem>')

LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
          + ']><assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="q1">'
          '<itemBody><p>&lol9;</p></itemBody></assessmentItem>')


EXTERNAL_DTD = ('<?xml version="1.0"?><!DOCTYPE assessmentItem SYSTEM "file:///etc/passwd">'
                '<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="q1">'
                '<itemBody>' + CHOICES + '</itemBody></assessmentItem>')


@pytest.mark.parametrize("payload", [XXE, LAUGHS, EXTERNAL_DTD], ids=["xxe", "billion-laughs", "external-dtd"])
def test_an_entity_attack_in_an_item_is_refused_with_a_problem(payload):
    result = read(zip_files({"imsmanifest.xml": manifest("items/q1.xml"), "items/q1.xml": payload}))

    assert result.items == ()
    (problem,) = result.problems
    assert (problem.file, problem.location, problem.field) == ("upload.zip", "items/q1.xml", "文件")
    assert "实体" in problem.message
    assert "root:" not in repr(result) and "lollol" not in repr(result)


def test_an_entity_attack_in_the_manifest_is_refused_and_reads_no_file():
    evil = ('<?xml version="1.0"?><!DOCTYPE m [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            '<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"><resources>'
            '<resource identifier="R" type="imsqti_item_xmlv2p1" href="&e;"/></resources></manifest>')
    result = read(zip_files({"imsmanifest.xml": evil}))

    assert [(p.location, p.field) for p in result.problems] == [("imsmanifest.xml", "文件")]
    assert "root:" not in repr(result)


def test_an_unsupported_interaction_is_a_problem_naming_it():
    body = '<p>填空：<textEntryInteraction responseIdentifier="RESPONSE" expectedLength="8"/></p>'
    result = read(one_item_package(body, correct=("留存",)), default_requirements=CODES)

    assert result.items == ()
    assert [(p.location, p.field, p.message) for p in result.problems] == [
        ("q1", "题型", "不支持的题型：textEntryInteraction")]


def test_an_unsupported_qti30_interaction_is_named_as_qti30_names_it():
    item = ('<qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0" identifier="q30">'
            '<qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="string"/>'
            '<qti-item-body><qti-extended-text-interaction response-identifier="RESPONSE"/></qti-item-body>'
            '</qti-assessment-item>')
    result = read(zip_files({"imsmanifest.xml": manifest("q.xml", version="3.0"), "q.xml": item}))

    assert result.format == "qti30"
    assert [(p.location, p.field, p.message) for p in result.problems] == [
        ("q30", "题型", "不支持的题型：qti-extended-text-interaction")]


def test_a_missing_image_is_a_problem_on_the_stem_naming_the_file():
    body = '<p>看图 <img src="img/gone.png"/></p>' + CHOICES
    result = read(one_item_package(body), default_requirements=CODES)

    assert [(p.location, p.field) for p in result.problems] == [("q1", "题干")]
    assert "items/img/gone.png" in result.problems[0].message
    assert result.items[0].stem == "看图 [图片:gone.png]\n哪一个？"


def test_an_image_outside_the_package_is_never_read():
    body = '<p><img src="../../../../etc/passwd"/><img src="file:///etc/hostname"/></p>' + CHOICES
    result = read(one_item_package(body), default_requirements=CODES)

    assert [(p.location, p.field) for p in result.problems] == [("q1", "题干"), ("q1", "题干")]
    assert result.items[0].images == ()
    assert "root:" not in repr(result)


def test_a_correct_response_naming_no_choice_is_a_problem_on_the_key():
    result = read(one_item_package(correct=("E",)), default_requirements=CODES)

    assert result.items == ()
    (problem,) = result.problems
    assert (problem.location, problem.field) == ("q1", "答案")
    assert "“E”" in problem.message


def test_a_manifest_pointing_at_a_missing_file_is_a_problem_naming_that_file():
    data = zip_files({"imsmanifest.xml": manifest("items/q1.xml", "items/q2.xml"), "items/q1.xml": item21(CHOICES)})
    result = read(data, default_requirements=CODES)

    assert [i.external_id for i in result.items] == ["q1"]
    assert [(p.location, p.field) for p in result.problems] == [("items/q2.xml", "文件")]
    assert "items/q2.xml" in result.problems[0].message


def test_a_file_that_is_not_a_zip_is_a_problem():
    result = read(b"<html>not a package</html>")

    assert result.items == ()
    assert [(p.file, p.field) for p in result.problems] == [("upload.zip", "文件")]
    assert "zip" in result.problems[0].message


def test_a_zip_without_a_manifest_is_a_problem():
    result = read(zip_files({"items/q1.xml": item21(CHOICES)}))

    assert [(p.location, p.field) for p in result.problems] == [("imsmanifest.xml", "文件")]


@pytest.mark.parametrize("name", ["../evil.xml", "/etc/cron.d/evil", "a/../../evil.xml", "C:/evil.xml", "a\\..\\evil"])
def test_a_path_traversal_name_in_the_zip_is_a_problem_naming_it(name):
    result = read(one_item_package(extra={name: "x"}), default_requirements=CODES)

    assert [(p.location, p.field) for p in result.problems] == [(name, "文件")]


def test_a_manifest_href_leaving_the_package_is_a_problem():
    data = zip_files({"imsmanifest.xml": manifest("../../etc/passwd")})
    result = read(data)

    assert [(p.location, p.field) for p in result.problems][:1] == [("R0", "文件")]
    assert "root:" not in repr(result)


def test_a_zip_bomb_is_refused_before_it_is_inflated(monkeypatch):
    monkeypatch.setattr(qti, "MAX_TOTAL_BYTES", 50_000)
    data = one_item_package(extra={"items/padding.bin": b"\0" * 60_000})

    result = read(data, default_requirements=CODES)

    assert result.items == ()
    assert [(p.location, p.field) for p in result.problems] == [("", "文件")]
    assert "过大" in result.problems[0].message


def test_a_zip_with_too_many_files_is_refused(monkeypatch):
    monkeypatch.setattr(qti, "MAX_FILES", 5)
    data = one_item_package(extra={f"junk/{i}.txt": "x" for i in range(10)})

    result = read(data, default_requirements=CODES)

    assert result.items == () and "过多" in result.problems[0].message


def test_content_problems_from_check_item_carry_the_item_identifier():
    body = ('<choiceInteraction responseIdentifier="RESPONSE" maxChoices="1"><prompt>只有三个选项</prompt>'
            '<simpleChoice identifier="A">甲</simpleChoice><simpleChoice identifier="B">乙</simpleChoice>'
            '<simpleChoice identifier="C">丙</simpleChoice></choiceInteraction>')
    result = read(one_item_package(body, identifier="x-9"), default_requirements=CODES)

    assert [(p.location, p.field) for p in result.problems] == [("x-9", "选项")]
    assert "4–6" in result.problems[0].message


def test_two_correct_values_on_a_single_choice_interaction_are_a_problem():
    result = read(one_item_package(correct=("A", "B")), default_requirements=CODES)

    assert [(p.location, p.field) for p in result.problems] == [("q1", "答案")]


def test_a_broken_item_file_is_a_problem_naming_the_file():
    data = zip_files({"imsmanifest.xml": manifest("items/q1.xml"), "items/q1.xml": "<assessmentItem><itemBody>"})
    result = read(data)

    assert [(p.location, p.field) for p in result.problems] == [("items/q1.xml", "文件")]
    assert "XML" in result.problems[0].message


def test_unreadable_examengine_metadata_is_a_problem_under_the_item():
    data = write_qti_package([sample_items()[1]], version="2.1")
    zf = zipfile.ZipFile(io.BytesIO(data))
    files = {name: zf.read(name) for name in zf.namelist()}
    files["imsmanifest.xml"] = files["imsmanifest.xml"].replace(b'a="0.8"', b'a="steep"')

    result = read(zip_files(files))

    assert [(p.location, p.field) for p in result.problems] == [("530046-L1-0002", "IRT参数")]
    assert result.items[0].irt is None


def test_audio_in_a_stem_is_a_problem_rather_than_silently_dropped():
    body = '<p>听录音：<object type="audio/mpeg" data="a.mp3">您的浏览器不支持</object></p>' + CHOICES
    result = read(one_item_package(body, extra={"items/a.mp3": b"ID3"}), default_requirements=CODES)

    assert [(p.location, p.field) for p in result.problems] == [("q1", "题干")]
    assert "audio/mpeg" in result.problems[0].message
