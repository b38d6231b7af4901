"""Paper answers are scored by EAP on the form's items with the online prior, stored beside
the exam's attempts; a file with any bad row writes nothing and names every bad row."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from examengine.db.forms_models import PaperResult
from examengine.db.models import Candidate
from examengine.errors import DataFileError
from examengine.services import forms as svc


def answer_string(form, rng, p_right: float) -> str:
    out = []
    for it in form.items:
        if rng.random() < p_right:
            letters = "".join(it.key)
        else:
            letters = next(x for x in "ABCDEF"[:len(it.options)] if x not in it.key)
        out.append({"A": "对", "B": "错"}[letters] if it.type == "判断" else letters)
    return ",".join(out)


def eap_by_hand(form, scores) -> tuple[float, float]:
    """EAP on 81 points over [-6, 6] (trapezoid), N(0, 1) prior, 3PL with D = 1."""
    q = np.linspace(-6, 6, 81)
    w = np.exp(-q**2 / 2)
    w[[0, -1]] *= 0.5
    like = np.ones_like(q)
    for it, u in zip(form.items, scores):
        p = it.c + (1 - it.c) / (1 + np.exp(-it.a * (q - it.b)))
        like *= p if u else 1 - p
    post = like * w / (like * w).sum()
    mean = float(post @ q)
    return mean, float(np.sqrt(post @ q**2 - mean**2))


@pytest.fixture
def exam_with_forms(bank_db, l1_forms):
    for f in l1_forms.forms:
        svc.print_form(bank_db, f.id, booklet=False, sheets=False, key=True, exam_id=1, actor="test")
    return l1_forms


def test_paper_answers_are_scored_by_eap_and_stored_with_the_online_result_fields(bank_db, exam_with_forms):
    a, b = exam_with_forms.forms
    tickets = [c.ticket for c in bank_db.scalars(select(Candidate).where(Candidate.exam_id == 1).order_by(Candidate.ticket))]
    rng = np.random.default_rng(4)
    lines = ["准考证号,试卷,答案"]
    plan = {}
    for k, t in enumerate(tickets[:4]):
        form = (a, b)[k % 2]
        lines.append(f'{t},{form.code},"{answer_string(form, rng, [0.2, 0.5, 0.8, 1.0][k])}"')
        plan[t] = form
    r = svc.score_paper(bank_db, 1, "答案.csv", ("\n".join(lines) + "\n").encode(), actor="test")
    assert (r.added, r.updated) == (4, 0)
    for row in r.rows:
        form = plan[row.ticket]
        stored = bank_db.scalars(select(PaperResult).join(Candidate).where(Candidate.ticket == row.ticket)).one()
        theta, se = eap_by_hand(form, stored.scores)
        assert stored.theta == pytest.approx(theta, abs=1e-9) and stored.se == pytest.approx(se, abs=1e-9)
        assert stored.result["band_name"] in ("未达初级", "初级", "中级", "高级")
        assert stored.result["passed"] == (stored.theta >= -1.0)  # 530046-L1: the 初级 cut at theta -1
        assert 0 <= stored.result["score"] <= 100 and len(stored.result["domains"]) == 4
    all_right = next(x for x in r.rows if x.raw_score == x.n_items)
    assert all_right.passed and all_right.score > 60
    again = svc.score_paper(bank_db, 1, "答案.csv", ("\n".join(lines[:2]) + "\n").encode(), actor="test")
    assert (again.added, again.updated) == (0, 1)
    assert [x.ticket for x in svc.paper_results(bank_db, 1)] == sorted(plan)


def test_a_file_with_bad_rows_names_each_and_writes_nothing(bank_db, exam_with_forms):
    a = exam_with_forms.forms[0]
    good = answer_string(a, np.random.default_rng(1), 0.7)
    first_single = next(it.position for it in a.items if it.type == "单选" and len(it.options) == 4)
    bad_option = good.split(",")
    bad_option[first_single - 1] = "E"
    tickets = [c.ticket for c in bank_db.scalars(select(Candidate).where(Candidate.exam_id == 1).order_by(Candidate.ticket))]
    csv = "\n".join([
        "准考证号,试卷,答案",
        f'{tickets[0]},A,"{good}"',
        f'NOBODY,A,"{good}"',
        f'{tickets[1]},Z,"{good}"',
        f'{tickets[2]},A,"{",".join(bad_option)}"',
    ]) + "\n"
    with pytest.raises(DataFileError) as caught:
        svc.score_paper(bank_db, 1, "答案.csv", csv.encode(), actor="test")
    where = [(p.location, p.field) for p in caught.value.problems]
    assert where == [("第 3 行", "准考证号"), ("第 4 行", "试卷"), ("第 5 行", f"第 {first_single} 题")]
    assert "“E”" in caught.value.problems[2].message
    assert bank_db.scalar(select(func.count()).select_from(PaperResult)) == 0


def test_answers_may_come_one_column_per_item(bank_db, exam_with_forms):
    a = exam_with_forms.forms[0]
    ticket = bank_db.scalars(select(Candidate.ticket).where(Candidate.exam_id == 1).order_by(Candidate.ticket)).first()
    cells = ["".join(it.key) for it in a.items]
    csv = "准考证号,试卷," + ",".join(str(i) for i in range(1, a.length + 1)) + "\n" + f"{ticket},A," + ",".join(cells) + "\n"
    r = svc.score_paper(bank_db, 1, "答案.csv", csv.encode(), actor="test")
    assert r.rows[0].raw_score == a.length and r.rows[0].omitted == 0
