"""How many responses per item a launch needs: the numbers of docs/launch.md, measured.

Study 1, calibration precision against responses per item (N). Truth (a new bank for every
replication): a ~ lognormal(log 1.2, 0.25), b ~ U(-2, 2), c ~ U(0, 0.25) (3PL only; the Rasch
truth has a = 1), abilities ~ N(0, 1). Estimates by the project's EM
(``irt.calibration.calibrate``) with its default priors, as ``examengine calibrate`` runs it.

* ``complete``: a 40-item linear form that all N candidates answer (the first calibration of a
  programme: no anchors, the scale fixed by the N(0, 1) population of the calibration sample).
* ``pretest``: 40 operational items (the anchors, held at their true parameters) that every
  candidate answers, and 40 pretest items seeded into the forms, 4 per candidate, in balanced
  blocks, so that each pretest item has exactly N responses (10 N candidates); the pretest items
  are calibrated with the operational items fixed and the population mean and SD estimated:
  the fixed-parameter calibration of ``examengine calibrate --mode pretest``
  (``services.calibration.run_calibration``).
* ``pretest_linked``: the same, but the anchors are held at the estimates of a first, complete
  calibration of ANCHOR_N other candidates, so that error reaches the pretest items (Rasch, 2PL).

Reported per model, design and N: RMSE and bias of b over the items of all replications, RMSE
of a (not Rasch), the share of items with |b_hat - b| <= 0.2 (and 0.3), the median SE of b that
the calibration reports, and the N at which 90 % of the items fall within +-0.2 (linear in
log N between the measured sizes; "> max" when not reached).

Study 3, what the first calibration is linked to. ``examengine calibrate --mode full`` links
its estimates back to the bank's current parameters of the operational items by Stocking-Lord;
at launch those are provisional (``services.items.provisional_irt``: a = 1, b from the writer's
rating 1-5, c = 0.8 x the chance of guessing). Simulated: 80 items of a 中级 level, 55 % 单选
(4 options), 25 % 多选 (4 options, 2+ keys), 20 % 判断; true a ~ lognormal(log 1.2, 0.25),
b ~ U(-2, 2); the writer rates each item at the rating nearest to b + N(0, 0.5^2) (an unbiased
writer); truth 2PL, or 3PL with c equal to the provisional c (the most favourable case); 2,000
candidates take all 80 items; a 2PL calibration; then b's RMSE against the truth unlinked (the
calibration population's N(0, 1) scale, as ``--mode initial`` does), Stocking-Lord-linked (as ``--mode full`` does) and
mean/sigma-linked to the provisional parameters, with the linking constants A and B.

Study 2, calibrated items per domain an adaptive blueprint needs: an item may be seen by at most
the cap (``exposure.max_rate``) of the candidates and an attempt of ``length.max`` items takes
weight x length.max items of each domain, so a domain needs ceil(length.max x weight / cap)
items (the rule of ``examengine bank readiness``), and ceil(length.max x weight / (0.8 x cap))
for the room Sympson-Hetter calibration aims at (``exam.study.EXPOSURE_CALIBRATION_SHARE``);
beside them, the sample bank's items of the domain (``itembank/*.json``, first requirement).

Seeds are pinned per cell (design, model, N, replication), so any cell reruns alone with the
same numbers (tests/calibration/test_launch_study.py does). Prints JSON; ``--update-doc``
rewrites the generated block of docs/launch.md (``--markdown PATH`` writes the tables to a file).
The blueprint table is quoted in the doc too and a test keeps it equal to ``blueprint_table()``.

    .venv/bin/python benchmarks/launch_sample_size.py [--quick] [--json out.json] [--update-doc]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# one BLAS thread: the products are small, and threads cost 10x on a shared machine
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from examengine.datafiles import read_blueprints_dir, read_standards_dir  # noqa: E402
from examengine.exam.study import EXPOSURE_CALIBRATION_SHARE  # noqa: E402
from examengine.irt import models  # noqa: E402
from examengine.exam.items import ItemType  # noqa: E402
from examengine.irt.calibration import (  # noqa: E402
    CalibrationModel,
    FixedItems,
    ResponseData,
    calibrate,
    mean_sigma,
    stocking_lord,
)
from examengine.irt.params import ItemParams  # noqa: E402
from examengine.itemfiles.json_format import read_json  # noqa: E402
from examengine.services.items import RATING_B, provisional_irt  # noqa: E402

SEED = 2026
MODELS = (CalibrationModel.RASCH, CalibrationModel.TWO_PL, CalibrationModel.THREE_PL)
FORM_LENGTH = 40  # items of the linear form (complete design) and of the operational part (pretest design)
N_PRETEST = 40  # pretest items per replication
PRETEST_PER_CANDIDATE = 4
SIZES = (100, 200, 300, 500, 1000, 2000)
EXTRA_SIZES = {CalibrationModel.THREE_PL: (5000,)}  # the 3PL does not reach the target by 2,000
REPLICATIONS = {"complete": 10, "pretest": 8, "pretest_linked": 8}
DESIGNS = ("complete", "pretest", "pretest_linked")
ANCHOR_N = 1000  # pretest_linked: the anchors' parameters come from a first calibration of this many candidates
DESIGN_MODELS = {"pretest_linked": (CalibrationModel.RASCH, CalibrationModel.TWO_PL)}  # the 3PL is not advised
TOLERANCE = 0.2
TARGET_SHARE = 0.9

MODEL_NAMES = {CalibrationModel.RASCH: "Rasch (1PL)", CalibrationModel.TWO_PL: "2PL", CalibrationModel.THREE_PL: "3PL"}
DESIGN_NAMES = {"complete": "complete (a 40-item form, no anchors)",
                "pretest": "pretest (4 of 40 seeded per candidate, 40 anchors at their true values)",
                "pretest_linked": f"pretest, anchors from a first calibration of {ANCHOR_N:,} candidates"}


def cell_rng(design: str, model: CalibrationModel, n: int, rep: int) -> np.random.Generator:
    """The pinned generator of one replication of one cell."""
    return np.random.default_rng([SEED, DESIGNS.index(design), MODELS.index(model), n, rep])


def true_bank(model: CalibrationModel, n_items: int, rng: np.random.Generator) -> ItemParams:
    """a ~ lognormal(log 1.2, 0.25), b ~ U(-2, 2), c ~ U(0, 0.25); Rasch: a = 1, c = 0; 2PL: c = 0."""
    a = np.exp(rng.normal(math.log(1.2), 0.25, n_items))
    b = rng.uniform(-2.0, 2.0, n_items)
    c = rng.uniform(0.0, 0.25, n_items)
    if model is CalibrationModel.RASCH:
        return ItemParams.one_pl(b)
    if model is CalibrationModel.TWO_PL:
        return ItemParams.two_pl(a, b)
    return ItemParams.three_pl(a, b, c)


@dataclass(frozen=True)
class Replication:
    """True and estimated parameters of the items calibrated in one replication."""

    true: ItemParams
    est: ItemParams
    se_b: np.ndarray
    seconds: float


def complete_replication(model: CalibrationModel, n: int, rep: int) -> Replication:
    """A FORM_LENGTH-item form answered by n candidates, calibrated without anchors."""
    rng = cell_rng("complete", model, n, rep)
    bank = true_bank(model, FORM_LENGTH, rng)
    theta = rng.normal(size=n)
    u = models.simulate_responses(theta, bank, rng)
    started = time.perf_counter()
    res = calibrate(ResponseData.from_matrix(u.astype(float)), model)
    return Replication(bank, res.params, np.asarray(res.se_b), time.perf_counter() - started)


def pretest_replication(model: CalibrationModel, n: int, rep: int, design: str = "pretest") -> Replication:
    """FORM_LENGTH operational items (the anchors) answered by everyone, and N_PRETEST pretest
    items, PRETEST_PER_CANDIDATE per candidate in balanced blocks, so that every pretest item is
    answered exactly n times; returns the pretest items only. The anchors are held at their true
    parameters (``pretest``), or at the estimates of a first, complete calibration of ANCHOR_N
    other candidates (``pretest_linked``), whose error then reaches the pretest items."""
    rng = cell_rng(design, model, n, rep)
    bank = true_bank(model, FORM_LENGTH + N_PRETEST, rng)
    per_block = N_PRETEST // PRETEST_PER_CANDIDATE  # candidates that see every pretest item once
    n_persons = n * per_block
    theta = rng.normal(size=n_persons)
    seeded = np.concatenate([rng.permutation(N_PRETEST).reshape(per_block, PRETEST_PER_CANDIDATE)
                             for _ in range(n)]) + FORM_LENGTH  # (persons, per candidate)
    items = np.hstack([np.tile(np.arange(FORM_LENGTH), (n_persons, 1)), seeded])
    person = np.repeat(np.arange(n_persons), items.shape[1])
    item = items.reshape(-1)
    p = models.probability(theta, bank)[person, item]
    score = (rng.random(p.size) < p).astype(np.int8)
    data = ResponseData.from_cells(person, item, score, n_persons, bank.n_items)
    anchors = np.arange(FORM_LENGTH)
    anchor_params = bank.take(anchors)
    started = time.perf_counter()
    if design == "pretest_linked":
        first = models.simulate_responses(rng.normal(size=ANCHOR_N), anchor_params, rng)
        anchor_params = calibrate(ResponseData.from_matrix(first.astype(float)), model, compute_se=False).params
    res = calibrate(data, model, fixed=FixedItems(anchors, anchor_params))
    free = np.arange(FORM_LENGTH, bank.n_items)
    return Replication(bank.take(free), res.params.take(free), np.asarray(res.se_b)[free],
                       time.perf_counter() - started)


REPLICATE = {"complete": complete_replication, "pretest": pretest_replication,
             "pretest_linked": lambda model, n, rep: pretest_replication(model, n, rep, "pretest_linked")}


def cell(design: str, model: CalibrationModel, n: int, reps: int) -> dict:
    """The precision of one (design, model, N) over ``reps`` replications."""
    return summarize_cell(model, n, [REPLICATE[design](model, n, r) for r in range(reps)])


def summarize_cell(model: CalibrationModel, n: int, runs: list[Replication]) -> dict:
    tb = np.concatenate([r.true.b for r in runs])
    eb = np.concatenate([r.est.b for r in runs])
    err = eb - tb
    out = {
        "n_per_item": n,
        "items": int(tb.size),
        "rmse_b": round(float(np.sqrt(np.mean(err**2))), 4),
        "bias_b": round(float(np.mean(err)), 4),
        "within_0.2": round(float(np.mean(np.abs(err) <= 0.2)), 4),
        "within_0.3": round(float(np.mean(np.abs(err) <= 0.3)), 4),
        "median_reported_se_b": round(float(np.nanmedian(np.concatenate([r.se_b for r in runs]))), 4),
        "seconds": round(sum(r.seconds for r in runs), 2),
    }
    if model is not CalibrationModel.RASCH:
        ea = np.concatenate([r.est.a for r in runs]) - np.concatenate([r.true.a for r in runs])
        out["rmse_a"] = round(float(np.sqrt(np.mean(ea**2))), 4)
    if model is CalibrationModel.THREE_PL:
        ec = np.concatenate([r.est.c for r in runs]) - np.concatenate([r.true.c for r in runs])
        out["rmse_c"] = round(float(np.sqrt(np.mean(ec**2))), 4)
    return out


def needed_n(rows: list[dict], share: float = TARGET_SHARE) -> int | None:
    """The smallest N at which ``share`` of the items are within +-0.2: the first measured size
    that reaches it, interpolated linearly in log N from the size before; None if none does."""
    prev = None
    for r in rows:
        s = r["within_0.2"]
        if s >= share:
            if prev is None or prev["within_0.2"] >= s:
                return r["n_per_item"]
            t = (share - prev["within_0.2"]) / (s - prev["within_0.2"])
            ln = math.log(prev["n_per_item"]) + t * (math.log(r["n_per_item"]) - math.log(prev["n_per_item"]))
            return int(math.ceil(math.exp(ln) / 10.0) * 10)  # rounded up to 10
        prev = r
    return None


def precision_study(sizes=SIZES, models_=MODELS, designs=DESIGNS, reps: dict | None = None,
                    extra: dict | None = None) -> dict:
    reps = REPLICATIONS if reps is None else reps
    extra = EXTRA_SIZES if extra is None else extra
    out: dict = {}
    for design in designs:
        for model in (m for m in models_ if m in DESIGN_MODELS.get(design, MODELS)):
            ns = tuple(sizes) + tuple(extra.get(model, ()))
            rows = [cell(design, model, n, reps[design]) for n in ns]
            out.setdefault(design, {})[model.value] = {
                "rows": rows, "n_for_90pct_within_0.2": needed_n(rows), "max_n_measured": max(ns)}
    return out


# ---------------------------------------------------------------- linking to provisional parameters

LINK_ITEMS = 80
LINK_PERSONS = 2000
LINK_SEEDS = 5
RATING_NOISE = 0.5
TYPE_MIX = ((ItemType.SINGLE, 0.55), (ItemType.MULTIPLE, 0.25), (ItemType.TRUE_FALSE, 0.20))


def provisional_link_replication(truth_model: str, seed: int) -> dict:
    """One launch: true items, a writer's ratings, provisional parameters, a 2PL calibration of a
    complete design, and the estimates' error in b unlinked and linked to the provisional ones."""
    rng = np.random.default_rng([SEED, 3, seed, truth_model == "3pl"])
    a = np.exp(rng.normal(math.log(1.2), 0.25, LINK_ITEMS))
    b = rng.uniform(-2.0, 2.0, LINK_ITEMS)
    types = rng.choice(len(TYPE_MIX), LINK_ITEMS, p=[w for _, w in TYPE_MIX])
    ratings = sorted(RATING_B, key=RATING_B.get)
    noisy = b + rng.normal(0.0, RATING_NOISE, LINK_ITEMS)
    rated = [min(ratings, key=lambda r: abs(RATING_B[r] - x)) for x in noisy]
    prov = [provisional_irt(2, r, TYPE_MIX[t][0], 4) for r, t in zip(rated, types, strict=True)]
    provisional = ItemParams.three_pl([p.a for p in prov], [p.b for p in prov], [p.c for p in prov])
    truth = ItemParams.three_pl(a, b, provisional.c) if truth_model == "3pl" else ItemParams.two_pl(a, b)
    u = models.simulate_responses(rng.normal(size=LINK_PERSONS), truth, rng)
    est = calibrate(ResponseData.from_matrix(u.astype(float)), CalibrationModel.TWO_PL, compute_se=False).params
    out = {}
    for name, (A, B) in (("none", (1.0, 0.0)), ("stocking_lord", _ab(stocking_lord(provisional, est))),
                         ("mean_sigma", _ab(mean_sigma(provisional, est)))):
        out[name] = {"A": A, "B": B, "rmse_b": float(np.sqrt(np.mean((A * est.b + B - b) ** 2)))}
    out["provisional"] = {"rmse_b": float(np.sqrt(np.mean((provisional.b - b) ** 2)))}
    return out


def _ab(link) -> tuple[float, float]:
    return float(link.A), float(link.B)


LINK_NAMES = {"none": "none (`--mode initial`: the calibration population's N(0, 1))", "stocking_lord": "Stocking–Lord (`--mode full`)",
              "mean_sigma": "mean/sigma"}
TRUTH_NAMES = {"2pl": "2PL (no guessing)", "3pl": "3PL, c = the provisional c"}


def provisional_link_study() -> dict:
    """Per truth and link: A, B and the RMSE of b (seed by seed), and the provisional b's RMSE."""
    out: dict = {}
    for truth in ("2pl", "3pl"):
        runs = [provisional_link_replication(truth, k) for k in range(LINK_SEEDS)]
        out[truth] = {link: {k: [round(r[link][k], 3) for r in runs] for k in runs[0][link]} for link in runs[0]}
    return out


def link_table(link: dict) -> str:
    """Where the link puts candidates of true theta -1, 0 and 1 (A theta + B), per truth and link,
    as ranges over the seeds; the RMSE of b against the truth for the 2PL truth (for a 3PL truth a
    2PL's b is another quantity)."""
    def span(xs) -> str:
        lo, hi = min(xs), max(xs)
        return f"{lo:+.2f}" if abs(hi - lo) < 0.005 else f"{lo:+.2f} to {hi:+.2f}"

    lines = ["| truth | link | A | B | true θ = −1 placed at | θ = 0 at | θ = 1 at | RMSE of b |",
             "|---|---|---|---|---|---|---|---|"]
    for truth, by_link in link.items():
        for name, r in by_link.items():
            if name == "provisional":
                continue
            A, B = np.array(r["A"]), np.array(r["B"])
            rm = span(r["rmse_b"]).replace("+", "") if truth == "2pl" else "—"
            lines.append(f"| {TRUTH_NAMES[truth]} | {LINK_NAMES[name]} | {span(A).replace('+', '')} | {span(B)} | "
                         f"{span(B - A)} | {span(B)} | {span(A + B)} | {rm} |")
    prov = link["2pl"]["provisional"]["rmse_b"]
    return "\n".join(lines) + f"\n\n(The writers' provisional b themselves: RMSE {min(prov):.2f} to {max(prov):.2f}.)\n"


# ---------------------------------------------------------------- blueprints


def sample_bank_domains() -> dict[str, Counter]:
    """Per level code, the sample bank's items per domain (the domain of the first requirement,
    as the pool of an adaptive exam counts them)."""
    out: dict[str, Counter] = {}
    for path in sorted((REPO / "itembank").glob("*.json")):
        for d in read_json(path.read_bytes(), path.name).items:
            code = d.requirements[0]
            level, domain = code.rsplit("-", 1)[0], code.split(".")[0]
            out.setdefault(level, Counter())[domain] += 1
    return out


def blueprint_needs() -> list[dict]:
    """Per shipped blueprint and domain: weight, items needed at the cap and at the
    Sympson-Hetter aim, and the sample bank's items."""
    names = {d.code: d.name for s in read_standards_dir(REPO / "blueprints" / "standards")
             for lv in s.levels for d in lv.domains}
    have = sample_bank_domains()
    rows = []
    for bp in read_blueprints_dir(REPO / "blueprints"):
        cap = bp.exposure_max_rate
        for code, w in bp.content_weights().items():
            rows.append({
                "blueprint": bp.id, "domain": code, "name": names.get(code, ""), "weight": w,
                "max_length": bp.max_length, "cap": cap,
                "need": int(math.ceil(bp.max_length * w / cap - 1e-9)),
                "need_at_aim": int(math.ceil(bp.max_length * w / (EXPOSURE_CALIBRATION_SHARE * cap) - 1e-9)),
                "sample_bank": int(have.get(bp.id, Counter()).get(code, 0)),
                "pretest_count": bp.pretest_count,
            })
    return rows


# ---------------------------------------------------------------- markdown


def _n_text(n: int | None, max_n: int) -> str:
    return f"> {max_n:,}" if n is None else f"≈ {n:,}"


def row_line(name: str, r: dict) -> str:
    """One row of the detail table."""
    ra = f"{r['rmse_a']:.3f}" if "rmse_a" in r else "—"
    return (f"| {name} | {r['n_per_item']:,} | {r['rmse_b']:.3f} | {r['bias_b']:+.3f} | {r['within_0.2']:.0%} | "
            f"{r['within_0.3']:.0%} | {r['median_reported_se_b']:.3f} | {ra} |")


def precision_table(study: dict) -> str:
    lines = []
    for design, by_model in study.items():
        lines.append(f"Design **{DESIGN_NAMES[design]}**:\n")
        lines.append("| model | N per item | RMSE b | bias b | \\|b̂ − b\\| ≤ 0.2 | ≤ 0.3 | reported SE b (median) | RMSE a |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for model_value, entry in by_model.items():
            name = MODEL_NAMES[CalibrationModel(model_value)]
            lines += [row_line(name, r) for r in entry["rows"]]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def needed_table(study: dict) -> str:
    designs = list(study)
    lines = ["| model | " + " | ".join(DESIGN_NAMES[d] for d in designs) + " |", "|---|" + "---|" * len(designs)]
    for model_value in study[designs[0]]:
        cells = [_n_text(study[d][model_value]["n_for_90pct_within_0.2"], study[d][model_value]["max_n_measured"])
                 if model_value in study[d] else "—" for d in designs]
        lines.append(f"| {MODEL_NAMES[CalibrationModel(model_value)]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def blueprint_table(rows: list[dict] | None = None) -> str:
    rows = blueprint_needs() if rows is None else rows
    lines = ["| blueprint | domain | weight | items of a 40-item attempt | calibrated items needed (cap 0.25) "
             "| at the aim 0.8 × cap | sample bank (provisional) |",
             "|---|---|---|---|---|---|---|"]
    totals: dict[str, list[int]] = {}
    for r in rows:
        lines.append(f"| {r['blueprint']} | {r['domain']} {r['name']} | {r['weight']:.2f} | "
                     f"{r['max_length'] * r['weight']:.1f} | {r['need']} | {r['need_at_aim']} | {r['sample_bank']} |")
        t = totals.setdefault(r["blueprint"], [0, 0, 0])
        t[0] += r["need"]
        t[1] += r["need_at_aim"]
        t[2] += r["sample_bank"]
    for code, (need, aim, have) in totals.items():
        lines.append(f"| {code} | **total** | 1.00 | 40.0 | **{need}** | {aim} | {have} |")
    caps = {r["cap"] for r in rows}
    if caps != {0.25} or {r["max_length"] for r in rows} != {40}:
        raise ValueError("the table's header assumes length.max 40 and a cap of 0.25 in every blueprint")
    return "\n".join(lines) + "\n"


BEGIN = "<!-- begin: benchmarks/launch_sample_size.py --update-doc -->"
END = "<!-- end: benchmarks/launch_sample_size.py -->"
DOC = REPO / "docs" / "launch.md"


def markdown(study: dict) -> str:
    return (f"{BEGIN}\n\n#### Responses per item for 90 % of the items within ±0.2 of the true b\n\n"
            + needed_table(study) + "\n#### In detail\n\n" + precision_table(study) + f"\n{END}")


BP_BEGIN = "<!-- begin: blueprint table (benchmarks/launch_sample_size.py, blueprint_table) -->"
BP_END = "<!-- end: blueprint table -->"


def _replace(text: str, begin: str, end: str, block: str) -> str:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + block + tail


LINK_BEGIN = "<!-- begin: linking table (benchmarks/launch_sample_size.py, link_table) -->"
LINK_END = "<!-- end: linking table -->"


def update_doc(study: dict, link: dict, doc: Path = DOC) -> None:
    """Rewrite the generated blocks of docs/launch.md: the study's tables, the linking table and
    the blueprint table."""
    text = _replace(doc.read_text(encoding="utf-8"), BEGIN, END, markdown(study))
    text = _replace(text, LINK_BEGIN, LINK_END, f"{LINK_BEGIN}\n\n{link_table(link)}\n{LINK_END}")
    text = _replace(text, BP_BEGIN, BP_END, f"{BP_BEGIN}\n\n{blueprint_table()}\n{BP_END}")
    doc.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one replication, N in 100, 300, 1000 (≈ 20 s)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--markdown", type=Path, help="write the tables of docs/launch.md to this file")
    ap.add_argument("--update-doc", action="store_true", help="rewrite the generated block of docs/launch.md")
    ap.add_argument("--from-json", type=Path, help="no simulation: the tables from a saved --json output")
    args = ap.parse_args()
    started = time.perf_counter()
    if args.from_json:
        study = json.loads(args.from_json.read_text(encoding="utf-8"))["precision"]
    elif args.quick:
        study = precision_study(sizes=(100, 300, 1000), reps={"complete": 1, "pretest": 1}, extra={})
    else:
        study = precision_study()
    link = provisional_link_study()
    out = {
        "settings": {"seed": SEED, "form_length": FORM_LENGTH, "pretest_items": N_PRETEST,
                     "pretest_per_candidate": PRETEST_PER_CANDIDATE, "replications": REPLICATIONS,
                     "sizes": SIZES, "extra_sizes": {m.value: v for m, v in EXTRA_SIZES.items()},
                     "quick": args.quick, "truth": "a ~ lognormal(log 1.2, 0.25), b ~ U(-2, 2), "
                     "c ~ U(0, 0.25), theta ~ N(0, 1)", "priors": "Priors() (the EM's defaults)"},
        "precision": study,
        "provisional_link": link,
        "blueprints": blueprint_needs(),
    }
    out["seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(out, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(markdown(study) + "\n\n" + link_table(link) + "\n" + blueprint_table(), encoding="utf-8")
    if args.update_doc:
        update_doc(study, link)


if __name__ == "__main__":
    main()
