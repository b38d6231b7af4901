"""Paper scoring, form assembly and printing are audited like every other staff action (issue 21,
point 5): who, what (form.assemble, form.print, paper.score), on what, and a short summary."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from typer.testing import CliRunner

from examengine.cli import app
from examengine.config import Settings
from examengine.errors import DataFileError
from examengine.services import audit
from examengine.services import forms as svc
from tests.conftest import REPO, staff_client
from tests.forms.test_scoring import answer_string

DEMO = 1


def _entries(db, action: str) -> list[audit.AuditEntry]:
    db.expire_all()
    return [e for e in audit.read(db, action=action) if e.action == action]


def test_an_assembly_is_audited_with_its_forms_and_request(bank_db, l1_forms):
    (e,) = _entries(bank_db, "form.assemble")
    assert (e.actor, e.target) == ("test", f"assembly {l1_forms.id}")
    assert e.after["forms"] == {f.code: f.id for f in l1_forms.forms}
    assert e.after["blueprint"] == "530046-L1 v1"
    assert {k: e.after[k] for k in ("length", "max_overlap", "seed", "avoid_recent")} == {
        "length": 20, "max_overlap": 0, "seed": 3, "avoid_recent": 0}
    assert e.after["status"] in ("optimal", "time_limit") and e.after["max_difference"] <= 0.03


def test_assembly_and_printing_through_the_api_and_pages_are_audited_under_the_member(bank_db_url, bank_db):
    c = staff_client(Settings(database_url=bank_db_url, data_dir=REPO), "印卷员", "admin")
    try:
        r = c.post("/api/v1/forms/assemble", json={"blueprint": "530046-L1", "forms": 2, "length": 12, "seed": 2})
        assert r.status_code == 200, r.text
        a, b = (f["id"] for f in r.json()["forms"])
        assert c.get(f"/proctor/forms/{a}/key.pdf").status_code == 200
        assert c.get(f"/api/v1/forms/{a}/sheets.pdf", params={"exam": DEMO, "blank": 2}).status_code == 200
        assert c.get(f"/api/v1/forms/{b}/key.pdf", params={"exam": DEMO}).status_code == 200
    finally:
        c.__exit__(None, None, None)
    (asm,) = _entries(bank_db, "form.assemble")
    assert asm.actor == "印卷员" and asm.after["seed"] == 2 and asm.after["length"] == 12
    prints = list(reversed(_entries(bank_db, "form.print")))  # oldest first
    assert [(e.actor, e.target) for e in prints] == [("印卷员", f"form {a}")] * 2 + [("印卷员", f"form {b}")]
    key, sheets, key_b = (e.after for e in prints)
    assert (key["documents"], key["exam"], key["sheets"], key["first_print"]) == (["key"], None, 0, True)
    # the demo roster's five candidates and two blank sheets; the form was printed before
    assert (sheets["documents"], sheets["exam"], sheets["sheets"], sheets["blank_sheets"], sheets["first_print"]) == (
        ["sheets"], DEMO, 7, 2, False)
    assert (key_b["form"], key_b["exam"], key_b["first_print"]) == ("B", DEMO, True)


def test_printing_and_scoring_from_the_cli_are_audited_with_the_file_and_its_digest(
        bank_db_url, bank_db, l1_forms, monkeypatch, tmp_path):
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", bank_db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    runner = CliRunner()
    a = l1_forms.forms[0]
    r = runner.invoke(app, ["forms", "print", str(a.id), "--key", str(tmp_path / "k.pdf"), "--roster", str(DEMO),
                            "--as", "张老师"])
    assert r.exit_code == 0, r.output
    (printed,) = _entries(bank_db, "form.print")
    assert (printed.actor, printed.target, printed.after["documents"], printed.after["exam"]) == (
        "张老师", f"form {a.id}", ["key"], DEMO)
    rng = np.random.default_rng(2)
    data = ("准考证号,试卷,答案\n" + "".join(f'{t},A,"{answer_string(a, rng, 0.7)}"\n'
                                          for t in ("DEMO0001", "DEMO0002"))).encode()
    path = tmp_path / "第一考场.csv"
    path.write_bytes(data)
    for _ in range(2):  # scored, then scored again: two entries, the second updating
        r = runner.invoke(app, ["forms", "score", str(DEMO), str(path), "--as", "阅卷员"])
        assert r.exit_code == 0, r.output
    second, first = _entries(bank_db, "paper.score")
    assert (first.actor, first.target) == ("阅卷员", f"exam {DEMO}")
    assert first.after["file"] == "第一考场.csv" and first.after["sha256"] == hashlib.sha256(data).hexdigest()
    assert (first.after["added"], first.after["updated"], first.after["forms"]) == (2, 0, ["A"])
    assert (second.after["added"], second.after["updated"]) == (0, 2)


def test_a_file_with_a_bad_row_scores_nothing_and_audits_nothing(bank_db, l1_forms):
    svc.print_form(bank_db, l1_forms.forms[0].id, booklet=False, sheets=False, key=True, exam_id=DEMO, actor="test")
    with pytest.raises(DataFileError):
        svc.score_paper(bank_db, DEMO, "坏.csv", "准考证号,试卷,答案\nNOBODY,A,\"A\"\n".encode(), actor="阅卷员")
    bank_db.rollback()
    assert _entries(bank_db, "paper.score") == []
