"""Issue 24: exposure control on out of the box. `init` stores the Sympson-Hetter parameters
shipped in blueprints/exposure.json when they were calibrated on exactly the blueprint and the
operational pool in the database, and only then."""

from __future__ import annotations

import json

import numpy as np

from examengine.db.models import Item
from examengine.services.blueprints import get_blueprint_version, list_blueprints, load_pool
from examengine.services.mapping import stored_exposure
from examengine.services.simulation import exposure_digest, load_shipped_exposure
from tests.conftest import REPO

SHIPPED = json.loads((REPO / "blueprints" / "exposure.json").read_text(encoding="utf-8"))


def test_a_fresh_install_runs_every_shipped_blueprint_with_exposure_control(bank_db):
    summaries = list_blueprints(bank_db)
    assert len(summaries) == 6 and all(s.exposure_calibrated for s in summaries)
    for s in summaries:
        row, bp = get_blueprint_version(bank_db, s.code)
        pool = load_pool(bank_db, bp)
        params = stored_exposure(row, pool.pool)
        assert params is not None and params.k.shape == (pool.pool.n_items,)
        assert np.all((params.k > 0) & (params.k <= 1)) and np.any(params.k < 1)
        check = SHIPPED[s.code]["exposure"]["check"]
        # what the calibration promised: at the cap (within 2.5 binomial SDs of 1000 simulees), nobody runs out
        assert check["max_exposure"] <= bp.exposure_max_rate + 2.5 * np.sqrt(0.25 * 0.75 / 1000)
        assert check["exhausted_share"] <= 0.01


def test_parameters_calibrated_on_another_pool_are_not_stored(bank_db):
    row, bp = get_blueprint_version(bank_db, "530046-L1")
    row.exposure = {}
    bank_db.commit()
    item = bank_db.query(Item).filter_by(external_id="530046-L1-001").one()
    item.status = "retired"  # the pool changes: the shipped parameters no longer fit it
    bank_db.commit()
    assert exposure_digest(bp, load_pool(bank_db, bp)) != SHIPPED["530046-L1"]["digest"]
    result = load_shipped_exposure(bank_db, SHIPPED, ["530046-L1", "530046-L2"])
    assert [(r.code, r.action) for r in result] == [("530046-L1", "stale"), ("530046-L2", "kept")]
    assert not get_blueprint_version(bank_db, "530046-L1")[0].exposure
    item.status = "operational"
    bank_db.commit()
    assert [r.action for r in load_shipped_exposure(bank_db, SHIPPED, ["530046-L1"])] == ["stored"]
    assert get_blueprint_version(bank_db, "530046-L1")[0].exposure == SHIPPED["530046-L1"]["exposure"]
