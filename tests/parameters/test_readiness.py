"""Where the bank's parameters come from, and whether a blueprint's pool can carry the adaptive
exam on calibrated parameters (issue 20, point 4): `examengine bank readiness`."""

from __future__ import annotations

import json
import math
from collections import Counter

import yaml
from sqlalchemy import select, update
from typer.testing import CliRunner

from examengine.cli import app as cli
from examengine.db.models import AttemptItem, Item, ItemVersion, Level
from examengine.exam.items import ParameterOrigin, parameter_origin, provisional_mark
from examengine.services.blueprints import get_blueprint_version, load_pool
from examengine.services.parameters import bank_readiness, provenances, versions_provisional_mark
from tests.calibration.seed import N_PRETEST, seed_responses
from tests.conftest import REPO


def test_a_stored_origin_is_provisional_calibrated_linked_or_imported():
    assert parameter_origin("provisional") is ParameterOrigin.PROVISIONAL
    assert parameter_origin(" Provisional ") is ParameterOrigin.PROVISIONAL
    assert parameter_origin("calibration:3", ("pretest", False)) is ParameterOrigin.CALIBRATED
    assert parameter_origin("calibration:3", ("full", True)) is ParameterOrigin.LINKED
    assert parameter_origin("calibration:3", ("full", False)) is ParameterOrigin.CALIBRATED  # no anchors to link by
    assert parameter_origin("calibration:3", None) is ParameterOrigin.IMPORTED  # a run of another database
    assert parameter_origin("bilog-2025", None) is ParameterOrigin.IMPORTED
    mark = provisional_mark(["provisional", "calibration:1", "provisional", "bilog-2025"])
    assert (mark.n_items, mark.n_provisional, mark.provisional) == (4, 2, True)
    assert provisional_mark(["calibration:1"]).provisional is False


def test_an_imported_calibration_origin_is_not_taken_for_a_run_of_this_bank(bank_db):
    v1, v2 = bank_db.scalars(select(ItemVersion).order_by(ItemVersion.id).limit(2)).all()
    v1.irt_origin = "calibration:7"  # as an item set exported elsewhere carries it: no run 7 applied it here
    bank_db.commit()
    p = provenances(bank_db, [v1.id, v2.id])
    assert p[v1.id].origin is ParameterOrigin.IMPORTED and p[v1.id].run_id is None
    assert p[v1.id].text == "外部导入（calibration:7）"
    assert p[v2.id].origin is ParameterOrigin.PROVISIONAL and p[v2.id].text == "暂定参数"
    mark = versions_provisional_mark(bank_db, [v1.id, v2.id, v2.id])  # one entry per scored item
    assert (mark.n_items, mark.n_provisional) == (3, 2)


def _weights(code: str) -> dict[str, float]:
    return yaml.safe_load((REPO / "blueprints" / f"{code}.yaml").read_text(encoding="utf-8"))["domains"]


def test_the_sample_bank_is_not_ready_and_says_why_with_the_need_per_domain(bank_db, bank_db_url):
    data = seed_responses(bank_db, n_persons=40, n_operational=5)  # 6 items of 530046-L1 become pretest items
    r = bank_readiness(bank_db, blueprint="530046-L1")
    assert r.ready is False
    weights = _weights("530046-L1")
    assert [d.code for d in r.domains] == list(weights)
    for d in r.domains:
        assert d.need == math.ceil(40 * weights[d.code] / 0.25 - 1e-9)  # max length x weight / exposure cap
        assert d.calibrated == 0 and d.provisional == d.operational and d.gap == d.need
    assert r.operational == r.provisional == 204 - N_PRETEST
    assert "198 道题目中有 198 道仍是暂定参数" in r.reasons[0]
    assert len(r.reasons) == 1 + len(r.domains)  # every domain short
    # the pretest items and their responses, counted independently from the stored rows
    per_item = Counter(bank_db.scalars(select(AttemptItem.external_id).where(
        AttemptItem.external_id.in_(data["pretest"]), AttemptItem.score.is_not(None))))  # omitted: no score
    domain_of = {it.external_id: it.versions[0].requirements[0].requirement.code.rsplit(".", 2)[0]
                 for it in bank_db.scalars(select(Item).where(Item.external_id.in_(data["pretest"])))}
    for d in r.domains:
        counts = sorted(per_item[e] for e in data["pretest"] if domain_of[e] == d.code)
        assert d.pretest == len(counts)
        if counts:
            assert d.pretest_responses_min == counts[0]
            mid = len(counts) // 2
            assert d.pretest_responses_median == (counts[mid] if len(counts) % 2 else (counts[mid - 1] + counts[mid]) / 2)
    assert sum(d.pretest for d in r.domains) == N_PRETEST

    # the same through the CLI (exit 0 when not ready) and the API
    env = {"EXAMENGINE_DATABASE_URL": bank_db_url}
    out = CliRunner().invoke(cli, ["bank", "readiness", "--blueprint", "530046-L1", "--format", "json"], env=env)
    assert out.exit_code == 0, out.output
    body = json.loads(out.output)
    assert body["ready"] is False and body["blueprint"] == "530046-L1"
    assert [d["need"] for d in body["domains"]] == [d.need for d in r.domains]
    out = CliRunner().invoke(cli, ["bank", "readiness", "--blueprint", "530046-L1"], env=env)
    assert out.exit_code == 0 and "未就绪" in out.output


def test_a_calibrated_pool_large_enough_is_ready_and_a_short_domain_is_named(bank_db):
    level = bank_db.scalar(select(Level).where(Level.code == "530046-L1"))
    bank_db.execute(update(ItemVersion).where(ItemVersion.item_id.in_(select(Item.id).where(Item.level_id == level.id)))
                    .values(irt_origin="bilog-2025"))  # carried in from elsewhere: not provisional
    # (a bulk update leaves the bank revision alone: fine here, no pool of this database is cached yet)
    bank_db.commit()
    r = bank_readiness(bank_db, blueprint="530046-L1")
    assert r.ready is True and r.provisional == 0, r.reasons
    assert all(d.by_origin["imported"] == d.calibrated == d.operational >= d.need for d in r.domains)
    assert "均已校准" in r.reasons[0]
    # retire all but need - 2 items of the first domain: that domain is short by 2
    first = r.domains[0]
    _, bp = get_blueprint_version(bank_db, "530046-L1")
    bpool = load_pool(bank_db, bp)
    versions = [v for v, d in zip(bpool.version_ids, bpool.domains, strict=True) if d == first.code]
    assert len(versions) == first.operational
    for it in bank_db.scalars(select(Item).where(Item.id.in_(select(ItemVersion.item_id).where(
            ItemVersion.id.in_(versions[first.need - 2:]))))):
        it.status = "retired"  # through the ORM: the bank revision rises and the cached pool is rebuilt
    bank_db.commit()
    r = bank_readiness(bank_db, blueprint="530046-L1")
    assert r.ready is False and r.domains[0].gap == 2
    assert r.reasons == [r.reasons[0]] and f"{first.code}" in r.reasons[0] and "还差 2 道" in r.reasons[0]
