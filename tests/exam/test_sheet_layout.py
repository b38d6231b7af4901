"""The answer sheet's geometry: marks, QR box and bubbles inside the page and apart from each
other, forms up to the sheet's capacity fit, larger ones are refused naming the limit."""

from __future__ import annotations

import itertools

import pytest

from examengine.exam import sheet_layout as sl
from examengine.exam.sheet_layout import Box, SheetLayoutError, overlaps, sheet_layout


def every_box(layout: sl.SheetLayout) -> list[Box]:
    return [*layout.marks, layout.qr] + [b for r in layout.rows for b in (r.number, *r.bubbles)]


def inside_page(b: Box, margin: float = 5.0) -> bool:
    return b.x >= margin and b.y >= margin and b.right <= sl.PAGE_W_MM - margin and b.bottom <= sl.PAGE_H_MM - margin


def test_a_hundred_four_option_positions_fit_on_one_sheet_in_four_columns_of_25():
    layout = sheet_layout([4] * 100)
    assert len(layout.rows) == 100 and [r.position for r in layout.rows] == list(range(1, 101))
    assert len({r.number.x for r in layout.rows}) == 4
    assert sum(1 for r in layout.rows if r.number.x == layout.rows[0].number.x) == 25
    assert all(len(r.bubbles) == 4 for r in layout.rows)
    assert all(inside_page(b) for b in every_box(layout))


def test_a_short_form_keeps_twenty_rows_a_column():
    layout = sheet_layout([4] * 45)
    xs = sorted({r.number.x for r in layout.rows})
    assert len(xs) == 3
    assert [sum(1 for r in layout.rows if r.number.x == x) for x in xs] == [20, 20, 5]


def test_nothing_overlaps_and_the_marks_and_qr_stay_clear_of_the_grid():
    layout = sheet_layout([4] * 60 + [5] * 20 + [2] * 20)
    boxes = every_box(layout)
    for a, b in itertools.combinations(boxes, 2):
        assert not overlaps(a, b), (a, b)
    for fixed in (*layout.marks, layout.qr):
        assert not overlaps(fixed, layout.grid.inset(-2))
    for r in layout.rows:
        for b in (r.number, *r.bubbles):
            assert layout.grid.x - 1e-6 <= b.x and b.right <= layout.grid.right + 1e-6
            assert layout.grid.y - 1e-6 <= b.y and b.bottom <= layout.grid.bottom + 1e-6
    # the QR code does not touch the top-right mark: a reader tells them apart by distance too
    qr, tr = layout.qr, layout.marks[1]
    assert tr.x - qr.right >= 3 or qr.y - tr.bottom >= 3


def test_the_marks_are_solid_squares_in_the_corners_the_same_on_every_sheet():
    a, b = sheet_layout([2] * 10), sheet_layout([6] * 70)
    assert a.marks == b.marks == sl.MARKS and a.qr == b.qr
    tl, tr, br, bl = a.marks
    assert all(m.w == m.h == sl.MARK_SIZE for m in a.marks)
    assert (tl.x, tl.y) == (sl.MARK_INSET, sl.MARK_INSET)
    assert (sl.PAGE_W_MM - tr.right, tr.y) == (sl.MARK_INSET, sl.MARK_INSET)
    assert (sl.PAGE_W_MM - br.right, sl.PAGE_H_MM - br.bottom) == (sl.MARK_INSET, sl.MARK_INSET)
    assert (bl.x, sl.PAGE_H_MM - bl.bottom) == (sl.MARK_INSET, sl.MARK_INSET)
    assert sl.MARK_CENTERS[0] == (12.5, 12.5) and sl.MARK_CENTERS[2] == (197.5, 284.5)


def test_bubbles_have_the_printed_size_and_pitch_within_a_row():
    row = sheet_layout([5] * 3).row(2)
    assert row.position == 2
    assert all((b.w, b.h) == (sl.BUBBLE_W, sl.BUBBLE_H) for b in row.bubbles)
    assert [round(b2.x - b1.x, 6) for b1, b2 in itertools.pairwise(row.bubbles)] == [6.8] * 4
    assert row.band.x == row.number.x and row.band.right == row.bubbles[-1].right and row.band.h == sl.BUBBLE_H
    with pytest.raises(KeyError):
        sheet_layout([4] * 3).row(4)


def test_rows_are_evenly_spaced_with_a_gap_after_every_five():
    rows = sheet_layout([4] * 100).rows[:25]  # the first column of 25
    steps = [round(b.number.y - a.number.y, 6) for a, b in itertools.pairwise(rows)]
    assert steps == [6.2 if (i + 1) % 5 else 7.7 for i in range(24)]


@pytest.mark.parametrize("options, most", [(2, 175), (4, 100), (5, 100), (6, 75)])
def test_a_form_one_position_over_the_capacity_is_refused_naming_the_limit(options, most):
    assert sl.capacity(options) == most
    assert len(sheet_layout([options] * most).rows) == most
    with pytest.raises(SheetLayoutError) as e:
        sheet_layout([options] * (most + 1))
    assert f"最多 {most} 题" in str(e.value) and f"共 {most + 1} 题" in str(e.value)


def test_a_column_is_as_wide_as_its_widest_row():
    layout = sheet_layout([2] * 20 + [4] * 20)
    first, second = layout.rows[0], layout.rows[20]
    assert second.number.x - first.number.x == pytest.approx(sl.column_width(2) + sl.COLUMN_GAP)
    assert layout.grid.w == pytest.approx(sl.column_width(2) + sl.COLUMN_GAP + sl.column_width(4))
    assert layout.grid.x + layout.grid.w / 2 == pytest.approx(sl.PAGE_W_MM / 2)


@pytest.mark.parametrize("counts, text", [([], "没有题目"), ([4, 1, 4], "第 2 题有 1 个选项"), ([4, 7], "第 2 题有 7 个选项")])
def test_impossible_forms_are_refused(counts, text):
    with pytest.raises(SheetLayoutError, match=text):
        sheet_layout(counts)


def test_the_layout_is_deterministic():
    counts = [4] * 30 + [5] * 10 + [2] * 10
    assert sheet_layout(counts) == sheet_layout(list(counts))
