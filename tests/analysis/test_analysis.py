"""Fairness analyses on a stored exam and on CSV matrices (issue #22): roster groups, DIF and
person fit through the services, the admin API and the CLI; groups stay with admins."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from sqlalchemy import insert, select
from typer.testing import CliRunner

from examengine.cli import app as cli_app
from examengine.config import Settings
from examengine.db.models import Attempt, AttemptItem, Candidate, Exam, Item, Level
from examengine.errors import DataFileError, ExamEngineError
from examengine.exam.items import LETTERS
from examengine.services import analysis
from examengine.services.exams import (
    candidate_groups,
    create_exam,
    import_roster,
    tickets_csv,
)
from tests.conftest import REPO, staff_client

runner = CliRunner()
N_PER_GROUP = 300
N_ITEMS = 15


def seed_exam(db, seed: int = 7) -> dict:
    """A finished exam on 530046-L1: 300 女 (focal, 0.3 lower) and 300 男 candidates, 15 of
    the level's operational items each (answered from the bank's 3PL parameters, stored theta
    = true theta); the first item is 1.2 logits harder for 女 (planted DIF); candidates 0-29 of
    each group knew the 5 hardest items (all right: planted pre-knowledge)."""
    rng = np.random.default_rng(seed)
    level = db.scalar(select(Level).where(Level.code == "530046-L1"))
    items = db.scalars(select(Item).where(Item.level_id == level.id).order_by(Item.external_id)).all()
    versions = [next(v for v in it.versions if v.number == it.current_version) for it in items]
    exam = create_exam(db, blueprint="530046-L1", name="公平性分析", actor="test", zone=Settings().zone)
    n = 2 * N_PER_GROUP
    sex = ["女"] * N_PER_GROUP + ["男"] * N_PER_GROUP
    theta = rng.normal(size=n) - 0.3 * np.array([s == "女" for s in sex])
    db.execute(insert(Candidate), [{"exam_id": exam.id, "ticket": f"G{i:04d}", "name": f"考生{i}", "access_code": "x",
                                    "groups": {"性别": sex[i], "地区": "华东"}} for i in range(n)])
    cand_ids = db.scalars(select(Candidate.id).where(Candidate.exam_id == exam.id).order_by(Candidate.ticket)).all()
    bp_id = db.get(Exam, exam.id).blueprint_version_id
    db.execute(insert(Attempt), [{"exam_id": exam.id, "candidate_id": cid, "blueprint_version_id": bp_id, "seed": i,
                                  "cuts": [], "status": "finished", "token_hash": f"g{i}", "theta": float(theta[i])}
                                 for i, cid in enumerate(cand_ids)])
    att_ids = db.scalars(select(Attempt.id).where(Attempt.exam_id == exam.id).order_by(Attempt.seed)).all()
    pool = versions[:40]
    dif_item = pool[0]
    hardest = sorted(pool, key=lambda v: -v.irt_b)[:5]
    knowers = set(range(30)) | set(range(N_PER_GROUP, N_PER_GROUP + 30))
    rows = []
    for p, aid in enumerate(att_ids):
        shown = [dif_item] + [pool[j] for j in rng.choice(np.arange(1, 40), N_ITEMS - 1, replace=False)]
        if p in knowers:
            shown = [dif_item] + [v for v in shown[1:] if v not in hardest][:N_ITEMS - 6] + hardest
        for pos, v in enumerate(shown, start=1):
            b = v.irt_b + (1.2 if (v is dif_item and sex[p] == "女") else 0.0)
            prob = v.irt_c + (1 - v.irt_c) / (1 + np.exp(-v.irt_a * (theta[p] - b)))
            right = bool(rng.random() < prob) or (p in knowers and v in hardest)
            rows.append({"attempt_id": aid, "position": pos, "item_version_id": v.id,
                         "external_id": items[versions.index(v)].external_id, "scored": True, "set_aside": [],
                         "answer": [LETTERS[k] for k in v.key] if right else ["Z"], "score": int(right)})
    db.execute(insert(AttemptItem), rows)
    db.commit()
    return {"exam_id": exam.id, "dif_item": items[0].external_id, "knowers": sorted(f"G{i:04d}" for i in knowers),
            "hardest": {v.id for v in hardest}}


@pytest.fixture
def seeded(bank_db):
    return seed_exam(bank_db)


def test_exam_dif_matches_on_theta_and_flags_the_planted_item_only(bank_db, seeded):
    r = analysis.dif_exam(bank_db, seeded["exam_id"], group="性别", focal="女", reference="男")
    assert r.matching == "theta" and "Zwick" in r.matching_label
    assert (r.n_focal, r.n_reference) == (N_PER_GROUP, N_PER_GROUP)
    by_item = {row.item: row for row in r.rows}
    planted = by_item[seeded["dif_item"]]
    assert planted.ets_class in ("B", "C") and planted.favours == "reference" and planted.mh_d_dif < -1
    assert planted.lr_uniform_p < 1e-4
    others = [row for row in r.rows if row.item != seeded["dif_item"] and row.ets_class is not None]
    assert sum(row.ets_class == "A" for row in others) >= 0.85 * len(others)


def test_exam_person_fit_flags_the_planted_pre_knowledge(bank_db, seeded):
    r = analysis.person_fit_exam(bank_db, seeded["exam_id"])
    assert r.estimator == "wle" and r.n_persons == 2 * N_PER_GROUP
    lz = {row.person: row.lz_star for row in r.rows}
    knowers = [lz[t] for t in seeded["knowers"]]
    others = [v for t, v in lz.items() if t not in seeded["knowers"] and v is not None]
    assert np.mean(knowers) < np.mean(others) - 1.0
    flagged = {row.person for row in r.rows if row.flag}
    assert len(flagged & set(seeded["knowers"])) / len(knowers) > 3 * len(flagged - set(seeded["knowers"])) / len(others)


def test_an_unknown_group_value_is_an_error_naming_the_values_there_are(bank_db, seeded):
    with pytest.raises(ExamEngineError, match="已有的值：女、男"):
        analysis.dif_exam(bank_db, seeded["exam_id"], group="性别", focal="其他", reference="男")


def test_the_api_gives_admins_dif_and_person_fit_and_refuses_proctors(bank_db_url, bank_db, seeded):
    s = Settings(database_url=bank_db_url, data_dir=REPO)
    eid = seeded["exam_id"]
    with staff_client(s) as c:
        r = c.get(f"/api/v1/exams/{eid}/dif", params={"group": "性别", "focal": "女", "reference": "男"})
        assert r.status_code == 200, r.text
        row = next(x for x in r.json()["rows"] if x["item"] == seeded["dif_item"])
        assert {"item", "n_reference", "n_focal", "mh_alpha", "mh_d_dif", "se", "ets_class", "p_value",
                "lr_uniform_p", "lr_nonuniform_p", "effect_size"} <= set(row)
        fit = c.get(f"/api/v1/exams/{eid}/person-fit", params={"alpha": 0.01}).json()
        assert {"person", "theta", "lz_star", "p_value", "flag"} <= set(fit["rows"][0]) and fit["alpha"] == 0.01
        groups = c.get(f"/api/v1/exams/{eid}/groups").json()
        assert groups[0]["groups"] == {"性别": "女", "地区": "华东"}
        assert c.get("/api/v1/exams/99999/dif", params={"group": "g", "focal": "a", "reference": "b"}).status_code == 404
        # the proctors' views of the same exam (an admin may open them all) never show a group
        for path in (f"/api/v1/exams/{eid}", f"/api/v1/exams/{eid}/tickets", f"/api/v1/exams/{eid}/attempts",
                     f"/api/v1/exams/{eid}/tickets?format=csv", f"/proctor/exams/{eid}", f"/proctor/exams/{eid}/live",
                     f"/proctor/exams/{eid}/tickets"):
            r = c.get(path)
            assert r.status_code == 200, path
            assert "华东" not in r.text and "性别" not in r.text, path
            if "tickets" in path or "attempts" in path:
                assert "G0000" in r.text, path  # the candidates are listed, without their groups
    with staff_client(s, "proctor-dif", "proctor") as c:
        for path in ("dif?group=性别&focal=女&reference=男", "person-fit", "groups"):
            assert c.get(f"/api/v1/exams/{eid}/{path}").status_code == 403


def test_the_cli_prints_json_rows_with_the_issue_s_fields(bank_db_url, seeded, monkeypatch):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    r = runner.invoke(cli_app, ["analysis", "dif", "--exam", str(seeded["exam_id"]), "--group-column", "性别",
                                "--focal", "女", "--reference", "男", "--format", "json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["matching"] == "theta" and len(out["rows"]) == 40
    r = runner.invoke(cli_app, ["analysis", "person-fit", "--exam", str(seeded["exam_id"]), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert set(json.loads(r.output)["rows"][0]) >= {"person", "theta", "lz_star", "p_value", "flag"}
    r = runner.invoke(cli_app, ["analysis", "dif", "--exam", str(seeded["exam_id"]), "--group-column", "性别",
                                "--focal", "女", "--reference", "男"])
    assert r.exit_code == 0 and "匹配：θ̂ 分层" in r.output and "B/C 类" in r.output


def _csv_matrix(tmp_path, sparse: bool):
    rng = np.random.default_rng(31)
    n, j = 800, 12
    a, b = rng.uniform(0.8, 1.6, j), rng.normal(0, 0.8, j)
    g = np.repeat(["A", "B"], n // 2)
    theta = rng.normal(size=n) - 0.3 * (g == "B")
    bb = np.tile(b, (n, 1))
    bb[g == "B", 2] += 1.0
    u = (rng.random((n, j)) < 1 / (1 + np.exp(-a * (theta[:, None] - bb)))).astype(int)
    ids = [f"Q{k + 1}" for k in range(j)]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["考号", "组", *ids])
    shown = rng.random((n, j)) < (0.7 if sparse else 1.1)
    for p in range(n):
        w.writerow([f"P{p}", g[p], *[str(u[p, k]) if shown[p, k] else "" for k in range(j)]])
    path = tmp_path / "m.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    params = tmp_path / "p.csv"
    params.write_text("item,a,b,c,se_a,se_b,se_c\n" + "".join(f"{i},{x:.4f},{y:.4f},0,,,\n"
                                                              for i, x, y in zip(ids, a, b)), encoding="utf-8")
    return path, params


def test_a_complete_csv_matrix_matches_on_number_correct_and_finds_its_planted_item(tmp_path):
    path, _ = _csv_matrix(tmp_path, sparse=False)
    with pytest.raises(DataFileError, match="考号"):  # an id column not named is read as item responses
        analysis.dif_matrix(path.name, path.read_bytes(), group_column="组", focal="B", reference="A")
    r = analysis.dif_matrix(path.name, path.read_bytes(), group_column="组", focal="B", reference="A", id_column="考号")
    assert r.matching == "number_correct"
    assert [row.item for row in r.rows if row.ets_class != "A"] == ["Q3"]


def test_a_sparse_csv_matrix_matches_on_wle_theta_from_the_parameter_file_or_a_calibration(tmp_path):
    path, params = _csv_matrix(tmp_path, sparse=True)
    r = runner.invoke(cli_app, ["analysis", "dif", "--responses", str(path), "--group-column", "组", "--focal", "B",
                                "--reference", "A", "--id-column", "考号", "--params", str(params), "--format", "json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["matching"] == "theta" and "参数文件" in out["matching_label"]
    assert [row["item"] for row in out["rows"] if row["p_value"] < 0.001] == ["Q3"]
    fit = runner.invoke(cli_app, ["analysis", "person-fit", "--responses", str(path), "--params", str(params),
                                  "--id-column", "考号", "--ignore-column", "组", "--format", "json"])
    assert fit.exit_code == 0, fit.output
    rows = json.loads(fit.output)["rows"]
    assert rows[0]["person"] == "P0" and len(rows) == 800


def test_roster_group_columns_are_stored_for_admins_and_kept_off_tickets(bank_db):
    exam = create_exam(bank_db, blueprint="530046-L1", name="名单分组", actor="test", zone=Settings().zone)
    roster = "准考证号,姓名,考场,性别,院校类型,分组:民族,备注\nT1,张三,一,女,高职,汉,无\nT2,李四,一,男,,回,\n"
    report = import_roster(bank_db, exam.id, "名单.csv", roster.encode(), actor="test")
    assert report.added == 2
    groups = {g.ticket: g.groups for g in candidate_groups(bank_db, exam.id)}
    assert groups == {"T1": {"性别": "女", "院校类型": "高职", "民族": "汉"}, "T2": {"性别": "男", "民族": "回"}}
    text = tickets_csv(bank_db, exam.id, Settings().zone).decode("utf-8-sig")
    assert "女" not in text and "高职" not in text and "汉" not in text
    # a later roster without group columns keeps them; one with them replaces them
    import_roster(bank_db, exam.id, "名单.csv", "准考证号,姓名\nT1,张三\n".encode(), actor="test")
    assert candidate_groups(bank_db, exam.id)[0].groups["性别"] == "女"
    r = import_roster(bank_db, exam.id, "名单.csv", "准考证号,姓名,性别\nT1,张三,男\n".encode(), actor="test")
    assert r.updated == 1 and candidate_groups(bank_db, exam.id)[0].groups == {"性别": "男"}


def test_a_roster_group_value_too_long_is_named_by_row_and_column(bank_db):
    exam = create_exam(bank_db, blueprint="530046-L1", name="名单分组", actor="test", zone=Settings().zone)
    with pytest.raises(DataFileError) as exc:
        import_roster(bank_db, exam.id, "名单.csv", ("准考证号,姓名,地区\nT1,张三," + "长" * 51 + "\n").encode(),
                      actor="test")
    assert [(p.location, p.field) for p in exc.value.problems] == [("第 2 行", "地区")]
    assert bank_db.scalar(select(Candidate).where(Candidate.exam_id == exam.id)) is None


def test_the_fairness_page_shows_admins_the_dif_plot_and_the_flagged_attempts(bank_db_url, bank_db, seeded):
    s = Settings(database_url=bank_db_url, data_dir=REPO)
    eid = seeded["exam_id"]
    with staff_client(s) as c:
        page = c.get(f"/reports/fairness/{eid}")
        assert page.status_code == 200 and "性别（女、男）" in page.text and 'id="dif"' not in page.text
        page = c.get(f"/reports/fairness/{eid}", params={"group": "性别", "focal": "女", "reference": "男"})
        assert page.status_code == 200
        assert 'id="dif-chart"' in page.text and page.text.count("<circle") >= 30
        assert seeded["dif_item"] in page.text.split('id="dif"')[1].split("</tr>")[1]  # the first item row
        table = page.text.split('id="flagged"')[1]
        flagged = {r.person for r in analysis.person_fit_exam(bank_db, eid).rows if r.flag}
        assert flagged and all(f"<td>{t}</td>" in table for t in flagged)
        assert table.count("<tr>") == len(flagged) + 1
        bad = c.get(f"/reports/fairness/{eid}", params={"group": "性别", "focal": "X", "reference": "男"})
        assert bad.status_code == 200 and 'id="error"' in bad.text
    with staff_client(s, "proctor-page", "proctor") as c:
        assert c.get(f"/reports/fairness/{eid}").status_code == 403
