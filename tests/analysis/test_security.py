"""Test-security analyses on stored exams (issue #22, points 4-7): response times of an adaptive
exam (pre-knowledge flagged, a linear exam refused), answer similarity of paper sheets in rooms
(planted copiers flagged), item compromise (leaked and drifted items flagged), through the
services, the admin API and the CLI, and the post-window report in HTML and PDF."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import insert, select, update
from typer.testing import CliRunner

from examengine.cli import app as cli_app
from examengine.config import Settings
from examengine.db.forms_models import Form, FormAssembly, FormItem, PaperResult
from examengine.db.models import Attempt, AttemptItem, Candidate, Exam, Item, ItemVersion, Level
from examengine.errors import ConflictError
from examengine.services import security
from examengine.services.exams import create_exam
from tests.analysis.test_analysis import seed_exam
from tests.conftest import REPO, staff_client

runner = CliRunner()
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def add_times(db, exam_id: int, knowers: list[str], hardest: set[int], seed: int = 3) -> dict:
    """Lognormal response times for the seeded exam's answers (attempts one after another);
    every third knower (20 of 60: 8 % of a leaked item's exposures) answers the 5 hardest items
    in 3-8 s, the others take their usual time. After its 100th exposure the most exposed
    of the other items drifts: 60 % of its wrong answers become right."""
    rng = np.random.default_rng(seed)
    rows = db.execute(select(AttemptItem.id, AttemptItem.item_version_id, AttemptItem.score, Candidate.ticket,
                             Attempt.theta, ItemVersion.irt_b, ItemVersion.irt_a, ItemVersion.irt_c)
                      .join(Attempt, AttemptItem.attempt_id == Attempt.id)
                      .join(Candidate, Attempt.candidate_id == Candidate.id)
                      .join(ItemVersion, ItemVersion.id == AttemptItem.item_version_id)
                      .where(Attempt.exam_id == exam_id).order_by(Attempt.seed, AttemptItem.position)).all()
    versions = sorted({r.item_version_id for r in rows})
    beta = dict(zip(versions, rng.normal(3.8, 0.3, len(versions))))
    counts = {}
    for r in rows:
        if r.item_version_id not in hardest:
            counts[r.item_version_id] = counts.get(r.item_version_id, 0) + 1
    first = max(counts, key=counts.get)
    fast = set(sorted(knowers)[::3])
    speed: dict[str, float] = {}
    at, seen_first, changes = T0, 0, []
    for r in rows:
        tau = speed.setdefault(r.ticket, rng.normal(0, 0.3))
        t = float(np.exp(beta[r.item_version_id] - tau + rng.normal(0, 0.5)))
        score = r.score
        if r.ticket in fast and r.item_version_id in hardest:
            t = float(rng.uniform(3, 8))
        if r.item_version_id == first:
            seen_first += 1
            if seen_first > 100 and not score and rng.random() < 0.6:
                score = 1
        changes.append({"id": r.id, "presented_at": at, "answered_at": at + timedelta(seconds=t), "score": score})
        at += timedelta(seconds=t + 1)
    db.execute(update(AttemptItem), changes)
    db.commit()
    return {"drifted": first, "fast": sorted(fast)}


@pytest.fixture
def timed(bank_db):
    seeded = seed_exam(bank_db)
    return seeded | add_times(bank_db, seeded["exam_id"], seeded["knowers"], seeded["hardest"])


def test_response_times_flag_the_fast_pre_knowledge_and_the_cusum_the_leaked_and_drifted_items(bank_db, timed):
    r = security.response_times_exam(bank_db, timed["exam_id"])
    assert r.n_persons == 600 and r.n_responses == 600 * 15
    by = {row.person: row for row in r.rows}
    knowers = set(timed["knowers"])
    b = dict(bank_db.execute(select(ItemVersion.id, ItemVersion.irt_b).where(ItemVersion.id.in_(timed["hardest"]))).all())
    # a fast right answer is evidence only on an item harder than the candidate (b > theta-hat):
    # the bank's L1 items are easy, so only the weaker knowers have 2 or more such leaked items
    testable = [t for t in timed["fast"] if sum(v > by[t].theta for v in b.values()) >= 2]
    assert len(testable) >= 12
    assert sum(by[t].flag for t in testable) >= 0.8 * len(testable)
    false = sum(row.flag for t, row in by.items() if t not in knowers)
    assert false <= 0.05 * (600 - len(knowers))
    assert np.mean([row.rte for row in r.rows if row.person not in timed["fast"]]) > 0.995  # few rapid guesses
    assert np.mean([by[t].rte for t in timed["fast"]]) < 0.95  # 3-8 s is under some items' NT10
    items = {it.item: it for it in r.items}
    assert all(it.threshold <= 10 and 2 < it.beta < 6 for it in items.values())
    # one seeded exam for both (a seed costs seconds): the leaked items and the drifted one alarm
    r = security.compromise(bank_db, exam_id=timed["exam_id"])
    ids = dict(bank_db.execute(select(ItemVersion.id, Item.external_id).join(Item, Item.id == ItemVersion.item_id)).all())
    flagged = {row.item for row in r.rows if row.flag}
    leaked = {ids[v] for v in timed["hardest"]}
    drifted = ids[timed["drifted"]]
    assert drifted in flagged
    assert next(row for row in r.rows if row.item == drifted).alarm_at > 100
    assert len(leaked & flagged) >= 3
    assert len(flagged - leaked - {drifted}) <= 1  # of 34 other items
    row = r.rows[0]
    assert sum(w.n for w in row.windows) == row.exposures and row.windows[0].first == 1
    assert row.windows[-1].residual == pytest.approx(
        row.windows[-1].observed - row.windows[-1].expected, abs=1e-2)
    level = security.compromise(bank_db, level="530046-L1")
    assert level.n_responses == r.n_responses and level.source == "等级 530046-L1"


def test_response_times_refuse_a_linear_exam_whose_per_item_times_are_not_observed(bank_db):
    exam = create_exam(bank_db, blueprint="530046-L1", name="固定卷", actor="test", zone=Settings().zone)
    bank_db.execute(update(Exam).where(Exam.id == exam.id).values(mode="linear"))
    with pytest.raises(ConflictError, match="无法得到每题的作答时间"):
        security.response_times_exam(bank_db, exam.id)


def seed_paper(db, seed: int = 9) -> dict:
    """A paper exam: 300 sheets of one 40-item form in 15 rooms of 20, answered by a nominal
    response model; in rooms 1-3 the first candidate copied 40 % of the second's answers."""
    rng = np.random.default_rng(seed)
    level = db.scalar(select(Level).where(Level.code == "530046-L1"))
    items = db.scalars(select(Item).where(Item.level_id == level.id).order_by(Item.external_id)).all()[:40]
    versions = [next(v for v in it.versions if v.number == it.current_version) for it in items]
    exam = create_exam(db, blueprint="530046-L1", name="纸笔", actor="test", zone=Settings().zone)
    bp_id = db.get(Exam, exam.id).blueprint_version_id
    asm = FormAssembly(blueprint_version_id=bp_id, n_forms=1, length=40, seed=1, cuts=[], created_by="test")
    db.add(asm)
    db.flush()
    form = Form(assembly_id=asm.id, blueprint_version_id=bp_id, code="A")
    db.add(form)
    db.flush()
    db.execute(insert(FormItem), [{"form_id": form.id, "position": k + 1, "item_version_id": v.id,
                                   "external_id": it.external_id} for k, (v, it) in enumerate(zip(versions, items))])
    n = 300
    db.execute(insert(Candidate), [{"exam_id": exam.id, "ticket": f"P{i:04d}", "name": f"考生{i}", "access_code": "x",
                                    "room": f"{i // 20 + 1:02d}" if i < 290 else ""} for i in range(n)])
    cands = db.scalars(select(Candidate.id).where(Candidate.exam_id == exam.id).order_by(Candidate.ticket)).all()
    theta = rng.normal(size=n)
    slope = rng.normal(0, 0.8, (40, 4))
    slope[:, 0] = np.abs(slope[:, 0]) + 1.0
    z = np.exp(theta[:, None, None] * slope[None] + rng.normal(0, 0.7, (40, 4))[None])
    x = ((z / z.sum(axis=2, keepdims=True)).cumsum(axis=2) < rng.random((n, 40, 1))).sum(axis=2)
    copiers = []
    for room in range(3):
        c, s = 20 * room, 20 * room + 1
        copied = rng.choice(40, 16, replace=False)
        x[c, copied] = x[s, copied]
        copiers.append((f"P{c:04d}", f"P{s:04d}"))
    x[5, :3] = -1  # three omissions
    db.execute(insert(PaperResult), [{
        "exam_id": exam.id, "candidate_id": cands[i], "form_id": form.id,
        "answers": [["ABCD"[v]] if v >= 0 else [] for v in x[i]], "scores": [int(v == 0) for v in x[i]],
        "raw_score": int((x[i] == 0).sum()), "theta": 0.0, "se": 0.3, "result": {}, "scored_by": "test"}
        for i in range(n)])
    db.commit()
    return {"exam_id": exam.id, "copiers": copiers}


def test_similarity_flags_the_planted_copiers_within_their_rooms_only(bank_db_url, bank_db, monkeypatch):
    paper = seed_paper(bank_db)
    r = security.similarity_exam(bank_db, paper["exam_id"], flagged_only=False)
    assert (r.n_sheets, r.n_rooms, r.unroomed) == (300, 15, 10)
    assert r.n_pairs == 14 * 20 * 19 + 10 * 9 and len(r.rows) == r.n_pairs  # the 15th room has 10
    flagged = {(row.copier, row.source) for row in r.rows if row.flag}
    found = sum((c, s) in flagged or (s, c) in flagged for c, s in paper["copiers"])
    assert found >= 2
    planted = set(paper["copiers"]) | {(s, c) for c, s in paper["copiers"]}
    # family-wise 5 % a room, 15 rooms: 0.75 rooms with a false flag expected (measured: 2 pairs)
    assert len(flagged - planted) <= 2
    assert all(int(row.copier[1:]) // 20 + 1 == int(row.room) == int(row.source[1:]) // 20 + 1 for row in r.rows)
    top = r.rows[0]
    assert top.flag and top.p_adjusted >= top.p_value and top.matches > top.expected
    omitted = next(row for row in r.rows if row.copier == "P0005")
    assert omitted.n_items == 37
    assert security.similarity_exam(bank_db, paper["exam_id"], flagged_only=True).rows == [row for row in r.rows if row.flag]
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    out = runner.invoke(cli_app, ["analysis", "similarity", "--exam", str(paper["exam_id"]), "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["n_flagged"] == r.n_flagged and len(data["rows"]) == r.n_flagged and data["n_pairs"] == r.n_pairs
    out = runner.invoke(cli_app, ["analysis", "similarity", "--exam", str(paper["exam_id"])])
    assert out.exit_code == 0 and "10 份答卷没有考场，未配对" in out.output and top.copier in out.output


def test_the_api_cli_and_post_window_report_give_the_security_analyses_to_admins(bank_db_url, timed, tmp_path,
                                                                                 monkeypatch):
    # (proctors are refused these routes: tests/test_access.py walks them for every role)
    eid = timed["exam_id"]
    with staff_client(Settings(database_url=bank_db_url, data_dir=REPO)) as c:
        times = c.get(f"/api/v1/exams/{eid}/response-times").json()
        assert times["n_persons"] == 600 and {"rte", "n_fast", "p_value", "flag"} <= set(times["rows"][0])
        comp = c.get(f"/api/v1/exams/{eid}/compromise", params={"window": 50}).json()
        assert comp["window"] == 50 and comp["n_flagged"] >= 1 and comp["rows"][0]["windows"][0]["n"] == 50
        assert c.get(f"/api/v1/exams/{eid}/similarity").status_code == 409  # no paper sheets
        pdf = c.get(f"/reports/fairness/{eid}/report", params={"format": "pdf"})
        assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    out = runner.invoke(cli_app, ["analysis", "compromise", "--exam", str(eid)])
    assert out.exit_code == 0 and "CUSUM k = 0.25、h = 20.0" in out.output
    out = runner.invoke(cli_app, ["analysis", "report", str(eid), "--out", str(tmp_path / "r.html")])
    assert out.exit_code == 0, out.output
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    for anchor in ('id="dif"', 'id="fit"', 'id="times"', 'id="similarity"', 'id="compromise"', 'id="cusum-chart"'):
        assert anchor in html
    assert "从不是违规的证据" in html and html.count("不能证明") == 5
    assert "性别：男 对 女" in html  # the roster's first group; a tie of sizes: the first seen is the reference
    assert "没有纸笔成绩" in html  # similarity cannot run on an online exam, and says why
    times_section = html.split('id="times"')[1].split('id="similarity"')[0]
    flagged_fast = [r["person"] for r in times["rows"] if r["flag"] and r["person"] in timed["fast"]]
    assert len(flagged_fast) >= 10 and all(f"<td>{t}</td>" in times_section for t in flagged_fast)
    assert "答案相似性 未做" in out.output and "作答时间 标记" in out.output  # the summary line
