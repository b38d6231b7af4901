"""Test-security methods (issue #22, points 4-6): detection rates, false-positive rates and
speed on 5,000 attempts, at the irt level. Prints JSON; the numbers are written up in
docs/fairness.md.

Response times (van der Linden's lognormal model: beta ~ N(3.8, 0.3), alpha ~ U(1.5, 2.5),
tau ~ N(0, 0.3)); 5,000 persons, 30 of 300 items each (random, as a spread-out CAT pool);
2PL answers (b ~ N(0, 1), theta ~ N(0, 1)); the 30 hardest items leak; ``knowers`` persons
answer every leaked item they are shown right in 3-8 s. Reported: the share of honest persons
flagged (fast-correct-on-hard-items, alpha = .05), of knowers flagged among those shown at
least 2 leaked items harder than their theta, and the low-effort (RTE < .90) rate of honest
persons; for 2 % knowers (each leaked item: ~2 % of its exposures aberrant) and 20 % knowers
(~20 %: the items' own parameters absorb them).

Similarity (Bock's nominal model, 4 options, option 0 the key; 60 items): 3,000 sheets in
rooms of 30; in every other room the first candidate copies 30, 40 or 50 % of the second's
answers. Reported: rooms with a false flag (family-wise .05 a room, Holm), share of null pairs
with p < .05 / .01 / .001, copiers found (either direction flagged), and the time for 5,000
sheets (167 rooms of 30: 145,000 ordered pairs).

Compromise: an item given to persons near its b (theta ~ b + N(0, 0.7), a = 1.2): stable
items over 1,000 and 2,000 exposures (false alarms), items whose b drops by 0.5 or 1.0 after
the 200th of 600 exposures (power, median alarm). k = 0.25, h = 20, and h = 10 for contrast.
Speed: 300 items x 500 exposures; and through the services on a stored adaptive exam of 5,000
finished attempts x 30 answers with times (a fresh SQLite database, `examengine init`):
response times, compromise, and the whole post-window report (DIF, person fit and the rest;
HTML, then the PDF).

    .venv/bin/python benchmarks/security_power.py [--reps 20] [--no-db] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from examengine.irt import compromise as cp  # noqa: E402
from examengine.irt import response_times as rt  # noqa: E402
from examengine.irt import similarity as sim  # noqa: E402


def rt_study(rng, share: float, persons: int = 5000, items: int = 300, per: int = 30) -> dict:
    beta = rng.normal(3.8, 0.3, items)
    alpha = rng.uniform(1.5, 2.5, items)
    tau = rng.normal(0, 0.3, persons)
    theta = rng.normal(size=persons)
    b = rng.normal(size=items)
    mask = np.zeros((persons, items), bool)
    for j in range(persons):
        mask[j, rng.choice(items, per, replace=False)] = True
    t = np.exp(beta[None, :] - tau[:, None] + rng.normal(size=(persons, items)) / alpha[None, :])
    u = (rng.random((persons, items)) < 1 / (1 + np.exp(-(theta[:, None] - b[None, :])))).astype(float)
    leaked = np.argsort(-b)[:30]
    knowers = np.arange(int(share * persons))
    for j in knowers:
        t[j, leaked] = rng.uniform(3, 8, len(leaked))
        u[j, leaked] = 1.0
    t = np.where(mask, t, np.nan)
    u = np.where(mask, u, np.nan)
    start = time.perf_counter()
    effort = rt.response_time_effort(t)
    fit = rt.fit_lognormal(t)
    res = rt.fast_correct_flags(fit.z, u, theta, b)
    seconds = time.perf_counter() - start
    honest = np.ones(persons, bool)
    honest[knowers] = False
    testable = np.array([(mask[j, leaked] & (b[leaked] > theta[j])).sum() >= 2 for j in range(persons)])
    kt = ~honest & testable
    return {"knowers_share": share, "honest_flag_rate": round(float(res.flag[honest].mean()), 4),
            "knowers_testable": int(kt.sum()),
            "knowers_flagged": round(float(res.flag[kt].mean()), 3) if kt.any() else None,
            "honest_low_effort_rate": round(float(effort.low_effort[honest].mean()), 4),
            "leaked_alpha_mean": round(float(np.nanmean(fit.alpha[leaked])), 2),
            "other_alpha_mean": round(float(np.nanmean(np.delete(fit.alpha, leaked))), 2),
            "trimmed": fit.n_trimmed, "seconds": round(seconds, 2)}


def nominal(rng, persons, items, options=4):
    theta = rng.normal(size=persons)
    slope = rng.normal(0, 0.8, (items, options))
    slope[:, 0] = np.abs(slope[:, 0]) + 1.0
    z = np.exp(theta[:, None, None] * slope[None] + rng.normal(0, 0.7, (items, options))[None])
    return (((z / z.sum(axis=2, keepdims=True)).cumsum(axis=2)) < rng.random((persons, items, 1))).sum(axis=2)


def similarity_study(rng, sheets: int = 3000, room: int = 30, items: int = 60) -> dict:
    x = nominal(rng, sheets, items)
    planted = {}
    for k, start in enumerate(range(0, sheets, 2 * room)):
        share = (0.3, 0.4, 0.5)[k % 3]
        copied = rng.choice(items, int(share * items), replace=False)
        x[start, copied] = x[start + 1, copied]
        planted[(start, start + 1)] = share
    codes, options = sim.encode([["ABCD"[v] for v in row] for row in x])
    model = sim.option_model(codes, options, (x == 0).sum(axis=1))
    rows = []
    for start in range(0, sheets, room):
        rows += sim.room_pairs(model, list(range(start, start + room)))
    pairs = set(planted) | {(s, c) for c, s in planted}
    null = [r for r in rows if (r.copier, r.source) not in pairs]
    p = np.array([r.p_value for r in null])
    false_rooms = {r.copier // room for r in null if r.flag}
    found = {share: [] for share in (0.3, 0.4, 0.5)}
    flagged = {(r.copier, r.source) for r in rows if r.flag}
    for (c, s), share in planted.items():
        found[share].append((c, s) in flagged or (s, c) in flagged)
    return {"rooms": sheets // room, "false_flag_rooms": len(false_rooms),
            "null_p_lt": {str(a): round(float((p < a).mean()), 5) for a in (0.05, 0.01, 0.001)},
            "copiers_found": {str(k): f"{sum(v)}/{len(v)}" for k, v in found.items()}}


def similarity_speed(rng, sheets: int = 5010, room: int = 30, items: int = 60) -> float:
    x = nominal(rng, sheets, items)
    start = time.perf_counter()
    codes, options = sim.encode([["ABCD"[v] for v in row] for row in x])
    model = sim.option_model(codes, options, (x == 0).sum(axis=1))
    for s in range(0, sheets, room):
        sim.room_pairs(model, list(range(s, s + room)))
    return round(time.perf_counter() - start, 2)


def item(rng, n, shift_after=None, shift=1.0, a=1.2, b=0.0):
    theta = b + rng.normal(0, 0.7, n)
    true_b = np.full(n, b)
    if shift_after is not None:
        true_b[shift_after:] -= shift
    u = (rng.random(n) < 1 / (1 + np.exp(-a * (theta - true_b)))).astype(float)
    return u, cp.probabilities(theta, a, b)


def compromise_study(rng, reps: int) -> dict:
    out = {}
    for h in (20.0, 10.0):
        row = {}
        for n in (1000, 2000):
            row[f"false_alarm_{n}"] = round(float(np.mean([cp.item_cusum(*item(rng, n), h=h).flag
                                                            for _ in range(reps * 10)])), 4)
        for shift in (0.5, 1.0):
            res = [cp.item_cusum(*item(rng, 600, 200, shift), h=h) for _ in range(reps * 5)]
            row[f"power_shift_{shift}"] = round(float(np.mean([r.flag for r in res])), 3)
            row[f"median_alarm_shift_{shift}"] = float(np.median([r.alarm_at for r in res if r.flag] or [np.nan]))
        out[f"h={h:g}"] = row
    start = time.perf_counter()
    for _ in range(300):
        cp.item_cusum(*item(rng, 500))
    out["seconds_300_items_x_500"] = round(time.perf_counter() - start, 2)
    return out


def speed_db(seed: int) -> dict:
    """A stored adaptive exam of 5,000 finished attempts (30 of 530046-L1's operational items
    each, answered from the bank's parameters, lognormal times) through services.security and
    the post-window report (HTML, and the PDF)."""
    from sqlalchemy import insert, select

    from examengine.config import Settings
    from examengine.db.engine import make_engine, make_sessionmaker
    from examengine.db.models import Attempt, AttemptItem, Candidate, Exam, Item, Level
    from examengine.rendering.pdf import html_to_pdf
    from examengine.services import security
    from examengine.services.exams import create_exam
    from examengine.services.setup import initialize

    rng = np.random.default_rng(seed + 10)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        initialize(Settings(database_url=url, data_dir=REPO))
        engine = make_engine(url)
        with make_sessionmaker(engine)() as db:
            level = db.scalar(select(Level).where(Level.code == "530046-L1"))
            items = db.scalars(select(Item).where(Item.level_id == level.id, Item.status == "operational")).all()
            versions = [next(v for v in it.versions if v.number == it.current_version) for it in items]
            exam = create_exam(db, blueprint="530046-L1", name="基准", actor="bench", zone=Settings().zone)
            n = 5000
            theta = rng.normal(size=n)
            beta = rng.normal(3.8, 0.3, len(versions))
            db.execute(insert(Candidate), [{"exam_id": exam.id, "ticket": f"B{i:05d}", "name": f"考生{i}",
                                            "access_code": "x", "groups": {"性别": "女" if i % 2 else "男"}}
                                           for i in range(n)])
            cids = db.scalars(select(Candidate.id).where(Candidate.exam_id == exam.id).order_by(Candidate.ticket)).all()
            bp = db.get(Exam, exam.id).blueprint_version_id
            db.execute(insert(Attempt), [{"exam_id": exam.id, "candidate_id": c, "blueprint_version_id": bp, "seed": i,
                                          "cuts": [], "status": "finished", "token_hash": f"b{i}",
                                          "theta": float(theta[i])} for i, c in enumerate(cids)])
            aids = db.scalars(select(Attempt.id).where(Attempt.exam_id == exam.id).order_by(Attempt.seed)).all()
            rows = []
            at = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
            length = min(30, len(versions))
            for p, aid in enumerate(aids):
                tau = rng.normal(0, 0.3)
                for pos, j in enumerate(rng.choice(len(versions), length, replace=False), start=1):
                    v = versions[j]
                    right = rng.random() < v.irt_c + (1 - v.irt_c) / (1 + np.exp(-v.irt_a * (theta[p] - v.irt_b)))
                    secs = float(np.exp(beta[j] - tau + rng.normal(0, 0.5)))
                    rows.append({"attempt_id": aid, "position": pos, "item_version_id": v.id,
                                 "external_id": items[j].external_id, "scored": True, "set_aside": [],
                                 "answer": ["A"], "score": int(right), "presented_at": at,
                                 "answered_at": at + timedelta(seconds=secs)})
                    at += timedelta(seconds=secs / 50)  # attempts overlap in time
            db.execute(insert(AttemptItem), rows)
            db.commit()
            for name, fn in (("response_times", lambda: security.response_times_exam(db, exam.id)),
                             ("compromise", lambda: security.compromise(db, exam_id=exam.id))):
                t = time.perf_counter()
                r = fn()
                out[f"{name}_seconds"] = round(time.perf_counter() - t, 2)
                out[f"{name}_flagged"] = r.n_flagged
            t = time.perf_counter()
            rep = security.post_window_report(db, exam.id)
            html = security.report_html(rep)
            out["report_html_seconds"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            out["report_pdf_bytes"] = len(html_to_pdf(html))
            out["report_pdf_seconds"] = round(time.perf_counter() - t, 2)
            out["report_summary"] = rep.summary
        engine.dispose()
    return {"attempts": 5000, "answers": len(rows)} | out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-db", action="store_true", help="skip the stored-exam timing")
    args = ap.parse_args()
    rng = np.random.default_rng(20261206)
    report = {
        "response_times": [rt_study(rng, 0.02), rt_study(rng, 0.20)],
        "similarity": similarity_study(rng),
        "similarity_seconds_5010_sheets": similarity_speed(rng),
        "compromise": compromise_study(rng, args.reps),
    }
    report["seconds_total_5000"] = round(report["response_times"][0]["seconds"] + report["similarity_seconds_5010_sheets"]
                                         + report["compromise"]["seconds_300_items_x_500"], 2)
    if not args.no_db:
        report["stored_exam"] = speed_db(20261206)
    text = json.dumps(report, ensure_ascii=False, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
