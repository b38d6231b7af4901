"""Benchmark: what a LOFT (linear-on-the-fly) exam costs at sign-in. Prints JSON.

1. Under load: N candidates (default 50) sign in at once (threads, one session each, released
   together by a barrier) and then start at once; the start draws each attempt's form
   (services.loft.loft_items: the blueprint's cached pool, the exam's exposure so far in one
   query, the draw) and stores it as the attempt's rows, as services.linear.start stores a
   plan (the plan is drawn before the first write, so SQLite's writer lock is not held while
   drawing). Latency of sign-in and of start: p50 / p95 / max, and the draw's share. On a
   SQLite file initialised like `examengine init`, and on PostgreSQL in a fresh database
   (``--postgres URL``; created and dropped by the run).
2. The pure draw (exam.forms.loft_form) per form: a run of ``--forms`` sign-ins with the
   exposure counted as they go: time per form, the largest exposure rate, the forms'
   information at the cuts, the overlap of consecutive forms.
3. The peer, in the same run: the MILP of irt.assembly (HiGHS, the paper-form assembler) for
   one form of the same length and request: time per form, its information; it gives every
   candidate the same form (exposure rate 1 for its items).

    .venv/bin/python benchmarks/loft_signin.py [--candidates 50] [--blueprint 530046-L2]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def pct(values: list[float]) -> dict:
    a = np.asarray(values, float) * 1000
    return {"n": int(a.size), "p50_ms": round(float(np.percentile(a, 50)), 1),
            "p95_ms": round(float(np.percentile(a, 95)), 1), "max_ms": round(float(a.max()), 1),
            "mean_ms": round(float(a.mean()), 1)}


def under_load(url: str, blueprint: str, n: int) -> dict:
    """Initialise the database, then the same load on a LOFT exam and, as the peer, on a linear
    exam of one fixed form of the same length (the start stores the same number of rows, so the
    difference is the draw)."""
    from examengine.config import Settings
    from examengine.db.engine import make_engine, make_sessionmaker
    from examengine.services import forms, mapping
    from examengine.services.blueprints import get_blueprint_version
    from examengine.services.loft import loft_length
    from examengine.services.setup import initialize

    settings = Settings(database_url=url, data_dir=REPO)
    t = time.perf_counter()
    initialize(settings)
    init_s = time.perf_counter() - t
    mapping.clear_caches()
    engine = make_engine(url)
    maker = make_sessionmaker(engine)
    with maker() as db:
        _, bp = get_blueprint_version(db, blueprint)
        form = forms.assemble(db, blueprint=blueprint, n_forms=1, length=loft_length(bp), actor="bench", seed=1).forms[0]
    out = {"database": make_url(url).get_backend_name(), "init_seconds": round(init_s, 2), "candidates": n,
           "connection_pool": "SQLAlchemy default (5 + 10 overflow), as the app",
           "loft": _run(maker, settings, blueprint, n, "F", mode="loft"),
           "peer_linear_fixed_form": _run(maker, settings, blueprint, n, "G", form_id=form.id)}
    engine.dispose()
    return out


def _run(maker, settings, blueprint: str, n: int, prefix: str, *, mode: str | None = None,
         form_id: int | None = None) -> dict:
    from examengine.db.models import Attempt, AttemptItem
    from examengine.exam.forms import domain_targets
    from examengine.services import attempts, exams, loft, mapping

    draws = threading.local()
    real = loft.loft_items

    def timed_items(db, attempt):  # the draw's share of a start, per thread
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return real(db, attempt)
        finally:
            draws.wall, draws.cpu = time.perf_counter() - t0, time.thread_time() - c0

    loft.loft_items = timed_items
    with maker() as db:
        t = time.perf_counter()
        exam = exams.create_exam(db, blueprint=blueprint if form_id is None else "", name=f"基准 {prefix}",
                                 actor="bench", zone=settings.zone, mode=mode, form_id=form_id)
        create_s = time.perf_counter() - t
        roster = "准考证号,姓名\n" + "".join(f"{prefix}{i:04d},考生{i}\n" for i in range(n))
        exams.import_roster(db, exam.id, "名单.csv", roster.encode(), actor="bench")
        tickets = exams.tickets(db, exam.id)
    gate_in, gate_start = threading.Barrier(n), threading.Barrier(n)
    sign_in_s, start_s, draw_s, errors = [None] * n, [None] * n, [None] * n, []
    start_cpu, draw_cpu = [None] * n, [None] * n  # this thread's CPU (time.thread_time): the cost, not the wait

    def candidate(k: int) -> None:
        try:
            with maker() as db:
                gate_in.wait()
                t0 = time.perf_counter()
                s = attempts.sign_in(db, tickets[k].ticket, tickets[k].access_code, zone=settings.zone)
                sign_in_s[k] = time.perf_counter() - t0
            with maker() as db:
                gate_start.wait()
                draws.wall = draws.cpu = None
                t0, c0 = time.perf_counter(), time.thread_time()
                attempt = attempts.get_attempt(db, s.attempt_id)
                attempts.start(db, attempt)
                start_s[k], start_cpu[k] = time.perf_counter() - t0, time.thread_time() - c0
                draw_s[k], draw_cpu[k] = draws.wall, draws.cpu
        except Exception as exc:  # noqa: BLE001 - reported, not raised: one failure must not hide the others
            errors.append(f"{type(exc).__name__}: {exc}")
            for gate in (gate_in, gate_start):
                gate.abort()

    threads = [threading.Thread(target=candidate, args=(k,)) for k in range(n)]
    wall = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - wall
    loft.loft_items = real
    with maker() as db:
        rows = db.execute(select(AttemptItem.attempt_id, AttemptItem.external_id)
                          .join(Attempt, Attempt.id == AttemptItem.attempt_id)
                          .where(Attempt.exam_id == exam.id, AttemptItem.scored.is_(True))).all()
        _, bp = mapping.blueprint_by_id(db, db.get(Attempt, rows[0][0]).blueprint_version_id) if rows else (None, None)
        bpool = mapping.load_pool(db, bp) if bp else None
    forms: dict[int, set[str]] = {}
    for aid, item in rows:
        forms.setdefault(aid, set()).add(item)
    counts: dict[str, int] = {}
    for f in forms.values():
        for i in f:
            counts[i] = counts.get(i, 0) + 1
    ok = [k for k in range(n) if start_s[k] is not None]
    drew = [k for k in ok if draw_s[k] is not None]
    meets = None
    if bpool is not None:
        pos = {i: p for p, i in enumerate(bpool.pool.item_ids)}
        want = domain_targets(bp, loft.loft_length(bp))
        meets = all(sorted(want.items()) == sorted(_count(bpool.domains[pos[i]] for i in f).items())
                    for f in forms.values())
    return {
        "mode": exam.mode, "create_exam_seconds": round(create_s, 3),
        "errors": errors[:5], "n_errors": len(errors), "wall_seconds": round(wall, 2),
        "sign_in": pct([sign_in_s[k] for k in range(n) if sign_in_s[k] is not None]),
        "start": pct([start_s[k] for k in ok]) if ok else None,
        "start_thread_cpu": pct([start_cpu[k] for k in ok]) if ok else None,
        "draw_within_start": pct([draw_s[k] for k in drew]) if drew else None,
        "draw_thread_cpu": pct([draw_cpu[k] for k in drew]) if drew else None,
        "distinct_forms": len({frozenset(f) for f in forms.values()}), "forms_stored": len(forms),
        "every_form_meets_domain_targets": meets,
        "max_exposure_rate": round(max(counts.values()) / max(len(forms), 1), 3) if counts else None,
    }


def _count(values) -> dict:
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def pure(url: str, blueprint: str, n_forms: int) -> dict:
    from examengine.db.engine import make_engine, make_sessionmaker
    from examengine.exam.forms import form_spec, loft_form
    from examengine.irt.assembly import assemble_forms
    from examengine.services.blueprints import (
        get_blueprint_version,
        load_pool,
        resolve_cuts,
    )
    from examengine.services.loft import loft_length

    engine = make_engine(url)
    with make_sessionmaker(engine)() as db:
        _, bp = get_blueprint_version(db, blueprint)
        bpool = load_pool(db, bp)
    engine.dispose()
    pool = bpool.pool
    cuts = [c.theta for c in resolve_cuts(bp, pool.params)]
    L = loft_length(bp)
    counts = np.zeros(pool.n_items)
    rng = np.random.default_rng(1)
    seconds, cpu, info, forms, restarts = [], [], [], [], 0
    for k in range(n_forms):
        t, c = time.perf_counter(), time.thread_time()
        draw = loft_form(bp, pool, cuts, length=L, counts=counts, administered=k, rng=rng)
        seconds.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
        counts[draw.form.positions] += 1
        info.append(draw.form.information)
        forms.append(set(draw.order))
        restarts += draw.form.restarts
    info = np.array(info)
    overlap = [len(forms[k] & forms[k + 1]) for k in range(n_forms - 1)]
    milp_s, milp_cpu, milp_info = [], [], None
    for seed in range(5):
        spec = form_spec(bp, pool, cuts, n_forms=1, length=L, seed=seed)
        t, c = time.perf_counter(), time.thread_time()
        res = assemble_forms(pool.params, spec)
        milp_s.append(time.perf_counter() - t)
        milp_cpu.append(time.thread_time() - c)
        at = [res.report_thetas.index(c) for c in cuts]
        milp_info = res.information[0][at]
    return {
        "blueprint": blueprint, "pool_items": pool.n_items, "length": L, "cuts": cuts,
        "loft": {"forms": n_forms, "per_form": pct(seconds), "per_form_cpu": pct(cpu), "restarts": restarts,
                 "information_at_cuts_mean": [round(float(x), 2) for x in info.mean(axis=0)],
                 "information_at_cuts_min_over_forms": [round(float(x), 2) for x in info.min(axis=0)],
                 "max_exposure_rate": round(float(counts.max() / n_forms), 3),
                 "uniform_exposure_rate": round(L / pool.n_items, 3),
                 "blueprint_exposure_cap": bp.exposure_max_rate,
                 "items_never_used": int((counts == 0).sum()),
                 "overlap_of_consecutive_forms_mean": round(float(np.mean(overlap)), 1)},
        "peer_milp_one_form": {"per_form": pct(milp_s), "per_form_cpu": pct(milp_cpu), "information_at_cuts": [round(float(x), 2) for x in milp_info],
                               "max_exposure_rate": 1.0, "note": "the same form for every candidate"},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=50)
    ap.add_argument("--blueprint", default="530046-L2")
    ap.add_argument("--forms", type=int, default=200)
    ap.add_argument("--postgres", default=os.environ.get("EXAMENGINE_TEST_POSTGRES_URL", ""))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out: dict = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/loft.db"
        out["sqlite"] = under_load(url, args.blueprint, args.candidates)
        out["pure"] = pure(url, args.blueprint, args.forms)
    if args.postgres:
        name = f"ee_loft_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            pg_url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
            out["postgresql"] = under_load(pg_url, args.blueprint, args.candidates)
        finally:
            from examengine.services import mapping

            mapping.clear_caches()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    text_out = json.dumps(out, ensure_ascii=False, indent=2)
    print(text_out)
    if args.json:
        args.json.write_text(text_out + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
