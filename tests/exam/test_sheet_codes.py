"""A sheet's QR code: signed with the exam's key, read back, and refused when edited."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from examengine.exam.sheet_codes import (
    SheetCodeError,
    marks_digest,
    new_sheet_key,
    parse_sheet_code,
    sheet_code,
    signature,
    verify,
)

KEY = "k" * 64


def test_a_signed_code_reads_back_and_verifies_with_its_key_only():
    text = sheet_code(exam_id=3, candidate_id=17, ticket="2026001", form_id=5, form_code="A", key=KEY)
    assert text.startswith("EE2;exam=3;cand=17;ticket=2026001;form=5;code=A;sig=")
    code = parse_sheet_code(text)
    assert (code.exam_id, code.candidate_id, code.ticket, code.form_id, code.form_code) == (3, 17, "2026001", 5, "A")
    assert verify(code, KEY) and not verify(code, new_sheet_key()) and not verify(code, None)
    # HMAC-SHA256, first 16 hex digits, computed independently
    body = text.rpartition(";sig=")[0]
    assert code.signature == hmac.new(KEY.encode(), body.encode(), hashlib.sha256).hexdigest()[:16]


@pytest.mark.parametrize("edit", [lambda t: t.replace("ticket=2026001", "ticket=2026002"),
                                  lambda t: t.replace("cand=17", "cand=18"),
                                  lambda t: t.replace("code=A", "code=B")])
def test_an_edited_code_fails_verification(edit):
    text = sheet_code(exam_id=3, candidate_id=17, ticket="2026001", form_id=5, form_code="A", key=KEY)
    assert not verify(parse_sheet_code(edit(text)), KEY)


def test_blank_and_old_sheets():
    blank = parse_sheet_code(sheet_code(exam_id=None, candidate_id=None, ticket="", form_id=5, form_code="B", key=KEY))
    assert blank.blank and blank.exam_id is None and not blank.signed  # names nobody: nothing to sign
    blank_of_exam = parse_sheet_code(sheet_code(exam_id=3, candidate_id=None, ticket="", form_id=5, form_code="B",
                                                key=KEY))
    assert blank_of_exam.blank and verify(blank_of_exam, KEY)
    old = parse_sheet_code("EE1;exam=1;cand=2;ticket=T1;form=3;code=A")
    assert old.version == "EE1" and not old.signed and old.ticket == "T1"


@pytest.mark.parametrize("text, why", [("hello", "不是本系统"), ("EE2;exam=1;form=x;code=A", "缺少"),
                                       ("EE2;exam=1;cand=2;form=3;code=A", "没有准考证号"),
                                       ("EE2;exam=1;form=3;code=A;sig=xyz", "签名格式"),
                                       ("EE2;exam=1;exam=2;form=3;code=A", "无法解析")])
def test_a_code_that_is_not_ours_says_why(text, why):
    with pytest.raises(SheetCodeError, match=why):
        parse_sheet_code(text)


def test_the_marks_digest_depends_on_the_letters_only():
    assert marks_digest(["A", "BD", ""]) == marks_digest({3: "", 1: "A", 2: "BD"})
    assert marks_digest(["A", "BD", ""]) != marks_digest(["A", "BD", "C"])
    assert signature("x", KEY) != signature("y", KEY)
