"""Scans of our own printed answer sheets read back (issue #21's acceptance): the sheet PDF is
rendered by ``rendering.pdf`` with known QR payloads, filled for a known answer vector (dark,
light pencil, partial fills, faint traces, erasures, doubles, blanks), turned, scaled, blurred,
made noisy and JPEG-compressed (quality 50), some warped like phone photos; every clean mark is
read right, every double, blank and faint trace is flagged, the QR payload is right. A page
without a sheet and an unreadable file say so, naming the file and page."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from examengine.errors import DataFileError
from examengine.exam.marks import MarkFlag
from examengine.exam.sheet_layout import sheet_layout
from examengine.rendering.pdf import render_sheets
from examengine.scanning import reader
from examengine.scanning.reader import (
    PageImage,
    crop,
    encode_png,
    load_pages,
    locate,
    read_marks,
)
from examengine.scanning.synthetic import (
    CLEAN,
    MarkKind,
    degrade,
    fill,
    printed_page,
    random_plan,
    row_plan,
    synthetic_scan,
)

#: a full sheet: 60 单选 of 4 options, 20 多选 of 5, 20 判断
COUNTS = [4] * 60 + [5] * 20 + [2] * 20
MULTIPLE = [False] * 60 + [True] * 20 + [False] * 20
LAYOUT = sheet_layout(COUNTS)
PAYLOADS = ["EE1;exam=7;cand=101;ticket=2026070101;form=3;code=A",
            "EE1;exam=7;cand=102;ticket=2026070102;form=3;code=A"]
#: every kind several times on each sheet
MIX = {MarkKind.DARK: 0.45, MarkKind.LIGHT: 0.1, MarkKind.PARTIAL: 0.1, MarkKind.FAINT: 0.09,
       MarkKind.ERASED: 0.09, MarkKind.DOUBLE: 0.09, MarkKind.BLANK: 0.08}


@pytest.fixture(scope="module")
def printed() -> tuple[bytes, list[np.ndarray]]:
    """The sheets PDF (two candidates) and its pages rasterised at 200 dpi, rendered once."""
    items = [{"position": i + 1, "options": [f"选项{j}" for j in range(n)]} for i, n in enumerate(COUNTS)]
    ctx = {"form": {"items": items, "code": "A", "title": "530046-L1 试卷 A"},
           "standard": {"code": "530046", "name": "网店运营推广"}, "level": {"code": "L1", "name": "初级"},
           "exam": {"id": 7, "name": "2026 春季考试"},
           "sheets": [{"name": name, "ticket": p.split(";")[3][7:], "room": "第 1 考场", "qr": p}
                      for name, p in zip(("张三", "李四"), PAYLOADS)]}
    pdf = render_sheets(ctx)
    return pdf, [printed_page(pdf, page=1), printed_page(pdf, page=2)]


def scan(printed, seed: int, *, sheet: int = 0, **kwargs):
    """A synthetic scan of printed sheet ``sheet`` with every kind of mark at least twice: on
    rows 1-7 and on the 判断 rows 81-87 (then at random)."""
    rng = np.random.default_rng(seed)
    plan = list(random_plan(LAYOUT, MULTIPLE, rng, MIX))
    for k, kind in enumerate(MarkKind):
        for position in (1 + k, 81 + k):
            plan[position - 1] = row_plan(position, COUNTS[position - 1], kind, rng)
    return synthetic_scan(printed[1][sheet], LAYOUT, MULTIPLE, rng, plan=plan, **kwargs)


def read_back(image: bytes, name: str = "scan.jpg"):
    (page,) = load_pages(name, image)
    located = locate(page)
    assert located.problem == "", located.problem
    return located, read_marks(located, LAYOUT, MULTIPLE)


def assert_read_right(truth, reads) -> None:
    assert [r.position for r in reads] == [t.position for t in truth]
    kinds = {t.kind for t in truth}
    assert kinds == set(MarkKind), f"the plan lacks {set(MarkKind) - kinds}"
    for t, r in zip(truth, reads):
        where = f"position {t.position} ({t.kind.value} {t.letters!r}): read {r.letters!r} {r.darkness} {r.flags}"
        if t.kind in CLEAN:
            assert r.letters == t.letters, where
            assert not {MarkFlag.DOUBLE, MarkFlag.BLANK, MarkFlag.FAINT} & set(r.flags), where
        elif t.kind is MarkKind.DOUBLE:
            assert MarkFlag.DOUBLE in r.flags and r.letters == t.letters, where
        elif t.kind is MarkKind.BLANK:
            assert MarkFlag.BLANK in r.flags and r.letters == "", where
        elif t.kind is MarkKind.FAINT:
            assert MarkFlag.FAINT in r.flags and r.needs_review, where
        elif t.kind is MarkKind.ERASED:  # the mark counted, the residue not, and a person looks
            assert r.letters == t.letters and MarkFlag.ERASED in r.flags, where


@pytest.mark.parametrize("seed, upside_down", [(1, False), (2, False), (3, True)])
def test_flatbed_scans_are_read_back_mark_for_mark(printed, seed, upside_down):
    s = scan(printed, seed, upside_down=upside_down)
    located, reads = read_back(s.image)
    assert located.qr == PAYLOADS[0]
    assert located.sheet.shape == (round(297 * reader.SHEET_PX_PER_MM), round(210 * reader.SHEET_PX_PER_MM))
    assert_read_right(s.truth, reads)


@pytest.mark.parametrize("seed", [11, 12])
def test_phone_photos_with_perspective_and_uneven_light_are_read_back(printed, seed):
    s = scan(printed, seed, sheet=1, phone=True)
    located, reads = read_back(s.image, "IMG_0001.jpg")
    assert located.qr == PAYLOADS[1]
    assert_read_right(s.truth, reads)


def test_clean_marks_on_a_clean_sheet_need_no_person(printed):
    rng = np.random.default_rng(5)
    plan = random_plan(LAYOUT, MULTIPLE, rng, {MarkKind.DARK: 1.0})
    s = synthetic_scan(printed[1][0], LAYOUT, MULTIPLE, rng, plan=plan)
    _, reads = read_back(s.image)
    assert [r.letters for r in reads] == [t.letters for t in plan]
    assert not any(r.needs_review for r in reads)


def test_a_pdf_of_several_scanned_pages_is_read_page_by_page(printed):
    scans = [scan(printed, 20 + k, sheet=k % 2) for k in range(3)]
    pictures = [Image.open(io.BytesIO(s.image)) for s in scans]
    buf = io.BytesIO()
    pictures[0].save(buf, format="PDF", save_all=True, append_images=pictures[1:], resolution=200)
    pages = load_pages("batch.pdf", buf.getvalue())
    assert [(p.file, p.page) for p in pages] == [("batch.pdf", 1), ("batch.pdf", 2), ("batch.pdf", 3)]
    for k, (page, s) in enumerate(zip(pages, scans)):
        located = locate(page)
        assert (located.page, located.qr, located.problem) == (k + 1, PAYLOADS[k % 2], "")
        assert_read_right(s.truth, read_marks(located, LAYOUT, MULTIPLE))


def test_a_multi_page_tiff_gives_every_page(printed):
    pictures = [Image.open(io.BytesIO(scan(printed, 30 + k, sheet=k).image)) for k in range(2)]
    buf = io.BytesIO()
    pictures[0].save(buf, format="TIFF", save_all=True, append_images=pictures[1:], compression="tiff_deflate")
    pages = load_pages("scanner.tif", buf.getvalue())
    assert [p.page for p in pages] == [1, 2]
    assert [locate(p).qr for p in pages] == PAYLOADS


def test_the_printed_pdf_itself_reads_as_two_blank_sheets(printed):
    pdf, _ = printed
    for k, page in enumerate(load_pages("sheets.pdf", pdf)):
        located = locate(page)
        assert located.qr == PAYLOADS[k]
        reads = read_marks(located, LAYOUT, MULTIPLE)
        assert all(r.letters == "" and r.flags == (MarkFlag.BLANK,) for r in reads)


def png(gray: np.ndarray) -> bytes:
    return cv2.imencode(".png", gray)[1].tobytes()


def test_a_page_without_a_sheet_on_it_says_so(printed):
    blank = np.full((2339, 1654), 250, np.uint8)
    text_page = printed[1][0].copy()
    px = 200 / 25.4
    for m in LAYOUT.marks:  # the same page without its corner marks: a letter, a booklet page
        text_page[int((m.y - 1) * px):int((m.bottom + 1) * px), int((m.x - 1) * px):int((m.right + 1) * px)] = 255
    for name, gray in (("blank.png", blank), ("no-marks.png", text_page)):
        (page,) = load_pages(name, png(gray))
        located = locate(page)
        assert located.sheet is None and "找不到四角定位标记" in located.problem, name
        assert located.file == name and located.page is None


@pytest.mark.parametrize("corner", [0, 2])
def test_a_scan_that_lost_a_corner_mark_is_refused_not_misread(printed, corner):
    """A filled bubble is a dark square too: taken for the lost mark, it would skew every
    reading; the paper around a real mark is clean, around a bubble it is not."""
    rng = np.random.default_rng(40 + corner)
    plan = random_plan(LAYOUT, MULTIPLE, rng, {MarkKind.DARK: 1.0})
    filled = fill(printed[1][0], LAYOUT, plan, rng)
    px = 200 / 25.4
    m = LAYOUT.marks[corner]
    filled[int((m.y - 1) * px):int((m.bottom + 1) * px), int((m.x - 1) * px):int((m.right + 1) * px)] = 1.0
    (page,) = load_pages("torn.jpg", degrade(filled, rng))
    located = locate(page)
    assert located.sheet is None and "找不到四角定位标记" in located.problem


def test_a_sheet_whose_qr_code_is_smeared_is_found_and_says_the_code_is_unreadable(printed):
    gray = printed[1][0].copy()
    px = 200 / 25.4
    qr = LAYOUT.qr
    rng = np.random.default_rng(0)
    region = gray[int(qr.y * px):int(qr.bottom * px), int(qr.x * px):int(qr.right * px)]
    region[:] = np.clip(region.astype(int) // 3 + rng.integers(0, 160, region.shape), 0, 255).astype(np.uint8)
    located = locate(PageImage("smeared.png", None, gray))
    assert located.sheet is not None and located.qr is None and located.problem == "二维码无法识别"
    assert len(read_marks(located, LAYOUT, MULTIPLE)) == 100


@pytest.mark.parametrize("name, data", [
    ("scan-03.jpg", b"\xff\xd8\xff\xe0 not really a JPEG"),
    ("notes.txt", b"hello"),
    ("empty.png", b""),
    ("batch.pdf", b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF"),
])
def test_an_unreadable_file_is_refused_naming_it(name, data):
    with pytest.raises(DataFileError) as e:
        load_pages(name, data)
    (problem,) = e.value.problems
    assert problem.file == name and problem.field == "文件" and problem.message
    assert name in str(e.value)


def test_a_row_crop_and_its_png(printed):
    located = locate(PageImage("p.png", None, printed[1][0]))
    band = LAYOUT.row(61).band
    piece = crop(located, band, margin_mm=2.0)
    ppm = located.px_per_mm
    assert piece.shape == pytest.approx(((band.h + 4) * ppm, (band.w + 4) * ppm), abs=2)
    assert piece.min() < 100 < piece.max()  # the number and the bubbles' outlines on paper
    back = cv2.imdecode(np.frombuffer(encode_png(piece), np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(back, piece)
