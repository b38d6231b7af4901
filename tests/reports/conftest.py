"""Stored responses and a calibration run for the report pages and the calibration API."""

from __future__ import annotations

import pytest

from examengine.config import Settings
from tests.calibration.seed import seed_responses
from tests.conftest import REPO, staff_client

N_PERSONS = 400


@pytest.fixture
def seeded(bank_db):
    """400 attempts on 530046-L1 (20 operational items each, 3 of 6 pretest items) and a
    stored pretest calibration run (2PL)."""
    from examengine.irt.calibration import CalibrationModel, PromotionCriteria
    from examengine.services.calibration import run_calibration

    info = seed_responses(bank_db, n_persons=N_PERSONS, n_operational=20)
    run = run_calibration(bank_db, scope="530046-L1", model=CalibrationModel.TWO_PL, mode="pretest", actor="测试员",
                          criteria=PromotionCriteria(min_responses=150))
    return {**info, "run": run}


@pytest.fixture
def bank_settings(bank_db_url) -> Settings:
    return Settings(database_url=bank_db_url, data_dir=REPO)


@pytest.fixture
def admin(bank_settings):
    c = staff_client(bank_settings, "校准管理员", "admin")
    yield c
    c.__exit__(None, None, None)
