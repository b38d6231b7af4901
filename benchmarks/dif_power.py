"""DIF power and false-positive rates, person-fit detection, and the speed of the analyses on
5,000 attempts (issue #22). Prints JSON; the numbers are written up in docs/fairness.md.

Designs (2PL; a ~ U(0.8, 1.8), b ~ N(0, 1); reference theta ~ N(0, 1), focal ~ N(-0.5, 1)):
  complete  40 items, 1,000 + 1,000 persons; items 0-3 uniform DIF (focal b + 0.6), items 4-5
            non-uniform DIF (focal a x 0.5, same b), the other 34 clean; number-correct matching.
  cat       300-item pool, 30 items each from a max-information router (EAP, randomesque 5,
            exposure cap 0.25: irt.calibration.adaptive_design, routed on DIF-free answers;
            the administered cells are then answered under the DIF model), 2,000 + 2,000
            persons; items 0-29 uniform DIF (b + 0.6), 30-39 non-uniform (a x 0.5); matching on
            EAP theta-hat strata (width 0.25) from the pool's DIF-free parameters, as the engine
            estimates. Rates are over items with >= 100 answers in each group.
Rates per replication, then averaged: MH (chi-square p < .05), ETS B or C, LR uniform p < .05,
LR non-uniform p < .05, Jodoin-Gierl B or C. Nominal level .05.

Person fit: 2,000 persons on the 40-item complete design with 100 pre-knowledge persons
(theta ~ N(-0.5, 1), right on the 8 hardest items), and on the CAT design (1,000 + 1,000; 100
with pre-knowledge of the pool's 30 most exposed items, right whenever shown: leaks come from
exposure; the routing is the DIF-free one, so they are not routed up by their leaked answers,
which makes the CAT figure conservative); FPR among the others, power among them, at alpha =
.05 (WLE l_z*). DIF: one stage and two stage (purification) side by side.

Peers measured in the same run: statsmodels' StratifiedTable (MH) and Logit (LR) on the first
replication's items (largest absolute difference, and time). Speed: MH + LR DIF and person fit
on 5,000 CAT attempts (irt level) and through the services on a stored exam of 5,000 finished
attempts in a fresh SQLite database (`examengine init` + inserted attempts).

    .venv/bin/python benchmarks/dif_power.py [--reps 100] [--cat-reps 20] [--no-db] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from examengine.irt import dif, person_fit  # noqa: E402
from examengine.irt.calibration import adaptive_design  # noqa: E402
from examengine.irt.estimation import eap_many  # noqa: E402
from examengine.irt.params import ItemParams  # noqa: E402

IMPACT = 0.5
SHIFT = 0.6
SLOPE_RATIO = 0.5


def bank(rng, n_items):
    return rng.uniform(0.8, 1.8, n_items), rng.normal(0.0, 1.0, n_items)


def answers(a_mat, b_mat, theta, rng):
    p = 1.0 / (1.0 + np.exp(-a_mat * (theta[:, None] - b_mat)))
    return (rng.random(p.shape) < p).astype(float)


def dif_params(a, b, g, uniform, nonuniform):
    aa = np.tile(a, (g.size, 1))
    bb = np.tile(b, (g.size, 1))
    bb[np.ix_(g == 1, uniform)] += SHIFT
    aa[np.ix_(g == 1, nonuniform)] *= SLOPE_RATIO
    return aa, bb


def rates(res: dif.DifResult, items: np.ndarray) -> dict:
    rows = [res.items[j] for j in items]
    rows = [r for r in rows if r.lr is not None and not np.isnan(r.mh.p_value)]
    if not rows:
        return {}
    return {
        "mh_p05": np.mean([r.mh.p_value < 0.05 for r in rows]),
        "ets_bc": np.mean([r.mh.ets_class in (dif.EtsClass.B, dif.EtsClass.C) for r in rows]),
        "lr_uniform_p05": np.mean([r.lr.lr_uniform_p < 0.05 for r in rows]),
        "lr_nonuniform_p05": np.mean([r.lr.lr_nonuniform_p < 0.05 for r in rows]),
        "jodoin_gierl_bc": np.mean([r.lr.lr_class is not dif.LrClass.A for r in rows]),
        "items": len(rows),
    }


def average(runs: list[dict]) -> dict:
    keys = [k for k in runs[0] if k != "items"]
    out = {k: round(float(np.mean([r[k] for r in runs if k in r])), 4) for k in keys}
    out["items_per_rep"] = round(float(np.mean([r["items"] for r in runs])), 1)
    return out


def complete_study(reps: int, seed: int) -> tuple[dict, dict]:
    uniform, nonuniform = np.arange(4), np.arange(4, 6)
    clean = np.arange(6, 40)
    collected = {f"{k}_{stage}": [] for stage in ("one_stage", "two_stage") for k in ("uniform", "nonuniform", "clean")}
    first = None
    t0 = time.perf_counter()
    for r in range(reps):
        rng = np.random.default_rng(seed + r)
        a, b = bank(rng, 40)
        g = np.repeat([0, 1], 1000)
        theta = rng.normal(size=2000) - IMPACT * g
        x = answers(*dif_params(a, b, g, uniform, nonuniform), theta, rng)
        for stage, purify in (("one_stage", False), ("two_stage", True)):
            res = dif.dif(x, g, purify=purify)
            if first is None:
                first = (x, g, res)
            collected[f"uniform_{stage}"].append(rates(res, uniform))
            collected[f"nonuniform_{stage}"].append(rates(res, nonuniform))
            collected[f"clean_{stage}"].append(rates(res, clean))
    out = {k: average(v) for k, v in collected.items()}
    out["replications"] = reps
    out["seconds_per_replication"] = round((time.perf_counter() - t0) / reps, 3)
    return out, first


def cat_data(rng, n_per_group=2000, pool=300, length=30, preknowledge: int = 0):
    a, b = bank(rng, pool)
    params = ItemParams.two_pl(a, b)
    g = np.repeat([0, 1], n_per_group)
    theta = rng.normal(size=2 * n_per_group) - IMPACT * g
    design = adaptive_design(params, theta, length, rng).data
    mask = np.zeros((theta.size, pool), dtype=bool)
    mask[design.person, design.item] = True
    uniform, nonuniform = np.arange(30), np.arange(30, 40)
    x = answers(*dif_params(a, b, g, uniform, nonuniform), theta, rng)
    if preknowledge:  # the 30 most exposed items leaked (leaks come from exposure)
        leaked = np.argsort(mask.sum(axis=0))[-30:]
        x[np.ix_(np.arange(preknowledge), leaked)] = 1.0
    x = np.where(mask, x, np.nan)
    return params, g, x, mask, (uniform, nonuniform, np.arange(40, pool))


def cat_study(reps: int, seed: int) -> dict:
    collected = {f"{k}_{stage}": [] for stage in ("one_stage", "two_stage") for k in ("uniform", "nonuniform", "clean")}
    t0 = time.perf_counter()
    for r in range(reps):
        rng = np.random.default_rng(seed + 1000 + r)
        params, g, x, mask, (uniform, nonuniform, clean) = cat_data(rng)
        u = np.nan_to_num(x)
        theta_hat = eap_many(params, u, mask=mask).theta
        for stage, purify in (("one_stage", False), ("two_stage", True)):
            res = dif.dif(x, g, theta=theta_hat, theta_width=0.25, purify=purify,
                          rematch=lambda kept: eap_many(params, u, mask=mask & kept).theta)
            enough = np.array([min(it.mh.n_reference, it.mh.n_focal) >= 100 for it in res.items])
            collected[f"uniform_{stage}"].append(rates(res, uniform[enough[uniform]]))
            collected[f"nonuniform_{stage}"].append(rates(res, nonuniform[enough[nonuniform]]))
            collected[f"clean_{stage}"].append(rates(res, clean[enough[clean]]))
    out = {k: average([x for x in v if x]) for k, v in collected.items()}
    out["replications"] = reps
    out["seconds_per_replication"] = round((time.perf_counter() - t0) / reps, 3)
    return out


def peers(first) -> dict:
    import statsmodels.api as sm
    from statsmodels.stats.contingency_tables import StratifiedTable

    x, g, res = first
    score = x.sum(axis=1).astype(int)
    t = time.perf_counter()
    sm_alpha, sm_chi2 = [], []
    for j in range(x.shape[1]):
        tables = dif.strata_tables(x[:, j].astype(int), g, score)
        keep = (tables[0].sum(axis=0) > 0) & (tables[1].sum(axis=0) > 0)
        st = StratifiedTable(tables[:, :, keep])
        sm_alpha.append(st.oddsratio_pooled)
        sm_chi2.append(st.test_null_odds(correction=True).statistic)
    sm_mh = time.perf_counter() - t
    t = time.perf_counter()
    ours = dif.dif(x, g, logistic=False)
    our_mh = time.perf_counter() - t
    z = (score - score.mean()) / score.std()
    one = np.ones(score.size)
    t = time.perf_counter()
    sm_ll = []
    for j in range(x.shape[1]):
        sm_ll.append([sm.Logit(x[:, j], np.column_stack(c)).fit(disp=0).llf
                      for c in ((one, z), (one, z, g), (one, z, g, z * g))])
    sm_lr = time.perf_counter() - t
    t = time.perf_counter()
    lr = [dif.logistic_dif(x[:, j], score, g) for j in range(x.shape[1])]
    our_lr = time.perf_counter() - t
    return {
        "statsmodels_version": sm.__version__ if hasattr(sm, "__version__") else "",
        "mh_max_abs_diff_alpha": float(np.max(np.abs(np.array(sm_alpha) - [i.mh.alpha for i in ours.items]))),
        "mh_max_abs_diff_chi2": float(np.max(np.abs(np.array(sm_chi2) - [i.mh.chi2 for i in ours.items]))),
        "lr_max_abs_diff_loglik": float(np.max(np.abs(np.array(sm_ll) - [i.loglik for i in lr]))),
        "mh_seconds": {"examengine": round(our_mh, 4), "statsmodels": round(sm_mh, 4)},
        "lr_seconds": {"examengine": round(our_lr, 4), "statsmodels": round(sm_lr, 4)},
        "items": x.shape[1], "persons": x.shape[0],
    }


def person_fit_study(seed: int) -> dict:
    rng = np.random.default_rng(seed + 7)
    a, b = bank(rng, 40)
    params = ItemParams.two_pl(a, b)
    theta = np.r_[rng.normal(-0.5, 1, 100), rng.normal(size=1900)]
    x = answers(np.tile(a, (2000, 1)), np.tile(b, (2000, 1)), theta, rng)
    x[:100, np.argsort(b)[-8:]] = 1.0
    out = {}
    for est in person_fit.Estimator:
        r = person_fit.person_fit(x, params, estimator=est)
        lz = r.lz_star[100:]
        out[f"complete_{est.value}"] = {
            "fpr": round(float(r.flag[100:].mean()), 4), "power": round(float(r.flag[:100].mean()), 4),
            "null_mean": round(float(np.nanmean(lz)), 3), "null_sd": round(float(np.nanstd(lz)), 3),
            "undefined": int(np.isnan(r.lz_star).sum())}
    # the uncorrected l_z at the same WLE estimates, on 20,000 fitting persons: why the correction
    th = rng.normal(size=20000)
    xs = answers(np.tile(a, (th.size, 1)), np.tile(b, (th.size, 1)), th, rng)
    r = person_fit.person_fit(xs, params)
    p = 1 / (1 + np.exp(-a * (r.theta[:, None] - b)))
    w = np.log(p / (1 - p))
    plain = ((xs - p) * w).sum(axis=1) / np.sqrt((w * w * p * (1 - p)).sum(axis=1))
    out["null_20000_wle"] = {"lz_sd": round(float(plain.std()), 3), "lz_fpr": round(float((plain < -1.645).mean()), 4),
                             "lz_star_sd": round(float(np.nanstd(r.lz_star)), 3),
                             "lz_star_fpr": round(float(r.flag.mean()), 4)}
    rng = np.random.default_rng(seed + 8)
    params, g, xc, mask, _ = cat_data(rng, n_per_group=1000, preknowledge=100)
    r = person_fit.person_fit(xc, params, mask=mask)
    shown_leaked = mask[:100][:, np.argsort(mask.sum(axis=0))[-30:]].sum(axis=1)
    out["cat_wle"] = {"fpr": round(float(r.flag[100:].mean()), 4), "power": round(float(r.flag[:100].mean()), 4),
                      "null_mean": round(float(np.nanmean(r.lz_star[100:])), 3),
                      "null_sd": round(float(np.nanstd(r.lz_star[100:])), 3),
                      "median_leaked_items_seen": float(np.median(shown_leaked))}
    return out


def speed_irt(seed: int) -> dict:
    rng = np.random.default_rng(seed + 9)
    params, g, x, mask, _ = cat_data(rng, n_per_group=2500)
    t = time.perf_counter()
    u = np.nan_to_num(x)
    theta_hat = eap_many(params, u, mask=mask).theta
    res = dif.dif(x, g, theta=theta_hat, purify=True, rematch=lambda kept: eap_many(params, u, mask=mask & kept).theta)
    t_dif = time.perf_counter() - t
    t = time.perf_counter()
    person_fit.person_fit(x, params, mask=mask)
    t_fit = time.perf_counter() - t
    return {"attempts": int(x.shape[0]), "pool": int(x.shape[1]), "items_analysed": len(res.items),
            "dif_seconds": round(t_dif, 2), "person_fit_seconds": round(t_fit, 2)}


def speed_db(seed: int) -> dict:
    """A stored exam of 5,000 finished attempts (30 of 530046-L1's operational items each, from
    the bank's parameters, half 女 half 男) through services.analysis."""
    from sqlalchemy import insert, select

    from examengine.config import Settings
    from examengine.db.engine import make_engine, make_sessionmaker
    from examengine.db.models import Attempt, AttemptItem, Candidate, Exam, Item, Level
    from examengine.services import analysis
    from examengine.services.exams import create_exam
    from examengine.services.setup import initialize

    rng = np.random.default_rng(seed + 10)
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
            length = min(30, len(versions))
            for p, aid in enumerate(aids):
                for pos, j in enumerate(rng.choice(len(versions), length, replace=False), start=1):
                    v = versions[j]
                    right = rng.random() < v.irt_c + (1 - v.irt_c) / (1 + np.exp(-v.irt_a * (theta[p] - v.irt_b)))
                    rows.append({"attempt_id": aid, "position": pos, "item_version_id": v.id,
                                 "external_id": items[j].external_id, "scored": True, "set_aside": [],
                                 "answer": ["A"], "score": int(right)})
            db.execute(insert(AttemptItem), rows)
            db.commit()
            t = time.perf_counter()
            d = analysis.dif_exam(db, exam.id, group="性别", focal="女", reference="男")
            t_dif = time.perf_counter() - t
            t = time.perf_counter()
            f = analysis.person_fit_exam(db, exam.id)
            t_fit = time.perf_counter() - t
        engine.dispose()
    return {"attempts": n, "items": d.n_items, "answers": len(rows), "dif_seconds": round(t_dif, 2),
            "person_fit_seconds": round(t_fit, 2), "person_fit_flagged": f.n_flagged,
            "dif_bc_items": sum(r.ets_class in ("B", "C") for r in d.rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--cat-reps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--no-db", action="store_true", help="skip the stored-exam timing")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    started = time.perf_counter()
    complete, first = complete_study(args.reps, args.seed)
    out = {
        "design": {"impact": IMPACT, "uniform_shift": SHIFT, "slope_ratio": SLOPE_RATIO, "alpha": 0.05},
        "complete": complete,
        "cat": cat_study(args.cat_reps, args.seed),
        "peers": peers(first),
        "person_fit": person_fit_study(args.seed),
        "speed_irt_5000": speed_irt(args.seed),
    }
    if not args.no_db:
        out["speed_stored_exam_5000"] = speed_db(args.seed)
    speeds = [out["speed_irt_5000"]] + ([out["speed_stored_exam_5000"]] if "speed_stored_exam_5000" in out else [])
    out["targets_met"] = {"analyses_on_5000_attempts_under_30_s":
                          all(s["dif_seconds"] + s["person_fit_seconds"] < 30 for s in speeds)}
    out["total_seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(out, ensure_ascii=False, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
