"""The printed booklet, answer sheets and key: text in order, keys as stored, a QR code that
decodes to exam + candidate + form, Chinese fonts embedded; printing freezes the versions."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import pytest
from sqlalchemy import select

from examengine.db.forms_models import Form, FormUse
from examengine.db.models import Candidate, Exam, ItemImage, ItemVersion
from examengine.exam.items import LETTERS
from examengine.exam.sheet_codes import signature
from examengine.services import forms as svc

pytestmark = pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils is not installed")


def text_of(pdf: bytes, tmp_path, name: str, *, layout: bool = False) -> str:
    path = tmp_path / name
    path.write_bytes(pdf)
    args = ["pdftotext", "-layout", str(path), "-"] if layout else ["pdftotext", str(path), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


@pytest.fixture
def printed(bank_db, l1_forms, request):
    """Form A printed for the demo exam's roster: only the documents the test names
    (``@pytest.mark.documents("booklet", ...)``), to keep the tests quick."""
    marker = request.node.get_closest_marker("documents")
    docs = set(marker.args) if marker else {"key"}
    form = l1_forms.forms[0]
    return form, svc.print_form(bank_db, form.id, exam_id=1, booklet="booklet" in docs, sheets="sheets" in docs,
                                key="key" in docs, actor="test")


@pytest.mark.documents("booklet")
def test_the_booklet_holds_every_stem_and_option_in_order(printed, tmp_path):
    form, p = printed
    text = squash(text_of(p.booklet, tmp_path, "b.pdf", layout=True))
    at = 0
    for it in form.items:
        for piece in [f"{it.position}.{it.stem}"] + [f"{LETTERS[k]}.{o}" for k, o in enumerate(it.options)]:
            found = text.find(squash(piece), at)
            assert found >= 0, f"item {it.position}: {piece!r} missing or out of order"
            at = found
    assert "试卷A" in text and "单项选择题" in text and "判断题" in text
    assert re.search(r"一、单项选择题（共\d+题）", text) and re.search(r"[二三]、判断题", text)  # not 1、 2、
    pages = re.findall(r"第(\d+)页共(\d+)页", text)
    assert pages and pages[0] == ("1", pages[0][1]) and pages[-1][0] == pages[-1][1]


KEY_ROW = r"^\s*(\d+)\s+([A-F]+|对|错)\s+\S+-\S+ v\d+"


def stored_key(version: ItemVersion) -> str:
    """A stored key as the key document should print it: letters, and 对/错 for 判断 (A/B)."""
    letters = "".join(LETTERS[k] for k in sorted(version.key))
    return {"A": "对", "B": "错"}[letters] if version.type == "判断" else letters


def test_the_key_matches_the_stored_keys(printed, bank_db, tmp_path):
    form, p = printed
    text = text_of(p.key, tmp_path, "k.pdf", layout=True)
    printed_keys = {int(m.group(1)): m.group(2) for m in re.finditer(KEY_ROW, text, re.MULTILINE)}
    stored = {fi.position: stored_key(bank_db.get(ItemVersion, fi.item_version_id))
              for fi in bank_db.get(Form, form.id).items}
    assert printed_keys == stored
    assert "分数换算表" in text and "合格" in text


def test_the_key_prints_true_false_answers_as_dui_and_cuo(printed, bank_db, tmp_path):
    form, p = printed
    text = text_of(p.key, tmp_path, "k.pdf", layout=True)
    printed_keys = {int(m.group(1)): m.group(2) for m in re.finditer(KEY_ROW, text, re.MULTILINE)}
    versions = {fi.position: bank_db.get(ItemVersion, fi.item_version_id) for fi in bank_db.get(Form, form.id).items}
    true_false = {pos: v for pos, v in versions.items() if v.type == "判断"}
    assert true_false, "form A of the fixture holds 判断 items"
    for pos, v in true_false.items():
        assert printed_keys[pos] == ("对" if list(v.key) == [0] else "错"), (pos, v.key)
    assert {printed_keys[pos] for pos in true_false} <= {"对", "错"}
    assert all(printed_keys[pos] not in ("对", "错") for pos in versions if pos not in true_false)
    assert "判断题答案写作“对”或“错”" in squash(text)


@pytest.mark.documents("sheets")
def test_each_candidate_gets_a_sheet_whose_qr_code_names_exam_candidate_and_form(printed, bank_db, tmp_path):
    form, p = printed
    candidates = list(bank_db.scalars(select(Candidate).where(Candidate.exam_id == 1).order_by(Candidate.ticket)))
    assert p.n_sheets == len(candidates) >= 1
    text = text_of(p.sheets, tmp_path, "s.pdf")
    for c in candidates:
        assert c.name in text and c.ticket in text
    if not shutil.which("zbarimg") or not shutil.which("pdftoppm"):
        pytest.skip("zbar-tools is not installed")
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(tmp_path / "s.pdf"), str(tmp_path / "p")],
                   check=True)
    png = next(tmp_path.glob("p*.png"))
    decoded = subprocess.run(["zbarimg", "-q", "--raw", str(png)], capture_output=True, text=True).stdout.strip()
    first = candidates[0]
    unsigned, _, sig = decoded.rpartition(";sig=")
    assert unsigned == f"EE2;exam=1;cand={first.id};ticket={first.ticket};form={form.id};code=A"
    bank_db.expire_all()
    key = bank_db.get(Exam, 1).sheet_key
    assert key and sig == signature(unsigned, key)  # signed with the exam's key, set by this first print


def dark_extents(gray, box, px: float, *, reach: float = 1.0) -> tuple[float, float, float, float]:
    """The outermost dark pixels of a printed bubble along its middle lines, in mm (left, right,
    top, bottom): the outline is drawn inside the layout's box, so they are the box's edges."""
    import numpy as np

    cx, cy = round(box.center[0] * px), round(box.center[1] * px)
    x0, x1 = round((box.x - reach) * px), round((box.right + reach) * px)
    y0, y1 = round((box.y - reach) * px), round((box.bottom + reach) * px)
    xs = np.nonzero(gray[cy, x0:x1] < 128)[0]
    ys = np.nonzero(gray[y0:y1, cx] < 128)[0]
    return (x0 + xs[0]) / px, (x0 + xs[-1] + 1) / px, (y0 + ys[0]) / px, (y0 + ys[-1] + 1) / px


@pytest.mark.documents("sheets")
def test_the_printed_sheet_puts_marks_and_bubbles_where_the_layout_says(printed):
    """Rasterised at 200 dpi, the corner marks' centres and the bubbles' outlines lie within
    0.5 mm of ``exam.sheet_layout``: the reader looks for them there."""
    import numpy as np
    import pypdfium2

    from examengine.exam.sheet_layout import sheet_layout

    form, p = printed
    layout = sheet_layout([len(it.options) for it in form.items])
    document = pypdfium2.PdfDocument(p.sheets)
    assert len(document) == p.n_sheets  # one page a sheet, nothing spills over
    page = document[0]
    assert page.get_size() == pytest.approx((595.28, 841.89), abs=0.1)  # A4
    gray = np.asarray(page.render(scale=200 / 72, grayscale=True).to_pil().convert("L"))
    px = 200 / 25.4
    for mark in layout.marks:
        x0, y0 = round((mark.x - 3) * px), round((mark.y - 3) * px)
        roi = gray[y0:round((mark.bottom + 3) * px), x0:round((mark.right + 3) * px)]
        ys, xs = np.nonzero(roi < 128)
        assert len(xs) == pytest.approx((mark.w * px) ** 2, rel=0.1)  # solid, nothing else dark nearby
        centre = ((x0 + xs.mean() + 0.5) / px, (y0 + ys.mean() + 0.5) / px)
        assert centre == pytest.approx(mark.center, abs=0.5)
    for row in (layout.rows[0], layout.rows[len(layout.rows) // 2], layout.rows[-1]):
        for b in (row.bubbles[0], row.bubbles[-1]):
            assert dark_extents(gray, b, px) == pytest.approx((b.x, b.right, b.y, b.bottom), abs=0.5)
    qr = layout.qr
    x0, y0 = round(qr.x * px), round(qr.y * px)
    inside = gray[y0:round(qr.bottom * px), x0:round(qr.right * px)]
    assert 0.2 < (inside < 128).mean() < 0.6  # the QR code fills its box


def test_a_form_too_long_for_one_sheet_is_refused_before_printing(bank_db, l1_forms, monkeypatch):
    from examengine.errors import ConflictError
    from examengine.exam import sheet_layout as sl

    monkeypatch.setattr(sl, "DEFAULT_ROWS", 2)  # a sheet of 2 rows a column: far fewer than 20 positions
    monkeypatch.setattr(sl, "MAX_ROWS", 2)
    form = l1_forms.forms[0]
    with pytest.raises(ConflictError, match=r"答题卡无法打印：试卷共 20 题，一张答题卡放不下：每列最多 2 题.*即最多 \d+ 题"):
        svc.print_form(bank_db, form.id, exam_id=1, booklet=False, key=False, actor="test")
    bank_db.expire_all()
    assert bank_db.get(Form, form.id).printed_at is None  # nothing recorded
    svc.print_form(bank_db, form.id, booklet=False, sheets=False, key=True, actor="test")  # the other documents still print


def test_printing_freezes_the_versions_and_records_the_use(printed, bank_db, tmp_path):
    form, _ = printed
    bank_db.expire_all()
    assert all(bank_db.get(ItemVersion, i.version_id).frozen for i in form.items)
    assert bank_db.get(Form, form.id).printed_at is not None
    assert bank_db.scalars(select(FormUse).where(FormUse.form_id == form.id, FormUse.exam_id == 1)).one()


@pytest.mark.documents("booklet")
def test_chinese_is_set_in_an_embedded_cjk_font(printed, tmp_path):
    _, p = printed
    if not shutil.which("pdffonts"):
        pytest.skip("pdffonts is not installed")
    (tmp_path / "b.pdf").write_bytes(p.booklet)
    fonts = subprocess.run(["pdffonts", str(tmp_path / "b.pdf")], capture_output=True, text=True).stdout
    cjk = [line for line in fonts.splitlines() if "WenQuanYi" in line or "CJK" in line]
    assert cjk and all(" yes yes " in line for line in cjk)
    assert "DejaVu" not in fonts


def test_paper_parts_are_numbered_in_chinese_numerals():
    from examengine.rendering.env import zh_numeral

    assert [zh_numeral(n) for n in (1, 2, 9, 10, 11, 12, 20, 21, 99)] == [
        "一", "二", "九", "十", "十一", "十二", "二十", "二十一", "九十九"]
    assert zh_numeral(100) == "100"


def png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, format="PNG")
    return buf.getvalue()


def test_the_booklet_prints_an_items_pictures_in_place_of_their_placeholders(bank_db, l1_forms, tmp_path):
    if not shutil.which("pdfimages"):
        pytest.skip("pdfimages (poppler-utils) is not installed")
    form = l1_forms.forms[0]
    single = next(it for it in form.items if it.type == "单选")
    v = bank_db.get(ItemVersion, single.version_id)
    v.stem = f"{v.stem}看图作答：[图片:chart.png]"
    v.options = [f"{v.options[0]}[图片:opt-a.png]", *v.options[1:]]
    bank_db.add_all([ItemImage(version_id=v.id, name="chart.png", media_type="image/png", data=png(321, 123, (200, 30, 30)),
                               alt="柱状图"),
                     # stored as something else: printed by what its bytes are
                     ItemImage(version_id=v.id, name="opt-a.png", media_type="text/plain", data=png(77, 55, (30, 30, 200)))])
    bank_db.commit()
    p = svc.print_form(bank_db, form.id, sheets=False, key=False, actor="test")
    text = text_of(p.booklet, tmp_path, "b.pdf", layout=True)
    assert "[图片:" not in squash(text) and "chart.png" not in text and "opt-a.png" not in text
    assert "看图作答" in squash(text)
    listing = subprocess.run(["pdfimages", "-list", str(tmp_path / "b.pdf")], capture_output=True, text=True,
                             check=True).stdout
    sizes = sorted((int(w), int(h)) for w, h in re.findall(r"^\s*\d+\s+\d+\s+\w+\s+(\d+)\s+(\d+)", listing, re.MULTILINE))
    assert sizes == [(77, 55), (321, 123)], listing


def test_a_picture_the_bank_does_not_hold_keeps_its_placeholder(bank_db, l1_forms, tmp_path):
    form = l1_forms.forms[0]
    v = bank_db.get(ItemVersion, form.items[0].version_id)
    v.stem = f"{v.stem}[图片:missing.png]"
    bank_db.commit()
    p = svc.print_form(bank_db, form.id, sheets=False, key=False, actor="test")
    assert "[图片:missing.png]" in squash(text_of(p.booklet, tmp_path, "b.pdf"))
