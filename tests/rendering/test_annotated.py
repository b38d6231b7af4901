"""The annotated return of a scanned sheet: the overlays stand where the sheet's layout puts
the bubbles and say by shape what was scored (they survive a greyscale print), and the PDF
gives each candidate pages of their own with the key, the marks as read and as scored."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import UTC, datetime

import numpy as np
import pypdfium2
import pytest
from PIL import Image, ImageDraw

from examengine.exam.items import LETTERS
from examengine.exam.sheet_layout import Box, sheet_layout
from examengine.rendering.annotated import (
    CORRECTED_COLOUR,
    PDF_PX_PER_MM,
    AnnotatedRow,
    AnnotatedSheet,
    ResultSummary,
    annotated_image,
    annotated_pdf,
    verdict_box,
)

PPM = 200 / 25.4  # the reader's resolution: 200 dpi

#: 12 单选, 4 判断, 4 多选 (5 options)
TYPES = ["单选"] * 12 + ["判断"] * 4 + ["多选"] * 4
COUNTS = [4] * 12 + [2] * 4 + [5] * 4
KEYS = "ABCDABCDABCD" + "ABAB"
KEYS = list(KEYS) + ["AC", "BDE", "AB", "CE"]
#: what the reader took as marked: 3 wrong (1, 6, 14), 7 blank, 9 double, 18 a wrong 多选
READ = list("ABCDABCDABCD") + list("ABAB") + ["AC", "BDE", "AB", "CE"]
READ[0], READ[5], READ[6], READ[8], READ[13], READ[17] = "C", "D", "", "AB", "A", "A"
#: review: 9 (double) corrected to its one clear mark, 7 (blank) confirmed blank
FINAL = list(READ)
FINAL[8] = "A"


def draw_scan(layout, marks: list[str], *, ppm: float = PPM) -> bytes:
    """A rectified sheet as the reader hands it over: grey paper, the corner marks, every bubble
    outlined with its letter, the marks filled in pencil grey, a little noise."""
    rng = np.random.default_rng(21)
    img = Image.new("L", (round(210 * ppm), round(297 * ppm)), 246)
    draw = ImageDraw.Draw(img)
    px = lambda b: [b.x * ppm, b.y * ppm, (b.x + b.w) * ppm, (b.y + b.h) * ppm]  # noqa: E731
    for m in layout.marks:
        draw.rectangle(px(m), fill=0)
    for row, letters in zip(layout.rows, marks, strict=True):
        draw.text(((row.number.x + 5) * ppm, row.number.center[1] * ppm), str(row.position), fill=0, anchor="rm")
        for j, b in enumerate(row.bubbles):
            draw.rounded_rectangle(px(b), radius=2.1 * ppm, outline=0, width=2,
                                   fill=70 if LETTERS[j] in letters else None)
            draw.text((b.center[0] * ppm, b.center[1] * ppm), LETTERS[j], fill=0, anchor="mm")
    noisy = np.asarray(img, np.int16) + rng.normal(0, 6, (img.height, img.width)).astype(np.int16)
    buf = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def scored(read: list[str], final: list[str], *, corrected=(9, 7)) -> tuple[AnnotatedRow, ...]:
    at = datetime(2026, 12, 6, 2, 30, tzinfo=UTC)
    flags = {7: ("未涂",), 9: ("多涂",)}
    return tuple(
        AnnotatedRow(position=p, type_label=t, read=r, final=f, key=k, correct=sorted(f) == sorted(k),
                     flags=flags.get(p, ()), corrected_by="王老师" if p in corrected else None,
                     corrected_at=at if p in corrected else None)
        for p, (t, r, f, k) in enumerate(zip(TYPES, read, final, KEYS, strict=True), start=1))


def candidate(ticket: str, name: str, read=READ, final=FINAL) -> AnnotatedSheet:
    layout = sheet_layout(COUNTS)
    rows = scored(read, final)
    raw = sum(r.correct for r in rows)
    return AnnotatedSheet(
        ticket=ticket, name=name, room="第一考场", exam_name="网店运营推广（初级）2026 年 12 月", form_code="A",
        image_png=draw_scan(layout, read), px_per_mm=PPM, layout=layout, rows=rows,
        summary=ResultSummary(raw=raw, n_items=len(rows), theta=0.35, se=0.42, band="初级", score=64.0,
                              passed=True, scored_by="李主任", scored_at=datetime(2026, 12, 6, 3, 0, tzinfo=UTC)),
        source="scans.pdf 第 1 页")


WRONG = {1, 6, 7, 14, 18}  # the positions FINAL scores wrong


@pytest.fixture(scope="module")
def sheet() -> AnnotatedSheet:
    return candidate("20261206001", "张三")


@pytest.fixture(scope="module")
def annotated(sheet) -> tuple[np.ndarray, np.ndarray]:
    """The scan as given (RGB) and as annotated (RGB), same frame."""
    before = np.asarray(Image.open(io.BytesIO(sheet.image_png)).convert("RGB"), np.int16)
    after = np.asarray(Image.open(io.BytesIO(annotated_image(sheet))).convert("RGB"), np.int16)
    return before, after


def at(img: np.ndarray, x_mm: float, y_mm: float) -> np.ndarray:
    return img[round(y_mm * PPM), round(x_mm * PPM)]


def is_red(px) -> bool:
    return px[0] > 150 and px[1] < 90 and px[2] < 90


def is_green(px) -> bool:
    return px[1] > px[0] + 40 and px[1] > px[2] + 40


def ring_points(b: Box) -> list[tuple[float, float]]:
    """Points on the key ring of bubble ``b``: 0.55 mm above and below it, 0.55 mm beside it."""
    (cx, cy), d = b.center, 0.55
    return [(cx, b.y - d), (cx, b.bottom + d), (b.x - d, cy), (b.right + d, cy)]


def test_the_sheet_keeps_its_frame_and_gains_a_legend_below(sheet, annotated):
    before, after = annotated
    assert after.shape[1] == before.shape[1] and after.shape[0] > before.shape[0]
    # away from the grid the scan is untouched: the QR box and the corner marks
    qr = sheet.layout.qr
    ys, xs = slice(round(qr.y * PPM), round(qr.bottom * PPM)), slice(round(qr.x * PPM), round(qr.right * PPM))
    assert np.array_equal(after[ys, xs], before[ys, xs])
    assert np.array_equal(after[: before.shape[0]][:200], before[:200])


def test_a_ring_surrounds_every_key_bubble_and_no_other(sheet, annotated):
    before, after = annotated
    for row, key in zip(sheet.layout.rows, KEYS, strict=True):
        for j, b in enumerate(row.bubbles):
            points = ring_points(b)
            if LETTERS[j] in key:
                for x, y in points:
                    assert is_green(at(after, x, y)), f"{row.position}{LETTERS[j]}: no ring at {x, y}"
            else:  # above and below a bubble that is not the key: no ring (a review box may pass there)
                for x, y in points[:2]:
                    assert not is_green(at(after, x, y)), f"{row.position}{LETTERS[j]}: ringed"
                    if row.position not in (7, 9):
                        assert np.array_equal(at(after, x, y), at(before, x, y)), f"{row.position}{LETTERS[j]}"


def test_the_ring_reads_in_greyscale(sheet, annotated):
    gray = np.asarray(Image.fromarray(annotated[1].astype(np.uint8)).convert("L"), np.int16)
    b = sheet.layout.row(2).bubbles[1]  # key B of position 2
    assert all(gray[round(y * PPM), round(x * PPM)] < 120 for x, y in ring_points(b))


def test_a_cross_marks_each_scored_mark_that_is_not_the_key(sheet, annotated):
    before, after = annotated
    for row, final, key in zip(sheet.layout.rows, FINAL, KEYS, strict=True):
        for j, b in enumerate(row.bubbles):
            crossed = is_red(at(after, *b.center))
            assert crossed == (LETTERS[j] in final and LETTERS[j] not in key), f"{row.position}{LETTERS[j]}"


def test_the_verdict_right_of_each_row_is_a_cross_exactly_for_the_wrong_rows(sheet, annotated):
    _, after = annotated
    crossed = {row.position for row in sheet.layout.rows if is_red(at(after, *verdict_box(row, sheet.layout).center))}
    assert crossed == WRONG == {r.position for r in sheet.rows if not r.correct}
    # a right row has its tick: green in the verdict box, and no red
    for row in sheet.layout.rows:
        if row.position not in WRONG:
            box = verdict_box(row, sheet.layout)
            patch = after[round(box.y * PPM):round(box.bottom * PPM), round(box.x * PPM):round(box.right * PPM)]
            assert sum(is_green(px) for px in patch.reshape(-1, 3)) > 20, row.position


def test_the_rows_looked_at_in_review_and_only_they_are_boxed(sheet, annotated):
    _, after = annotated
    blue = (np.abs(after - np.array(CORRECTED_COLOUR)).sum(axis=2) < 60)
    boxed = set()
    for row in sheet.layout.rows:
        band = row.band
        # the dashed box's left side runs down the gap before the row's number: some of it blue
        x = round((band.x - 0.85) * PPM)
        side = blue[round(band.y * PPM):round(band.bottom * PPM), x - 2:x + 3]
        if side.any(axis=1).mean() > 0.3:
            boxed.add(row.position)
    assert boxed == {7, 9}


def test_a_row_not_on_the_sheet_or_a_letter_without_a_bubble_is_refused(sheet):
    from dataclasses import replace

    with pytest.raises(ValueError, match="第 21 题"):
        annotated_image(replace(sheet, rows=sheet.rows + (replace(sheet.rows[0], position=21),)))
    with pytest.raises(ValueError, match="第 13 题"):  # a 判断 has A and B only
        annotated_image(replace(sheet, rows=tuple(replace(r, final="C") if r.position == 13 else r
                                                  for r in sheet.rows)))
    with pytest.raises(ValueError):
        annotated_pdf([], "空")


# ---------------------------------------------------------------- the PDF

needs_pdftotext = pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils is not installed")


@pytest.fixture(scope="module")
def room_pdf(sheet, tmp_path_factory):
    """Two candidates of a room in one PDF: the second got 1 and 6 right."""
    read, final = list(READ), list(FINAL)
    read[0] = final[0] = "A"
    read[5] = final[5] = "B"
    other = candidate("20261206002", "李四", read, final)
    path = tmp_path_factory.mktemp("annotated") / "room.pdf"
    path.write_bytes(annotated_pdf([sheet, other], "第一考场 答题卡评分回执", zone="Asia/Shanghai"))
    return path


def page_texts(path) -> list[str]:
    pdf = pypdfium2.PdfDocument(str(path))
    n = len(pdf)
    pdf.close()
    return [subprocess.run(["pdftotext", "-layout", "-f", str(k), "-l", str(k), str(path), "-"],
                           capture_output=True, text=True, check=True).stdout for k in range(1, n + 1)]


ROW = re.compile(r"^\s*(\d+)\s+(单选|多选|判断)\s+(\S+)\s+(\S+)\s+(\S+)\s+([✓✗])", re.MULTILINE)


@needs_pdftotext
def test_each_candidate_has_pages_of_their_own(room_pdf):
    pages = page_texts(room_pdf)
    tickets = [re.findall(r"2026120600\d", p) for p in pages]
    assert all(t and len(set(t)) == 1 for t in tickets), "a page names no candidate, or two"
    owners = [t[0] for t in tickets]
    # each candidate's pages run together, the first with the header and the scan
    assert owners == sorted(owners) and set(owners) == {"20261206001", "20261206002"}
    firsts = [k for k, o in enumerate(owners) if k == 0 or owners[k - 1] != o]
    for k in firsts:
        assert "答题卡评分回执" in pages[k] and "网店运营推广" in pages[k] and "试卷代码" in pages[k]
    assert "张三" in pages[firsts[0]] and "李四" in pages[firsts[1]]
    assert "15 / 20" in pages[firsts[0]] and "17 / 20" in pages[firsts[1]]
    assert "2026-12-06 11:00" in pages[firsts[0]]  # scored at, in the centre's zone


@needs_pdftotext
def test_the_table_shows_read_scored_key_and_verdict_of_every_position(room_pdf):
    pages = page_texts(room_pdf)
    own = [p for p in pages if "20261206001" in p]
    rows = {int(m[1]): m.groups()[1:] for p in own for m in ROW.finditer(p)}
    assert sorted(rows) == list(range(1, 21))

    def shown(t, letters):
        return "未涂" if not letters else {"A": "A（对）", "B": "B（错）"}[letters] if t == "判断" else letters

    for p, (t, read, final, key, verdict) in rows.items():
        i = p - 1
        assert (t, read, final, key) == (TYPES[i], shown(TYPES[i], READ[i]), shown(TYPES[i], FINAL[i]),
                                         shown(TYPES[i], KEYS[i])), p
        assert (verdict == "✗") == (p in WRONG), p
    text = "".join(own)
    assert re.search(r"\b9\s.*多涂\s+更正 王老师 2026-12-06 10:30", text)
    assert re.search(r"\b7\s.*未涂\s+确认 王老师", text)


@needs_pdftotext
def test_one_candidate_alone_makes_a_pdf_of_their_own(sheet, tmp_path):
    path = tmp_path / "one.pdf"
    path.write_bytes(annotated_pdf([sheet], "张三 答题卡评分回执", zone="Asia/Shanghai"))
    pages = page_texts(path)
    assert pages and all("20261206001" in p for p in pages)
    # the scan is on the first page as a picture of about 150 dpi (the reader's 200 scaled down)
    pdf = pypdfium2.PdfDocument(str(path))
    widths = [o.get_px_size()[0] for o in pdf[0].get_objects() if o.type == pypdfium2.raw.FPDF_PAGEOBJ_IMAGE]
    pdf.close()
    assert round(210 * PDF_PX_PER_MM) in widths
    assert path.stat().st_size < 1_000_000
