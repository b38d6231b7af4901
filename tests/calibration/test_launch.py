"""A programme's launch, whole (#20): items with provisional parameters, two linear forms taken
online by 1,000 simulated candidates of known ability, the first calibration of their stored
responses (``--mode initial``), the parameters applied, and an adaptive exam on them that recovers
the abilities of new candidates. Everything goes through the services the CLI and the API call."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from examengine.config import Settings
from examengine.db.models import AttemptItem, Item, ItemVersion, Level
from examengine.exam.items import LETTERS, ItemStatus
from examengine.irt.calibration import CalibrationModel
from examengine.services import attempts as att
from examengine.services import exams as exams_svc
from examengine.services import forms as forms_svc
from examengine.services import linear
from examengine.services.calibration import apply_run, run_calibration
from examengine.services.items import transition_item
from examengine.services.parameters import bank_readiness
from tests.conftest import load_edited_blueprint

ZONE = Settings().zone
N_LINEAR = 1000  # candidates on the linear forms (500 per form, alternating down the roster)
N_ADAPTIVE = 80  # new candidates on the adaptive exam


def _launch_blueprint(doc: dict) -> None:
    """530046-L1 as a centre runs it at launch: 30 items for everyone (no early stop on a thin
    pool), an exposure cap of 0.5 (its pool then needs ceil(30 × weight / 0.5) calibrated items
    per domain: 18, 15, 14, 14), no pretest slots."""
    doc["length"] = {"min": 30, "max": 30}
    doc["exposure"]["max_rate"] = 0.5
    doc["pretest"] = {"count": 0, "positions": []}


class Truth:
    """The simulated world: each item version's true 2PL parameters; answers drawn from them."""

    def __init__(self, versions: list[ItemVersion], rng: np.random.Generator) -> None:
        self.rng = rng
        # the writers' ratings order the items only roughly (N(0, 0.5²) apart from the truth), and
        # their scale is not the cohort's: the 初级 items, provisional b about −0.8, suit this
        # centre's candidates, θ ~ N(0, 1), a little better than the writers guessed (+0.8)
        shift = 0.8
        self.a = {v.id: float(rng.uniform(1.2, 2.2)) for v in versions}
        self.b = {v.id: float(v.irt_b + shift + rng.normal(0.0, 0.5)) for v in versions}
        self.versions = {v.id: v for v in versions}

    def labels(self, version_id: int, theta: float) -> list[str]:
        v = self.versions[version_id]
        p = 1.0 / (1.0 + np.exp(-self.a[version_id] * (theta - self.b[version_id])))
        key = [LETTERS[k] for k in v.key]
        if self.rng.random() < p:
            return key
        wrong = [LETTERS[k] for k in range(len(v.options)) if k not in v.key]
        return [wrong[0]] if v.type != "多选" else sorted({wrong[0], key[0]})


def _roster(db, exam_id: int, prefix: str, n: int) -> list[exams_svc.Ticket]:
    text = "准考证号,姓名\n" + "\n".join(f"{prefix}{i:04d},考生{i}" for i in range(n))
    exams_svc.import_roster(db, exam_id, "名单.csv", text.encode("utf-8"), actor="test")
    return exams_svc.tickets(db, exam_id)


def _take_linear(db, ticket: exams_svc.Ticket, theta: float, truth: Truth) -> att.Finished:
    attempt = att.get_attempt(db, att.sign_in(db, ticket.ticket, ticket.access_code, zone=ZONE).attempt_id)
    linear.start(db, attempt)
    linear.save_answers(db, attempt, {r.position: truth.labels(r.item_version_id, theta) for r in attempt.items})
    return linear.submit(db, attempt)


def _take_adaptive(db, ticket: exams_svc.Ticket, theta: float, truth: Truth) -> float:
    attempt = att.get_attempt(db, att.sign_in(db, ticket.ticket, ticket.access_code, zone=ZONE).attempt_id)
    att.start(db, attempt)
    shown = att.pending(db, attempt)
    while isinstance(shown, att.ItemForCandidate):
        version_id = db.get(AttemptItem, int(shown.item_id[1:])).item_version_id
        shown = att.answer(db, attempt, position=shown.position, item_id=shown.item_id,
                           labels=truth.labels(version_id, theta)).next
    assert shown.status == "finished", shown
    return attempt.theta


def test_a_programme_launches_from_provisional_items_to_a_calibrated_adaptive_exam(bank_db, bank_db_url, tmp_path,
                                                                                    monkeypatch, sqlite_only):
    db, rng = bank_db, np.random.default_rng(2027)
    seeds = np.random.default_rng(7)  # the attempts' seeds (secrets.randbits in production), pinned
    monkeypatch.setattr(att.secrets, "randbits", lambda k: int(seeds.integers(2 ** k)))
    load_edited_blueprint(bank_db_url, tmp_path, "530046-L1", _launch_blueprint)
    level = db.scalar(select(Level).where(Level.code == "530046-L1"))
    versions = list(db.scalars(select(ItemVersion).join(Item, ItemVersion.item_id == Item.id)
                               .where(Item.level_id == level.id, ItemVersion.number == Item.current_version)))
    assert {v.irt_origin for v in versions} == {"provisional"}
    truth = Truth(versions, rng)
    before = bank_readiness(db, blueprint="530046-L1")
    assert not before.ready and before.provisional == before.operational == len(versions)
    assert any("暂定" in r for r in before.reasons), before.reasons
    assert [d.need for d in before.domains] == [18, 15, 14, 14]

    # 1. two parallel linear forms of 40, no item shared; exams delivering them online
    assembly = forms_svc.assemble(db, blueprint="530046-L1", n_forms=2, length=40, actor="test", seed=5)
    forms = [forms_svc.form_view(db, f.id) for f in assembly.forms]
    on_forms = {it.item_id for f in forms for it in f.items}
    assert len(on_forms) == 80
    # results wait for the calibration (policy release): no candidate sees a result scored on guesses
    exams = [exams_svc.create_exam(db, form_id=f.id, name=f"上线试卷 {f.code}", actor="test", zone=ZONE,
                                   results_policy="release") for f in forms]
    tickets = [_roster(db, e.id, f"L{k}", N_LINEAR // 2) for k, e in enumerate(exams)]

    # 2. 1,000 candidates of known ability, alternating between the forms (randomly equivalent groups)
    thetas = rng.normal(0.0, 1.0, N_LINEAR)
    for i, theta in enumerate(thetas):
        out = _take_linear(db, tickets[i % 2][i // 2], float(theta), truth)
        assert out.status == "finished"
    linear_results = [a for e in exams for a in db.scalars(select(att.Attempt).where(att.Attempt.exam_id == e.id))]
    assert all(a.result["provisional"] and a.result["n_provisional"] == 40 for a in linear_results)

    # 3. the items no form gave have no data: retired, so the adaptive pool is what was calibrated
    for it in db.scalars(select(Item).where(Item.level_id == level.id, Item.external_id.not_in(on_forms))):
        transition_item(db, it.external_id, ItemStatus.RETIRED, actor="test", note="上线时未施测")

    # 4. the first calibration: every item estimated, the scale set by the cohort; then applied
    run = run_calibration(db, scope="530046-L1", mode="initial", model=CalibrationModel.TWO_PL, actor="test")
    assert run.converged and run.n_persons == N_LINEAR and len(run.estimates) == 80
    version_of = {it.external_id: v.id for v, it in db.execute(
        select(ItemVersion, Item).join(Item, ItemVersion.item_id == Item.id).where(Item.level_id == level.id))}
    est = {version_of[e.external_id]: e for e in run.estimates}
    err_b = np.array([est[v].b - truth.b[v] for v in est])
    prov_b = np.array([truth.versions[v].irt_b - truth.b[v] for v in est])
    assert np.sqrt(np.mean(err_b ** 2)) < 0.25 < np.sqrt(np.mean(prov_b ** 2))  # data beat the guesses
    assert np.mean(np.abs(err_b) <= 0.2) >= 0.6
    rep = apply_run(db, run.id, actor="test")
    assert len(rep.applied) == 80 and not rep.skipped
    after = bank_readiness(db, blueprint="530046-L1")
    assert after.ready and after.provisional == 0 and after.operational == 80 and "均已校准" in after.reasons[0]
    assert all(d.calibrated >= d.need and d.gap == 0 for d in after.domains)
    # the linear results, scored on guesses, are re-scored on the calibrated parameters: no longer 暂定
    changed = att.rescore(db, exam_id=exams[0].id, apply=True, actor="test")
    assert len(changed) == N_LINEAR // 2 and all(c.provisional_before and not c.provisional_after for c in changed)

    # 5. an adaptive exam on the applied parameters recovers new candidates' abilities
    adaptive = exams_svc.create_exam(db, blueprint="530046-L1", name="自适应考试", actor="test", zone=ZONE)
    new = rng.normal(0.0, 1.0, N_ADAPTIVE)
    cands = _roster(db, adaptive.id, "A", N_ADAPTIVE)
    estimates = np.array([_take_adaptive(db, cands[i], float(t), truth) for i, t in enumerate(new)])
    rmse = float(np.sqrt(np.mean((estimates - new) ** 2)))
    assert rmse <= 0.35, rmse
