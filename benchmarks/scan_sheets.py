"""Benchmark: the answer-sheet reader on synthetic scans of our own printed sheet (issue #21).

A 100-position sheet (60 单选 of 4 options, 20 多选 of 5, 20 判断) is rendered by
``rendering.pdf`` and rasterised at 200 dpi; ``scanning.synthetic`` fills it for random answer
vectors (its default mix: 72 % dark, 8 % light pencil, 8 % partial, 3 % each faint, erased,
double, blank in the single-answer rows) and degrades it: 70 % flatbed (±4°, 0.95–1.05,
blur, noise, JPEG 50), 10 % the same fed upside down, 20 % phone-like (perspective, dark
table, uneven light). Each scan is read as the scan service reads it: decode, ``locate``,
``read_marks``. Prints JSON:

- ``clean_bubble_accuracy``: bubbles of dark/light/partial rows read in the right state (goal
  ≥ 99.9 %); ``clean_rows_right``; ``clean_rows_needing_review`` (false alarms);
- ``doubles_flagged``, ``blanks_flagged`` (goal 100 %), ``faint_flagged``, ``erased_flagged``;
- ``sheets_needing_a_person`` (any position flagged or unsure: with 12 % deliberate problems a
  sheet, nearly all) and ``sheets_needing_a_person_for_clean_marks``;
- speed, single-threaded (``cv2.setNumThreads(1)``, CPU seconds): ``sheets_per_second_per_core``
  for decode+locate+read_marks of a JPEG page, for locate+read_marks alone, and for a PDF of
  scans (``load_pages`` rasterising at 200 dpi + locate + read_marks); goal ≥ 4;
- memory: ``tracemalloc`` peak while reading one page, and the process's peak RSS.

Peer measured in the same run (habit 14): OMRChecker's global rule alone, on the very same
measured bubbles: one threshold per sheet at the largest jump of the sorted raw bubble
darkness, no blank level per letter, no faint or erased zones (a simplification of OMRChecker,
which also thresholds per question strip).

    .venv/bin/python benchmarks/scan_sheets.py [--sheets 200] [--seed 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from examengine.exam.items import LETTERS  # noqa: E402
from examengine.exam.marks import MarkFlag  # noqa: E402
from examengine.exam.sheet_layout import sheet_layout  # noqa: E402
from examengine.rendering.pdf import render_sheets  # noqa: E402
from examengine.scanning import reader  # noqa: E402
from examengine.scanning.synthetic import CLEAN, MarkKind, printed_page, synthetic_scan  # noqa: E402

COUNTS = [4] * 60 + [5] * 20 + [2] * 20
MULTIPLE = [False] * 60 + [True] * 20 + [False] * 20
PAYLOAD = "EE1;exam=7;cand={n};ticket=2026{n:06d};form=3;code=A"


def printed_sheet() -> np.ndarray:
    items = [{"position": i + 1, "options": ["x"] * n} for i, n in enumerate(COUNTS)]
    ctx = {"form": {"items": items, "code": "A", "title": "530046-L1 试卷 A"},
           "standard": {"code": "530046", "name": "网店运营推广"}, "level": {"code": "L1", "name": "初级"},
           "exam": {"id": 7, "name": "基准测试"},
           "sheets": [{"name": "考生", "ticket": "2026000001", "room": "第 1 考场", "qr": PAYLOAD.format(n=1)}]}
    return printed_page(render_sheets(ctx))


def omr_gap_peer(raw: list[np.ndarray]) -> list[str]:
    """OMRChecker's global rule: threshold at the largest jump of the sheet's sorted bubble values."""
    values = np.sort(np.concatenate(raw))
    jumps = np.diff(values)
    k = int(np.argmax(jumps))
    threshold = (values[k] + values[k + 1]) / 2
    return ["".join(LETTERS[j] for j, v in enumerate(row) if v >= threshold) for row in raw]


def cpu(fn):
    t = time.process_time()
    value = fn()
    return value, time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sheets", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pdf-pages", type=int, default=20)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    started = time.perf_counter()
    layout = sheet_layout(COUNTS)
    page = printed_sheet()
    rng = np.random.default_rng(args.seed)

    n = {"clean_bubbles": 0, "clean_bubbles_right": 0, "clean_rows": 0, "clean_rows_right": 0,
         "clean_rows_review": 0, "double": 0, "double_flagged": 0, "blank": 0, "blank_flagged": 0,
         "faint": 0, "faint_flagged": 0, "erased": 0, "erased_flagged": 0, "erased_read_right": 0,
         "sheets_review": 0, "sheets_review_clean": 0, "located": 0, "qr_right": 0,
         "peer_clean_bubbles_right": 0, "peer_double_flagged": 0, "peer_blank_flagged": 0}
    t_full, t_core, jpegs, kinds = [], [], [], {"flatbed": 0, "upside_down": 0, "phone": 0}
    errors = []
    for i in range(args.sheets):
        style = "phone" if i % 10 >= 8 else "upside_down" if i % 10 == 7 else "flatbed"
        kinds[style] += 1
        scan = synthetic_scan(page, layout, MULTIPLE, rng, phone=style == "phone", upside_down=style == "upside_down")
        if len(jpegs) < args.pdf_pages:
            jpegs.append(scan.image)
        (pg,), t_load = cpu(lambda: reader.load_pages(f"{i}.jpg", scan.image))
        located, t_locate = cpu(lambda: reader.locate(pg))
        if located.sheet is None:
            errors.append({"sheet": i, "style": style, "problem": located.problem})
            continue
        reads, t_read = cpu(lambda: reader.read_marks(located, layout, MULTIPLE))
        t_full.append(t_load + t_locate + t_read)
        t_core.append(t_locate + t_read)
        n["located"] += 1
        n["qr_right"] += located.qr == PAYLOAD.format(n=1)
        peer = omr_gap_peer(reader.measure(located, layout))
        n["sheets_review"] += any(r.needs_review for r in reads)
        n["sheets_review_clean"] += any(r.needs_review for t, r in zip(scan.truth, reads) if t.kind in CLEAN)
        for t, r, p, options in zip(scan.truth, reads, peer, COUNTS):
            flags = set(r.flags)
            if t.kind in CLEAN:
                n["clean_rows"] += 1
                n["clean_rows_right"] += r.letters == t.letters and not flags & {MarkFlag.DOUBLE, MarkFlag.BLANK,
                                                                                  MarkFlag.FAINT}
                n["clean_rows_review"] += r.needs_review
                for letter in LETTERS[:options]:
                    n["clean_bubbles"] += 1
                    n["clean_bubbles_right"] += (letter in r.letters) == (letter in t.letters)
                    n["peer_clean_bubbles_right"] += (letter in p) == (letter in t.letters)
                if r.letters != t.letters and len(errors) < 20:
                    errors.append({"sheet": i, "style": style, "position": t.position, "kind": t.kind.value,
                                   "truth": t.letters, "read": r.letters, "darkness": r.darkness})
            elif t.kind is MarkKind.DOUBLE:
                n["double"] += 1
                n["double_flagged"] += MarkFlag.DOUBLE in flags
                n["peer_double_flagged"] += len(p) > 1
            elif t.kind is MarkKind.BLANK:
                n["blank"] += 1
                n["blank_flagged"] += MarkFlag.BLANK in flags
                n["peer_blank_flagged"] += p == ""
            elif t.kind is MarkKind.FAINT:
                n["faint"] += 1
                n["faint_flagged"] += MarkFlag.FAINT in flags
            elif t.kind is MarkKind.ERASED:
                n["erased"] += 1
                n["erased_flagged"] += MarkFlag.ERASED in flags
                n["erased_read_right"] += r.letters == t.letters

    # one page's memory, traced
    pg = reader.load_pages("m.jpg", jpegs[0])[0]
    tracemalloc.start()
    reader.read_marks(reader.locate(pg), layout, MULTIPLE)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    # a PDF of scans, as a scanner hands it over
    from PIL import Image

    pictures = [Image.open(io.BytesIO(j)) for j in jpegs]
    buf = io.BytesIO()
    pictures[0].save(buf, format="PDF", save_all=True, append_images=pictures[1:], resolution=200)
    t_pdf = time.process_time()
    pdf_located = 0
    for p in reader.iter_pages("batch.pdf", buf.getvalue()):
        located = reader.locate(p)
        if located.sheet is not None:
            reader.read_marks(located, layout, MULTIPLE)
            pdf_located += 1
    t_pdf = time.process_time() - t_pdf

    def share(a: str, b: str) -> float | None:
        return round(n[a] / n[b], 5) if n[b] else None

    out = {
        "sheets": args.sheets, "styles": kinds, "dpi": reader.SCAN_DPI, "jpeg_quality": 50,
        "located": n["located"], "qr_decoded_right": n["qr_right"],
        "clean_bubbles": n["clean_bubbles"], "clean_bubble_accuracy": share("clean_bubbles_right", "clean_bubbles"),
        "clean_rows": n["clean_rows"], "clean_rows_right": share("clean_rows_right", "clean_rows"),
        "clean_rows_needing_review": share("clean_rows_review", "clean_rows"),
        "doubles": n["double"], "doubles_flagged": share("double_flagged", "double"),
        "blanks": n["blank"], "blanks_flagged": share("blank_flagged", "blank"),
        "faint": n["faint"], "faint_flagged": share("faint_flagged", "faint"),
        "erased": n["erased"], "erased_flagged": share("erased_flagged", "erased"),
        "erased_rows_read_right": share("erased_read_right", "erased"),
        "sheets_needing_a_person": share("sheets_review", "located"),
        "sheets_needing_a_person_for_clean_marks": share("sheets_review_clean", "located"),
        "speed_single_thread": {
            "jpeg_decode_locate_read_ms": round(1000 * float(np.mean(t_full)), 1),
            "sheets_per_second_per_core": round(1 / float(np.mean(t_full)), 2),
            "locate_read_ms": round(1000 * float(np.mean(t_core)), 1),
            "locate_read_sheets_per_second_per_core": round(1 / float(np.mean(t_core)), 2),
            "pdf_pages": len(jpegs), "pdf_pages_located": pdf_located,
            "pdf_load_locate_read_ms": round(1000 * t_pdf / len(jpegs), 1),
            "pdf_sheets_per_second_per_core": round(len(jpegs) / t_pdf, 2),
        },
        "memory": {"traced_peak_mb_one_page": round(traced_peak / 2**20, 1),
                   "process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)},
        "peer_omrchecker_global_gap": {
            "clean_bubble_accuracy": share("peer_clean_bubbles_right", "clean_bubbles"),
            "doubles_flagged": share("peer_double_flagged", "double"),
            "blanks_flagged": share("peer_blank_flagged", "blank"),
        },
        "errors": errors,
        "seconds": round(time.perf_counter() - started, 1),
        "versions": {"opencv": cv2.__version__, "numpy": np.__version__},
    }
    text = json.dumps(out, ensure_ascii=False, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
