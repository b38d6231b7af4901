"""A LOFT exam end to end (#20): created by the API and the CLI, each candidate's form drawn
when the clock starts and stored as a linear attempt's positions, the blueprint's pretest slots
holding unscored pretest items, answered, submitted and scored as a linear exam."""

from __future__ import annotations

import json
from collections import Counter
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from examengine.cli import app as cli_app
from examengine.cli import exams as exams_cli
from examengine.config import Settings
from examengine.db.models import Exam, Item, Level
from examengine.exam.forms import domain_targets, type_bounds
from examengine.services.blueprints import get_blueprint_version, load_pool
from tests.attempts.conftest import roster_csv, rows_of, sign_in
from tests.conftest import REPO

BLUEPRINT = "530046-L2"  # 40 items at most, pretest slots at positions 4 and 9


@pytest.fixture
def api(bank_db_url):
    from tests.conftest import staff_client

    c = staff_client(Settings(database_url=bank_db_url, data_dir=REPO))
    yield c
    c.__exit__(None, None, None)


def test_a_loft_exam_gives_each_candidate_a_form_of_the_blueprint_with_pretest_slots_and_scores_it(api, bank_db):
    level = bank_db.scalar(select(Level).where(Level.code == BLUEPRINT))
    pretest = list(bank_db.scalars(select(Item).where(Item.level_id == level.id).order_by(Item.external_id)))[:3]
    for it in pretest:
        it.status = "pretest"
    bank_db.commit()
    r = api.post("/api/v1/exams", json={"blueprint": BLUEPRINT, "mode": "loft", "name": "随机组卷考试"})
    assert r.status_code == 200, r.text
    e = r.json()
    assert (e["mode"], e["form_id"], e["blueprint"]) == ("loft", None, BLUEPRINT)
    assert api.post(f"/api/v1/exams/{e['id']}/roster", files={"file": ("名单.csv", roster_csv(2))}).status_code == 200
    tickets = api.get(f"/api/v1/exams/{e['id']}/tickets").json()
    _, bp = get_blueprint_version(bank_db, BLUEPRINT)
    bpool = load_pool(bank_db, bp)
    where = dict(zip(bpool.pool.item_ids, zip(bpool.domains, bpool.types)))
    forms = []
    for t in tickets:
        aid, h = sign_in(api, t)
        # before the start the overview says how long the exam will be (the draw is only read)
        assert api.get(f"/api/v1/attempts/{aid}/overview", headers=h).json()["n_items"] == bp.max_length + 2
        assert rows_of(bank_db, aid) == []
        assert api.get(f"/api/v1/attempts/{aid}/items/1", headers=h).status_code == 200  # starts: the form is drawn
        rows = rows_of(bank_db, aid)
        assert len(rows) == bp.max_length + 2 == api.get(f"/api/v1/attempts/{aid}/overview", headers=h).json()["n_items"]
        assert [r.position for r in rows if not r.scored] == [4, 9]
        assert {r.external_id for r in rows if not r.scored} <= {it.external_id for it in pretest}
        scored = [r.external_id for r in rows if r.scored]
        assert Counter(where[i][0] for i in scored) == Counter(domain_targets(bp, bp.max_length))
        have = Counter(where[i][1] for i in scored)
        assert all(lo <= have[t] <= hi for t, (lo, hi) in type_bounds(bp, bp.max_length).items())
        forms.append(frozenset(scored))
        # answered and submitted like a linear exam
        r = api.put(f"/api/v1/attempts/{aid}/items/3/answer", headers=h, json={"labels": ["A"]})
        assert r.status_code == 200 and r.json()["answered"] == 1
        r = api.post(f"/api/v1/attempts/{aid}/submit", headers=h)
        assert r.status_code == 200 and r.json()["finished"] is True
    assert forms[0] != forms[1]


def test_a_loft_exam_is_created_by_the_cli_and_contradicting_modes_are_refused_naming_the_field(
        api, bank_db, bank_db_url, monkeypatch):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    out = CliRunner().invoke(cli_app, ["exams", "create", "--blueprint", BLUEPRINT, "--mode", "loft",
                                       "--format", "json"])
    assert out.exit_code == 0, out.output
    e = json.loads(out.stdout)
    assert e["mode"] == "loft" and bank_db.get(Exam, e["id"]).mode == "loft"
    text = CliRunner().invoke(cli_app, ["exams", "create", "--blueprint", BLUEPRINT, "--mode", "loft"])
    assert "随机组卷" in text.output and "曝光参数" not in text.output
    r = api.post("/api/v1/exams", json={"blueprint": BLUEPRINT, "mode": "linear"})
    assert r.status_code == 422 and "form_id" in r.text
    r = api.post("/api/v1/exams", json={"blueprint": BLUEPRINT, "mode": "shuffled"})
    assert r.status_code == 422
    bad = CliRunner().invoke(cli_app, ["exams", "create", "--blueprint", BLUEPRINT, "--mode", "shuffled"])
    assert bad.exit_code == 1 and "mode" in bad.output
    # the proctor's page: 随机组卷 beside the forms
    assert 'value="loft"' in api.get("/proctor").text
    r = api.post("/proctor/exams", data={"blueprint": BLUEPRINT, "form_id": "loft", "name": "页面随机组卷"},
                 follow_redirects=False)
    assert r.status_code == 303
    assert bank_db.get(Exam, int(r.headers["location"].rsplit("/", 1)[1])).mode == "loft"
    # exams list says how each exam is delivered
    listed = CliRunner().invoke(cli_app, ["exams", "list", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    assert {"loft", "adaptive"} <= {x["mode"] for x in json.loads(listed.stdout)}
    assert exams_cli._mode_text(SimpleNamespace(mode="loft")) == "随机组卷"
    assert exams_cli._mode_text(SimpleNamespace(mode="linear", form_code="A", form_id=3)) == "固定试卷 A（3）"
