"""Issue 18: a proctor reaches the paper forms only of the exams assigned to them, and keys
and IRT parameters reach only admins (and, as a printed key, the proctor of the exam)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient

from examengine.app import create_app
from examengine.config import Settings
from tests.conftest import REPO, sign_in

DEMO = 1  # the demo exam `examengine init` creates (530046-L1), not assigned to the proctor below


@pytest.fixture
def two_clients(bank_db_url, l1_forms):
    """(an admin, a proctor who runs an exam of their own but not the demo exam), and the forms."""
    app = create_app(Settings(database_url=bank_db_url, data_dir=REPO))
    admin = TestClient(app, headers={"origin": "http://testserver"})
    proctor = TestClient(app, headers={"origin": "http://testserver"}, follow_redirects=False)
    with admin, proctor:
        sign_in(admin, bank_db_url, "adm-forms", "admin")
        sign_in(proctor, bank_db_url, "p-other", "proctor")
        own = proctor.post("/api/v1/exams", json={"blueprint": "530046-L1", "name": "本人考试"}).json()["id"]
        yield admin, proctor, own, l1_forms


def _answers(ticket: str, form, key_of) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["准考证号", "试卷", "答案"])
    w.writerow([ticket, form.code, ",".join(key_of(it) for it in form.items)])
    return buf.getvalue().encode()


def test_a_proctor_cannot_print_sheets_of_an_exam_not_theirs(two_clients):
    admin, proctor, own, asm = two_clients
    form = asm.forms[0].id
    assert proctor.get(f"/api/v1/exams/{DEMO}").status_code == 403
    r = proctor.get(f"/api/v1/forms/{form}/sheets.pdf", params={"exam": DEMO})
    assert r.status_code == 403, r.status_code
    assert proctor.get(f"/proctor/forms/{form}/sheets.pdf", params={"exam": DEMO}).status_code == 403
    # their own exam prints
    assert proctor.get(f"/api/v1/forms/{form}/sheets.pdf", params={"exam": own}).status_code == 200
    assert admin.get(f"/api/v1/forms/{form}/sheets.pdf", params={"exam": DEMO}).status_code == 200


def test_a_proctor_cannot_read_or_write_paper_results_of_an_exam_not_theirs(two_clients):
    admin, proctor, own, asm = two_clients
    form = asm.forms[0]
    assert admin.get(f"/api/v1/forms/{form.id}/sheets.pdf", params={"exam": DEMO}).status_code == 200  # form used
    ticket = admin.get(f"/api/v1/exams/{DEMO}/tickets").json()[0]["ticket"]
    data = _answers(ticket, form, lambda it: "A")
    r = proctor.post(f"/api/v1/exams/{DEMO}/paper-results", files={"file": ("a.csv", data)})
    assert r.status_code == 403, r.text
    assert proctor.get(f"/api/v1/exams/{DEMO}/paper-results").status_code == 403
    r = proctor.post("/proctor/forms/score", data={"exam": str(DEMO)}, files={"file": ("a.csv", data)})
    assert r.status_code == 403
    assert admin.get(f"/api/v1/exams/{DEMO}/paper-results").json() == []  # nothing was written
    r = admin.post(f"/api/v1/exams/{DEMO}/paper-results", files={"file": ("a.csv", data)})
    assert r.status_code == 200 and r.json()["added"] == 1


def test_the_forms_pages_list_only_the_proctors_own_exams(two_clients):
    admin, proctor, own, asm = two_clients
    for path in ("/proctor/forms", f"/proctor/forms/{asm.forms[0].id}"):
        page = proctor.get(path).text
        assert f'<option value="{own}">' in page
        assert f'<option value="{DEMO}">' not in page, path
    assert f'<option value="{DEMO}">' in admin.get("/proctor/forms").text


def test_only_admins_assemble_forms(two_clients):
    admin, proctor, own, asm = two_clients
    body = {"blueprint": "530046-L1", "forms": 2, "length": 20}
    assert proctor.post("/api/v1/forms/assemble", json=body).status_code == 403
    r = proctor.post("/proctor/forms/assemble", data={"blueprint": "530046-L1", "forms": "2", "length": "20"})
    assert r.status_code == 403
    assert admin.post("/api/v1/forms/assemble", json=body).status_code == 200


def test_a_proctor_gets_no_keys_or_parameters_and_a_printed_key_only_for_their_exam(two_clients):
    admin, proctor, own, asm = two_clients
    form = asm.forms[0].id
    full = admin.get(f"/api/v1/forms/{form}").json()
    assert all(it["key"] and it["a"] is not None for it in full["items"])
    seen = proctor.get(f"/api/v1/forms/{form}").json()
    assert seen["items"] and all(it["key"] == [] and it["key_text"] == "" for it in seen["items"])
    assert all(it["a"] is None and it["b"] is None and it["c"] is None for it in seen["items"])
    keys = re.findall(r"<td>([^<]*)</td></tr>", proctor.get(f"/proctor/forms/{form}").text.split('id="items"')[1])
    assert len(keys) == asm.forms[0].length and set(keys) == {""}
    keys = re.findall(r"<td>([^<]*)</td></tr>", admin.get(f"/proctor/forms/{form}").text.split('id="items"')[1])
    assert "" not in keys
    for base in ("/api/v1/forms", "/proctor/forms"):
        assert proctor.get(f"{base}/{form}/key.pdf").status_code == 403, base
        assert proctor.get(f"{base}/{form}/key.pdf", params={"exam": DEMO}).status_code == 403, base
        r = proctor.get(f"{base}/{form}/key.pdf", params={"exam": own})
        assert r.status_code == 200 and r.content.startswith(b"%PDF"), base
    assert admin.get(f"/api/v1/forms/{form}/key.pdf").status_code == 200
