"""Scanned sheets: an exam with two printed forms, and a stand-in for the reader (pages
described as JSON: each page's QR text and the letters per position, with flags) so that the
use case's rules are tested without images; tests with real synthetic scans use the reader."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
from sqlalchemy import select

from examengine.db.models import Candidate, Exam
from examengine.exam.marks import MarkFlag, PositionRead
from examengine.scanning.reader import LocatedSheet, PageImage
from examengine.services import forms as forms_svc
from examengine.services import scans as svc


@dataclass
class PrintedExam:
    exam_id: int
    forms: list  # FormView with keys
    candidates: list[Candidate]

    def form(self, code: str):
        return next(f for f in self.forms if f.code == code)


@pytest.fixture
def printed_exam(bank_db) -> PrintedExam:
    """The demo exam (1) with two 12-item forms of 530046-L1 printed for its roster (which sets
    the exam's sheet key)."""
    asm = forms_svc.assemble(bank_db, blueprint="530046-L1", n_forms=2, length=12, actor="test", seed=3)
    for f in asm.forms:
        forms_svc.print_form(bank_db, f.id, booklet=False, sheets=False, key=True, exam_id=1, actor="test")
    cands = list(bank_db.scalars(select(Candidate).where(Candidate.exam_id == 1).order_by(Candidate.ticket)))
    return PrintedExam(1, asm.forms, cands)


def qr_for(db, exam_id: int | None, candidate, form_view) -> str:
    from examengine.db.forms_models import Form

    key = db.get(Exam, exam_id).sheet_key if exam_id else None
    return forms_svc.qr_payload(exam_id, candidate, db.get(Form, form_view.id), key)


def page_spec(qr: str | None, letters: list[str], *, flags: dict[int, list[MarkFlag]] | None = None,
              confidence: dict[int, float] | None = None, problem: str = "") -> dict:
    return {"qr": qr, "letters": letters, "problem": problem,
            "flags": {str(k): [f.value for f in v] for k, v in (flags or {}).items()},
            "confidence": {str(k): v for k, v in (confidence or {}).items()}}


def fake_file(*pages: dict) -> bytes:
    """A 'scan file' for the stand-in reader: its pages, as JSON."""
    return json.dumps(list(pages)).encode()


class FakeReader:
    """load_pages/locate/read_marks/crop/encode_png reading ``fake_file`` bytes."""

    def __init__(self) -> None:
        self.specs: dict[tuple[str, int | None], dict] = {}

    def load_pages(self, filename, data, *, dpi=200):
        from examengine.errors import DataFileError, Problem

        try:
            pages = json.loads(data)
        except ValueError:
            raise DataFileError([Problem(filename, "", "", "文件不是 PDF 或图片")]) from None
        out = []
        for k, spec in enumerate(pages, start=1):
            self.specs[(filename, k)] = spec
            out.append(PageImage(filename, k, np.zeros((4, 4), np.uint8)))
        return out

    def iter_pages(self, filename, data, *, dpi=200):
        yield from self.load_pages(filename, data, dpi=dpi)

    def locate(self, page):
        spec = self.specs[(page.file, page.page)]
        found = spec["problem"] != "找不到四角定位标记"
        return LocatedSheet(page.file, page.page, spec["qr"], np.full((297, 210), 200, np.uint8) if found else None,
                            1.0, spec["problem"])

    def read_marks(self, located, layout, multiple):
        spec = self.specs[(located.file, located.page)]
        out = []
        for row, letters, multi in zip(layout.rows, spec["letters"], multiple, strict=True):
            p = str(row.position)
            flags = tuple(MarkFlag(f) for f in spec["flags"].get(p, []))
            dark = tuple(0.9 if chr(65 + i) in letters else 0.02 for i in range(len(row.bubbles)))
            out.append(PositionRead(row.position, letters, dark, spec["confidence"].get(p, 0.99), flags))
        return tuple(out)

    def crop(self, located, box, *, margin_mm=2.0):
        x0, y0 = int(box.x * located.px_per_mm), int(box.y * located.px_per_mm)
        return located.sheet[y0:y0 + int(box.h) + 1, x0:x0 + int(box.w) + 1]

    def encode_png(self, gray):
        import cv2

        return cv2.imencode(".png", gray)[1].tobytes()


@pytest.fixture
def fake_reader(monkeypatch) -> FakeReader:
    fake = FakeReader()
    for name in ("load_pages", "iter_pages", "locate", "read_marks", "crop", "encode_png"):
        monkeypatch.setattr(svc.reader, name, getattr(fake, name))
    return fake


def key_letters(form_view) -> list[str]:
    return ["".join(it.key) for it in form_view.items]


# ---------------------------------------------------------------- real synthetic scans


def printed_sheets(db, exam_id: int, form_view) -> bytes:
    """The answer sheets PDF of ``form_view`` for the exam's roster (one page per candidate)."""
    return forms_svc.print_form(db, form_view.id, booklet=False, sheets=True, key=False, exam_id=exam_id, actor="test").sheets


def key_plan(form_view, *, double: bool = False):
    """Every position marked dark with its key; ``double``: the first 单选 also has a second mark."""
    from examengine.scanning.synthetic import MarkKind, TruthRow

    rows = []
    doubled = False
    for it in form_view.items:
        letters = "".join(it.key)
        if double and not doubled and it.type == "单选":
            other = next(x for x in "ABCD" if x not in letters)
            rows.append(TruthRow(it.position, "".join(sorted(letters + other)), MarkKind.DOUBLE))
            doubled = True
        else:
            rows.append(TruthRow(it.position, letters, MarkKind.DARK))
    return rows


def synthetic_scans(db, exam_id: int, form_view, pages: list[int], *, double: set[int] = frozenset(),
                    seed: int = 7) -> list[bytes]:
    """JPEG scans of printed sheets ``pages`` (1-based, in print order: room, seat, ticket) filled with the key,
    turned, scaled, noisy, JPEG quality 50 (``scanning.synthetic``); pages in ``double`` carry
    a double mark on their first 单选."""
    from examengine.exam.sheet_layout import sheet_layout
    from examengine.scanning.synthetic import printed_page, synthetic_scan

    pdf = printed_sheets(db, exam_id, form_view)
    layout = sheet_layout([2 if it.type == "判断" else len(it.options) for it in form_view.items])
    multiple = [it.type == "多选" for it in form_view.items]
    rng = np.random.default_rng(seed)
    return [synthetic_scan(printed_page(pdf, page=p), layout, multiple, rng,
                           plan=key_plan(form_view, double=p in double)).image for p in pages]


def pdf_of(jpegs: list[bytes]) -> bytes:
    """A multi-page PDF of scanned pages (as a scanner's 'scan to PDF' makes), 200 dpi."""
    import io

    from PIL import Image

    images = [Image.open(io.BytesIO(j)) for j in jpegs]
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=200.0)
    return out.getvalue()
