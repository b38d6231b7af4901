"""Stored responses for the calibration and report tests: attempts on 530046-L1 answering
operational items from the bank's own parameters and pretest items with known 2PL
parameters, written straight into the tables (fast)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import insert, select

from examengine.config import Settings
from examengine.db.models import Attempt, AttemptItem, Candidate, Exam, Item, Level
from examengine.exam.items import LETTERS
from examengine.services.exams import create_exam

N_PRETEST = 6


def seed_responses(db, seed: int = 4, n_persons: int = 1500, n_operational: int = 30) -> dict:
    """``n_persons`` attempts on 530046-L1: ``n_operational`` operational items each (random,
    answered from the bank's own 3PL parameters) and 3 of 6 pretest items (true 2PL parameters known).
    Pretest item 0 has a distractor (C) that the strongest candidates choose."""
    rng = np.random.default_rng(seed)
    level = db.scalar(select(Level).where(Level.code == "530046-L1"))
    items = db.scalars(select(Item).where(Item.level_id == level.id).order_by(Item.external_id)).all()
    versions = {it.id: next(v for v in it.versions if v.number == it.current_version) for it in items}
    pretest = items[:N_PRETEST]
    for it in pretest:
        it.status = "pretest"
    operational = items[N_PRETEST:]
    true_a = rng.uniform(0.8, 1.8, N_PRETEST)
    true_b = rng.uniform(-1.5, 1.0, N_PRETEST)
    exam = create_exam(db, blueprint="530046-L1", name="校准测试", actor="test", zone=Settings().zone)
    theta = rng.normal(-0.8, 1.0, n_persons)  # the 初级 cohort on the bank scale
    cands = [{"exam_id": exam.id, "ticket": f"C{i:05d}", "name": f"考生{i}", "access_code": "x"} for i in range(n_persons)]
    db.execute(insert(Candidate), cands)
    cand_ids = db.scalars(select(Candidate.id).where(Candidate.exam_id == exam.id).order_by(Candidate.ticket)).all()
    bp_id = db.get(Exam, exam.id).blueprint_version_id
    db.execute(insert(Attempt), [{"exam_id": exam.id, "candidate_id": cid, "blueprint_version_id": bp_id, "seed": i,
                                  "cuts": [], "status": "finished", "token_hash": f"h{i}", "theta": float(theta[i])}
                                 for i, cid in enumerate(cand_ids)])
    att_ids = db.scalars(select(Attempt.id).where(Attempt.exam_id == exam.id).order_by(Attempt.seed)).all()
    rows = []
    for p, aid in enumerate(att_ids):
        chosen_ops = rng.choice(len(operational), n_operational, replace=False)
        chosen_pre = rng.choice(N_PRETEST, 3, replace=False)
        pos = 1
        for j in chosen_ops:
            v = versions[operational[j].id]
            prob = v.irt_c + (1 - v.irt_c) / (1 + np.exp(-v.irt_a * (theta[p] - v.irt_b)))
            right = rng.random() < prob
            answer = [LETTERS[k] for k in v.key] if right else ["A" if 0 not in v.key else "B"]
            rows.append({"attempt_id": aid, "position": pos, "item_version_id": v.id,
                         "external_id": operational[j].external_id, "scored": True, "set_aside": [],
                         "answer": answer, "score": int(right)})
            pos += 1
        for j in chosen_pre:
            v = versions[pretest[j].id]
            prob = 1 / (1 + np.exp(-true_a[j] * (theta[p] - true_b[j])))
            right = rng.random() < prob
            wrong = [k for k in range(len(v.options)) if k not in v.key]
            if right:
                answer = [LETTERS[k] for k in v.key]
            elif j == 0 and theta[p] > 0.5:
                answer = [LETTERS[wrong[-1]]]
            else:
                answer = [LETTERS[wrong[0]]]
            omitted = rng.random() < 0.02
            rows.append({"attempt_id": aid, "position": pos, "item_version_id": v.id,
                         "external_id": pretest[j].external_id, "scored": False, "set_aside": [],
                         "answer": None if omitted else answer, "score": None if omitted else int(right)})
            pos += 1
    db.execute(insert(AttemptItem), rows)
    db.commit()
    return {"pretest": [it.external_id for it in pretest], "a": true_a, "b": true_b,
            "strong_distractor": pretest[0].external_id}
