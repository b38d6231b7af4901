"""The annotated return of a scanned sheet: the overlays stand where the sheet's layout puts
the bubbles and say by shape what was scored (they survive a greyscale print), and the PDF
gives each candidate pages of their own with the key, the marks as read and as scored.

The scans are our own printed sheets (``rendering.pdf``), filled and degraded by
``scanning.synthetic`` and rectified and read by ``scanning.reader``, as the scanning service
hands them over."""

from __future__ import annotations

import io
import math
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pypdfium2
import pytest
from PIL import Image

from examengine.exam.items import LETTERS
from examengine.exam.marks import FLAG_NAMES
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
from examengine.rendering.pdf import render_sheets
from examengine.scanning.reader import SHEET_PX_PER_MM, encode_png, load_pages, locate, read_marks
from examengine.scanning.synthetic import MarkKind, TruthRow, printed_page, synthetic_scan

#: 12 单选, 4 判断, 4 多选 (5 options)
TYPES = ["单选"] * 12 + ["判断"] * 4 + ["多选"] * 4
COUNTS = [4] * 12 + [2] * 4 + [5] * 4
MULTIPLE = [t == "多选" for t in TYPES]
LAYOUT = sheet_layout(COUNTS)
KEYS = list("ABCDABCDABCD") + list("ABAB") + ["AC", "BDE", "AB", "CE"]
#: what the candidate marked: wrong on 1, 6, 14 and 18, 7 blank, 9 double
READ = list(KEYS)
READ[0], READ[5], READ[6], READ[8], READ[13], READ[17] = "C", "D", "", "AB", "A", "A"
#: review: 9 (double) corrected to its one clear mark, 7 (blank) confirmed blank
FINAL = list(READ)
FINAL[8] = "A"
WRONG = {1, 6, 7, 14, 18}  # the positions FINAL scores wrong
REVIEWED = {7, 9}
TICKETS = ("20261206001", "20261206002")
PPM = SHEET_PX_PER_MM  # the rectified sheet's scale


@pytest.fixture(scope="module")
def printed() -> list[np.ndarray]:
    """Two candidates' answer sheets as printed, rasterised at the reader's 200 dpi."""
    items = [{"position": i + 1, "options": [f"选项{j}" for j in range(n)]} for i, n in enumerate(COUNTS)]
    ctx = {"form": {"items": items, "code": "A", "title": "530046-L1 试卷 A"},
           "standard": {"code": "530046", "name": "网店运营推广"}, "level": {"code": "L1", "name": "初级"},
           "exam": {"id": 7, "name": "2026 冬季考试"},
           "sheets": [{"name": name, "ticket": t, "room": "第一考场", "qr": f"EE1;exam=7;ticket={t};form=3;code=A"}
                      for name, t in zip(("张三", "李四"), TICKETS, strict=True)]}
    pdf = render_sheets(ctx)
    return [printed_page(pdf, page=1), printed_page(pdf, page=2)]


def scanned(page: np.ndarray, marks: list[str], seed: int) -> tuple[bytes, float, list]:
    """The printed ``page`` filled with ``marks`` in dark pencil (two for a double), scanned
    (turned, scaled, noisy, JPEG 50), then located and read: the rectified sheet as PNG, its
    scale, and what the reader read."""
    plan = [TruthRow(p, letters, MarkKind.BLANK if not letters else
                     MarkKind.DOUBLE if len(letters) > 1 and not multi else MarkKind.DARK)
            for p, (letters, multi) in enumerate(zip(marks, MULTIPLE, strict=True), start=1)]
    scan = synthetic_scan(page, LAYOUT, MULTIPLE, np.random.default_rng(seed), plan=plan)
    (image,) = load_pages("scan.jpg", scan.image)
    located = locate(image)
    assert located.problem == "" and located.px_per_mm == PPM, located.problem
    reads = read_marks(located, LAYOUT, MULTIPLE)
    assert [r.letters for r in reads] == marks, "the reader misread the synthetic scan (tests/scanning)"
    return encode_png(located.sheet), located.px_per_mm, list(reads)


def candidate(page: np.ndarray, ticket: str, name: str, final: list[str], *, seed: int) -> AnnotatedSheet:
    """A candidate whose sheet holds ``final``, except that 9 was marked double and reviewed."""
    marks = list(final)
    marks[8] = READ[8]
    png, ppm, reads = scanned(page, marks, seed)
    at = datetime(2026, 12, 6, 2, 30, tzinfo=UTC)
    rows = tuple(
        AnnotatedRow(position=r.position, type_label=t, read=r.letters, final=f, key=k,
                     correct=sorted(f) == sorted(k), flags=tuple(FLAG_NAMES[x] for x in r.flags),
                     corrected_by="王老师" if r.position in REVIEWED else None,
                     corrected_at=at if r.position in REVIEWED else None)
        for r, t, f, k in zip(reads, TYPES, final, KEYS, strict=True))
    raw = sum(r.correct for r in rows)
    return AnnotatedSheet(
        ticket=ticket, name=name, room="第一考场", exam_name="网店运营推广（初级）2026 年 12 月", form_code="A",
        image_png=png, px_per_mm=ppm, layout=LAYOUT, rows=rows,
        summary=ResultSummary(raw=raw, n_items=len(rows), theta=0.35, se=0.42, band="初级", score=64.0,
                              passed=True, scored_by="李主任", scored_at=datetime(2026, 12, 6, 3, 0, tzinfo=UTC)),
        source="scans.pdf 第 1 页")


@pytest.fixture(scope="module")
def sheet(printed) -> AnnotatedSheet:
    return candidate(printed[0], TICKETS[0], "张三", FINAL, seed=1)


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
                    if row.position not in REVIEWED:
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
    boxed = set()
    for row in sheet.layout.rows:
        band = row.band
        # the dashed box's left side runs down the gap before the row's number: some of it blue
        x = round((band.x - 0.85) * PPM)
        side = after[round(band.y * PPM):round(band.bottom * PPM), x - 2:x + 3]
        blue = np.abs(side - np.array(CORRECTED_COLOUR)).sum(axis=2) < 60
        if blue.any(axis=1).mean() > 0.3:
            boxed.add(row.position)
    assert boxed == REVIEWED


def test_a_row_not_on_the_sheet_or_a_letter_without_a_bubble_is_refused(sheet):
    with pytest.raises(ValueError, match="第 21 题"):
        annotated_image(replace(sheet, rows=sheet.rows + (replace(sheet.rows[0], position=21),)))
    with pytest.raises(ValueError, match="第 13 题：计分作答中的 'C'"):  # a 判断 has A and B only
        annotated_image(replace(sheet, rows=tuple(replace(r, final="C") if r.position == 13 else r
                                                  for r in sheet.rows)))
    with pytest.raises(ValueError):
        annotated_pdf([], "空")


# ---------------------------------------------------------------- the PDF

needs_pdftotext = pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils is not installed")


@pytest.fixture(scope="module")
def room_pdf(sheet, printed, tmp_path_factory):
    """Two candidates of a room in one PDF: the second got 1 and 6 right."""
    final = list(FINAL)
    final[0], final[5] = "A", "B"
    other = candidate(printed[1], TICKETS[1], "李四", final, seed=2)
    path = tmp_path_factory.mktemp("annotated") / "room.pdf"
    path.write_bytes(annotated_pdf([sheet, other], "第一考场 答题卡评分回执", zone="Asia/Shanghai"))
    return path


def page_texts(path) -> list[str]:
    pdf = pypdfium2.PdfDocument(str(path))
    n = len(pdf)
    pdf.close()
    return [subprocess.run(["pdftotext", "-layout", "-f", str(k), "-l", str(k), str(path), "-"],
                           capture_output=True, text=True, check=True).stdout for k in range(1, n + 1)]


#: a position in the table: number, read, scored, key, verdict (four positions a line)
CELL = re.compile(r"(?<!\S)(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+([✓✗])")


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
    own = [p for p in pages if TICKETS[0] in p]
    cells = {int(m[1]): m.groups()[1:] for p in own for m in CELL.finditer(p)}
    assert sorted(cells) == list(range(1, 21))

    def shown(t, letters):
        return "未涂" if not letters else {"A": "A(对)", "B": "B(错)"}[letters] if t == "判断" else letters

    for p, (read, final, key, verdict) in cells.items():
        t = TYPES[p - 1]
        assert (read, final, key) == (shown(t, READ[p - 1]), shown(t, FINAL[p - 1]), shown(t, KEYS[p - 1])), p
        assert (verdict == "✗") == (p in WRONG), p
    # the flagged and reviewed positions, and only they, are listed with who reviewed them and when
    notes = "".join(own).split("识别提示与复核记录")[1]
    assert re.search(r"^\s*9\s+单选\s+AB\s+多涂\s+A\s+更正 王老师 2026-12-06 10:30", notes, re.MULTILINE)
    assert re.search(r"^\s*7\s+单选\s+未涂\s+未涂\s+未涂\s+确认 王老师 2026-12-06 10:30", notes, re.MULTILINE)
    assert sorted(int(n) for n in re.findall(r"^\s*(\d+)\s+(?:单选|多选|判断)", notes, re.MULTILINE)) == [7, 9]


@needs_pdftotext
def test_the_scan_is_embedded_at_about_150_dpi_and_the_pdf_stays_small(room_pdf):
    """The reader's 8 px/mm scaled down to PDF_PX_PER_MM as JPEG: under 1 MB a candidate."""
    pdf = pypdfium2.PdfDocument(str(room_pdf))
    widths = [o.get_px_size()[0] for o in pdf[0].get_objects() if o.type == pypdfium2.raw.FPDF_PAGEOBJ_IMAGE]
    pdf.close()
    assert round(210 * PDF_PX_PER_MM) in widths
    assert room_pdf.stat().st_size < 2 * 1_000_000


@pytest.mark.parametrize("ppm", [1.0, 1.3, 2.0, 3.9])
def test_the_overlays_draw_at_the_low_resolutions_a_stored_sheet_may_have(sheet, ppm):
    """Reproduction (noted at #21): Pillow refused the key ring's fractional corners at low
    resolutions ("x1 must be greater than or equal to x0" at 1.3 px/mm). The stored archive is
    about 3.9 px/mm; a smaller scale must still give a picture with the rings in place."""
    small = Image.open(io.BytesIO(sheet.image_png)).convert("L")
    small = small.resize((round(small.width * ppm / PPM), round(small.height * ppm / PPM)))
    buf = io.BytesIO()
    small.save(buf, "PNG")
    low = replace(sheet, image_png=buf.getvalue(), px_per_mm=ppm)
    out = np.asarray(Image.open(io.BytesIO(annotated_image(low))).convert("RGB"), np.int16)
    assert out.shape[1] == small.width
    b = LAYOUT.rows[1].bubbles[LETTERS.index(KEYS[1])]  # a key bubble: its ring is drawn in the key colour
    ring = out[math.floor((b.y - 0.9) * ppm):math.ceil((b.bottom + 0.9) * ppm) + 1,
               math.floor((b.x - 0.9) * ppm):math.ceil((b.right + 0.9) * ppm) + 1]
    assert ((ring[..., 1] - ring[..., 0]) > 60).any()  # the key colour (green) where the ring is
