from __future__ import annotations

import pytest

from examengine.services import forms as svc


@pytest.fixture
def l1_forms(bank_db):
    """Two parallel 20-item forms of 530046-L1 (the demo exam's blueprint), seed 3."""
    return svc.assemble(bank_db, blueprint="530046-L1", n_forms=2, length=20, actor="test", seed=3)


def pytest_configure(config):
    config.addinivalue_line("markers", "documents(*names): which PDFs the `printed` fixture renders")
