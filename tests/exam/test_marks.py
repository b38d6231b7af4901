"""A row's darkness read as letters, a confidence and flags: one clear mark is read, two in a
单选 row are a double, none a blank; a faint trace is flagged, never counted silently; an
eraser's residue beside a mark is flagged and not counted; the sheet's threshold sits in the gap
of its own darkness values, within bounds."""

from __future__ import annotations

import pytest

from examengine.exam import marks
from examengine.exam.marks import MarkFlag, classify, sheet_threshold


def test_one_clear_mark_is_read_with_full_confidence():
    r = classify(7, [0.01, 0.86, 0.0, 0.02], multiple=False)
    assert (r.position, r.letters, r.flags, r.confidence) == (7, "B", (), 1.0)
    assert not r.needs_review


def test_two_marks_in_a_single_answer_row_are_a_double_naming_both():
    r = classify(1, [0.8, 0.0, 0.55, 0.0], multiple=False)
    assert r.letters == "AC" and MarkFlag.DOUBLE in r.flags and r.needs_review


def test_two_marks_in_a_multiple_answer_row_are_an_answer():
    r = classify(1, [0.8, 0.0, 0.55, 0.0, 0.9], multiple=True)
    assert r.letters == "ACE" and r.flags == () and not r.needs_review


def test_a_row_without_any_trace_is_blank():
    r = classify(3, [0.0, 0.02, 0.01, 0.0], multiple=False)
    assert r.letters == "" and r.flags == (MarkFlag.BLANK,) and r.needs_review


def test_a_faint_trace_alone_is_reported_with_its_letter_flagged_and_a_low_confidence():
    r = classify(4, [0.0, 0.0, 0.24, 0.0], multiple=False)
    assert r.letters == "C" and r.flags == (MarkFlag.FAINT,)
    assert r.confidence <= marks.FAINT_CONFIDENCE < marks.REVIEW_CONFIDENCE and r.needs_review


def test_an_erased_residue_beside_a_mark_is_flagged_and_not_counted():
    r = classify(5, [0.09, 0.0, 0.0, 0.84], multiple=False)
    assert r.letters == "D" and r.flags == (MarkFlag.ERASED,) and r.needs_review
    heavier = classify(5, [0.25, 0.0, 0.0, 0.84], multiple=False)  # an erasure that left much behind
    assert heavier.letters == "D" and MarkFlag.ERASED in heavier.flags


def test_a_residue_alone_is_a_blank_row_with_an_erasure():
    r = classify(6, [0.0, 0.1, 0.0, 0.0], multiple=False)
    assert r.letters == "" and r.flags == (MarkFlag.BLANK, MarkFlag.ERASED)


def test_a_faint_option_beside_marks_of_a_multiple_answer_row_is_flagged_not_counted():
    r = classify(8, [0.8, 0.25, 0.9, 0.0], multiple=True)
    assert r.letters == "AC" and r.flags == (MarkFlag.FAINT,)


def test_a_mark_just_over_the_threshold_is_read_but_not_trusted():
    r = classify(9, [0.0, marks.DEFAULT_THRESHOLD + 0.01, 0.0, 0.0], multiple=False)
    assert r.letters == "B" and r.flags == () and r.confidence < marks.REVIEW_CONFIDENCE and r.needs_review
    assert classify(9, [0.0, 0.41, 0.0, 0.0], multiple=False).confidence == 1.0


def test_darkness_is_clipped_to_zero_and_one():
    r = classify(2, [-0.2, 1.3], multiple=False)
    assert r.darkness == (0.0, 1.0) and r.letters == "B"


def test_the_threshold_follows_the_sheet_and_changes_the_reading():
    light_handed = [0.0] * 60 + [0.30, 0.31, 0.32, 0.33] * 5  # every mark light
    t = sheet_threshold(light_handed)
    assert t == pytest.approx(0.29)  # under the marks, at the range's floor
    assert classify(1, [0.0, 0.31], multiple=False, threshold=t).letters == "B"
    assert classify(1, [0.0, 0.31], multiple=False).flags == (MarkFlag.FAINT,)  # the absolute default


def test_light_marks_move_the_threshold_away_from_them():
    values = [0.0] * 50 + [0.9] * 20 + [0.2, 0.37]  # a faint trace and one light mark
    assert sheet_threshold(values) == pytest.approx((0.28 + 0.37) / 2)


@pytest.mark.parametrize("values", [
    [0.0] * 50 + [0.9] * 20,  # the gap spans the whole range
    [0.0] * 50,  # nothing marked: no gap
    [0.0] * 50 + [0.1] * 20,  # only traces under the range
    [0.3, 0.33, 0.36, 0.39],  # no gap wide enough
    [],
])
def test_the_threshold_stays_in_the_middle_without_values_in_the_range(values):
    assert sheet_threshold(values) == marks.DEFAULT_THRESHOLD
