"""Nothing that helps a candidate cheat reaches the candidate: a whole exam through the API and
through the pages, with every byte received searched for keys, explanations, parameters,
requirement codes and item ids."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from examengine.db.models import AttemptItem, Item, ItemVersion, ItemVersionRequirement, Requirement
from tests.attempts.conftest import Simulee, sign_in


def secrets_of(db, attempt_id: int) -> set[str]:
    """Strings that must never reach the candidate: explanations, item ids, requirement codes
    and the IRT parameters of every item shown, written as the database holds them."""
    out: set[str] = set()
    rows = db.scalars(select(AttemptItem).where(AttemptItem.attempt_id == attempt_id)).all()
    for r in rows:
        v = db.get(ItemVersion, r.item_version_id)
        if v.explanation:
            out.add(v.explanation)
        out.add(r.external_id)
        out.update(repr(x) for x in (v.irt_a, v.irt_b, v.irt_c) if len(repr(x)) >= 5)
        codes = db.scalars(select(Requirement.code).join(ItemVersionRequirement)
                           .where(ItemVersionRequirement.version_id == v.id)).all()
        out.update(codes)
    return out


FORBIDDEN_FIELDS = re.compile(r'"(key|explanation|irt|irt_[abc]|a|b|c|requirements|exposure|external_id|score_key|'
                              r'correct)"\s*:')


def test_a_whole_exam_through_the_api_leaks_nothing(api, exam, bank_db):
    _, tickets = exam
    received: list[str] = []

    def keep(r):
        received.append(r.text)
        return r

    aid, h = sign_in(api, tickets[0])
    simulee = Simulee(bank_db, 0.5, seed=1)
    item = keep(api.get(f"/api/v1/attempts/{aid}/item", headers=h)).json()
    while not item.get("finished"):
        keep(api.post(f"/api/v1/attempts/{aid}/answers", headers=h,
                      json={"position": item["position"] + 5, "item_id": item["item_id"], "answer": ["A"]}))  # a 409
        keep(api.post(f"/api/v1/attempts/{aid}/answers", headers=h,
                      json={"position": item["position"], "item_id": item["item_id"], "answer": []}))  # a 400
        item = keep(api.post(f"/api/v1/attempts/{aid}/answers", headers=h,
                             json={"position": item["position"], "item_id": item["item_id"],
                                   "answer": simulee.answer(item)})).json()
    keep(api.get(f"/api/v1/attempts/{aid}/result", headers=h))
    keep(api.get(f"/api/v1/attempts/{aid}", headers=h))
    keep(api.get(f"/api/v1/attempts/{aid + 1}/item", headers=h))  # someone else's attempt: 401
    everything = "\n".join(received)
    for secret in secrets_of(bank_db, aid):
        assert secret not in everything, secret
    assert not FORBIDDEN_FIELDS.search(everything), FORBIDDEN_FIELDS.search(everything)
    assert "Traceback" not in everything


def test_a_whole_exam_through_the_pages_leaks_nothing(api, exam, bank_db):
    _, tickets = exam
    t = tickets[1]
    pages = [api.post("/exam/login", data={"ticket": t["ticket"], "code": t["access_code"]}).text]
    pages.append(api.post("/exam/start", data={"agree": "1"}).text)
    for _ in range(60):
        page = api.get("/exam/item")
        pages.append(page.text)
        if "/exam/result" in str(page.url):
            break
        position = re.search(r'name="position" value="(\d+)"', page.text).group(1)
        item_id = re.search(r'name="item_id" value="([^"]+)"', page.text).group(1)
        labels = ["A", "B"] if 'type="checkbox"' in page.text else ["A"]
        body = {"position": position, "item_id": item_id, "answer": labels}
        pages.append(api.post("/exam/answer", data=body).text)  # 提交本题: the confirmation page
        pages.append(api.post("/exam/answer", data={**body, "confirm": "1"}).text)  # 确认提交
        pages.append(api.post("/exam/answer", data={"position": position, "item_id": item_id, "confirm": "1"}).text)
    aid = bank_db.scalars(select(AttemptItem.attempt_id).order_by(AttemptItem.id.desc())).first()
    everything = "\n".join(pages)
    assert "考试结束" in everything
    for secret in secrets_of(bank_db, aid):
        assert secret not in everything, secret
    assert not FORBIDDEN_FIELDS.search(everything)


def test_items_of_an_exam_not_yet_open_are_invisible(api, bank_db):
    from datetime import UTC, datetime, timedelta

    from tests.attempts.conftest import roster_csv

    start = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    e = api.post("/api/v1/exams", json={"blueprint": "560003-L3", "window_start": start}).json()
    api.post(f"/api/v1/exams/{e['id']}/roster", files={"file": ("r.csv", roster_csv(1, "F"))})
    [t] = api.get(f"/api/v1/exams/{e['id']}/tickets").json()
    r = api.post("/api/v1/attempts", json={"ticket": t["ticket"], "code": t["access_code"]})
    assert r.status_code == 403 and "尚未开始" in r.json()["message"]
    assert "token" not in r.json()
    n_items = len(bank_db.scalars(select(Item)).all())
    assert n_items > 0 and bank_db.scalars(select(AttemptItem)).all() == []
    assert json.dumps(r.json(), ensure_ascii=False).count("560003-L3-") == 0
