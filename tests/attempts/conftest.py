from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from examengine.config import Settings
from examengine.db.models import AttemptItem, ItemVersion
from tests.conftest import REPO


@pytest.fixture
def api(bank_db_url):
    from tests.conftest import staff_client

    c = staff_client(Settings(database_url=bank_db_url, data_dir=REPO))
    yield c
    c.__exit__(None, None, None)


def roster_csv(n: int, prefix: str = "T") -> bytes:
    rows = ["准考证号,姓名,身份证号后四位,考场"] + [f"{prefix}{i:04d},考生{i},{1000 + i},第一考场" for i in range(1, n + 1)]
    return ("\n".join(rows) + "\n").encode("utf-8")


@pytest.fixture
def exam(api):
    """An open exam on 530046-L1 with 6 candidates; returns (exam id, tickets)."""
    e = api.post("/api/v1/exams", json={"blueprint": "530046-L1", "name": "测试考试"}).json()
    r = api.post(f"/api/v1/exams/{e['id']}/roster", files={"file": ("名单.csv", roster_csv(6))})
    assert r.status_code == 200, r.text
    return e["id"], api.get(f"/api/v1/exams/{e['id']}/tickets").json()


def sign_in(api, ticket: dict) -> tuple[int, dict]:
    r = api.post("/api/v1/attempts", json={"ticket": ticket["ticket"], "code": ticket["access_code"]})
    assert r.status_code == 200, r.text
    return r.json()["attempt_id"], {"Authorization": f"Bearer {r.json()['token']}"}


class Simulee:
    """Answers like a 3PL candidate of ability theta, reading the key and parameters from the
    database (the test's oracle; the API never shows them)."""

    def __init__(self, db, theta: float, seed: int) -> None:
        self.db, self.theta, self.rng = db, theta, np.random.default_rng(seed)

    def answer(self, item: dict) -> list[str]:
        row = self.db.get(AttemptItem, int(item["item_id"][1:]))
        v = self.db.get(ItemVersion, row.item_version_id)
        p = v.irt_c + (1 - v.irt_c) / (1 + np.exp(-v.irt_a * (self.theta - v.irt_b)))
        letters = "ABCDEF"
        key = [letters[k] for k in v.key]
        if self.rng.random() < p:
            return key
        wrong = [letters[k] for k in range(len(v.options)) if k not in v.key]
        return [wrong[0]] if v.type != "多选" else [wrong[0], key[0]]


def take_exam(api, aid: int, headers: dict, simulee: Simulee) -> int:
    item = api.get(f"/api/v1/attempts/{aid}/item", headers=headers).json()
    n = 0
    while not item.get("finished"):
        n += 1
        r = api.post(f"/api/v1/attempts/{aid}/answers", headers=headers,
                     json={"position": item["position"], "item_id": item["item_id"], "answer": simulee.answer(item)})
        assert r.status_code == 200, r.text
        item = r.json()
        assert n < 100
    return n


def rows_of(db, aid: int) -> list[AttemptItem]:
    db.expire_all()
    return list(db.scalars(select(AttemptItem).where(AttemptItem.attempt_id == aid).order_by(AttemptItem.position)))


def pytest_collection_modifyitems(config, items):
    """A test module that sets ``ONLY_BACKEND = "postgresql"`` runs on that database backend
    only: its other backends' variants are deselected (not skipped); when that backend is not
    configured at all (no EXAMENGINE_TEST_POSTGRES_URL), its one variant is skipped and says why."""
    from tests.conftest import BACKENDS

    keep, drop = [], []
    for item in items:
        only = getattr(getattr(item, "module", None), "ONLY_BACKEND", None)
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec is not None else None
        if only is None or backend is None or backend == only:
            keep.append(item)
        elif only in BACKENDS:
            drop.append(item)
        else:
            item.add_marker(pytest.mark.skip(reason=f"needs {only}: set EXAMENGINE_TEST_POSTGRES_URL"))
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
